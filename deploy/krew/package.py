#!/usr/bin/env python3
"""Build the krew archive of the plugin and write its sha256 and URI into ``backup-auditor.yaml``.

    python deploy/krew/package.py [--out dist]

The archive holds ``kubectl-backup_auditor``, a launcher that runs the installed package
(``pip install backup-auditor``: the plugin is the package's own console script; krew only puts it on
PATH), and the LICENSE notice. It is reproducible: fixed owners, modes and times, so the manifest's
sha256 changes only when the launcher or the version does.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = Path(__file__).with_name("backup-auditor.yaml")
RELEASES = "https://github.com/backup-auditor/backup-auditor/releases/download"

LAUNCHER = """\
#!/bin/sh
# kubectl backup-auditor: runs the backup-auditor package (pip install backup-auditor) with kubectl's habits.
for python in "${BACKUP_AUDITOR_PYTHON:-}" python3 python; do
  if [ -n "$python" ] && "$python" -c 'import auditor.cli.kubectl' 2>/dev/null; then
    exec "$python" -m auditor.cli.kubectl "$@"
  fi
done
echo "kubectl backup-auditor: the backup-auditor package is not installed (pip install backup-auditor)" >&2
exit 1
"""
NOTICE = "backup-auditor is licensed under the Apache License 2.0.\n"


def version() -> str:
    text = (ROOT / "auditor" / "__init__.py").read_text()
    match = re.search(r'__version__\s*=\s*"([^"]+)"', text)
    if match is None:
        raise SystemExit("no __version__ in auditor/__init__.py")
    return match.group(1)


def archive_bytes() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, text, mode in (("kubectl-backup_auditor", LAUNCHER, 0o755), ("LICENSE", NOTICE, 0o644)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uid, info.gid, info.uname, info.gname = \
                len(data), mode, 0, 0, 0, "root", "root"
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def archive_name(v: str) -> str:
    return f"kubectl-backup_auditor-v{v}.tar.gz"


def update_manifest(text: str, v: str, sha256: str) -> str:
    text = re.sub(r"(?m)^(  version: ).*$", rf"\g<1>v{v}", text)
    text = re.sub(r"(?m)^(\s+uri: ).*$", rf"\g<1>{RELEASES}/v{v}/{archive_name(v)}", text)
    return re.sub(r"(?m)^(\s+sha256: ).*$", rf"\g<1>{sha256}", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--check", action="store_true", help="only check that the manifest is up to date")
    args = parser.parse_args()
    v, data = version(), archive_bytes()
    sha = hashlib.sha256(data).hexdigest()
    current = MANIFEST.read_text()
    wanted = update_manifest(current, v, sha)
    if args.check:
        if current != wanted:
            print(f"{MANIFEST} is out of date: run python deploy/krew/package.py", file=sys.stderr)
            return 1
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / archive_name(v)).write_bytes(data)
    MANIFEST.write_text(wanted)
    print(f"{args.out / archive_name(v)} sha256 {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
