"""The container image, built and run: a Debian bookworm base made from Debian's own packages (mmdebstrap, then
``podman import``; public registries are out of reach), the project's wheels built here, the Dockerfile built
with that base, and the image run as its non-root user with a read-only root filesystem and no network.

Caches: the base image, keyed by its package list, lives in a podman store of its own under the user's cache
directory (``$XDG_CACHE_HOME/backup-auditor-test``); the application image is keyed by a hash of the base, the
Dockerfile, .dockerignore and the sources, so unchanged reruns reuse it. From scratch (a fresh CI machine) the
test makes everything.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
#: python3-venv for the image's virtualenv; the rest are what the Dockerfile would otherwise fetch with apt-get
#: (it installs only what the base lacks, and the build here runs without a network).
BASE_PACKAGES = ("python3", "python3-venv", "libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0",
                 "fonts-dejavu-core", "fontconfig", "etcd-client")
#: What these machines need to run containers: runc (crun cannot set the default rlimits here), cgroupfs (the
#: hybrid cgroup layout is refused), explicit rlimits.
RUNTIME = ("--runtime", "runc", "--cgroup-manager=cgroupfs")
LIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096")
USER = "10001:10001"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("podman") and shutil.which("mmdebstrap")),
                       reason="podman and mmdebstrap (scripts/debian-test-packages.txt) missing"),
    pytest.mark.skipif(os.geteuid() != 0, reason="rootful podman: the test runs as root, as CI does"),
]


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "backup-auditor-test"
    path.mkdir(parents=True, exist_ok=True)
    return path


def podman(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    store = cache_dir() / "podman"
    cmd = ["podman", "--root", str(store / "root"), "--runroot", str(store / "run"), *RUNTIME, *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and run.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {run.returncode}:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    return run


def run_image(image: str, *args: str, options: tuple[str, ...] = (), entrypoint: str | None = None,
              read_only: bool = True) -> subprocess.CompletedProcess[str]:
    """``podman run`` as the image's own user (no --user), offline, read-only unless told otherwise."""
    flags = ["run", "--rm", "--network=none", *LIMITS, *(["--read-only"] if read_only else []), *options]
    if entrypoint:
        flags += ["--entrypoint", entrypoint]
    return podman(*flags, image, *args, check=False, timeout=300)


def debian_mirror() -> str:
    """The machine's own Debian mirror (apt's sources), the one package registry CI reaches."""
    texts = [p.read_text() for p in (Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*")))
             if p.is_file() and p.suffix in (".list", ".sources")]
    for text in texts:
        for stanza in text.split("\n\n"):  # deb822
            fields = dict(re.findall(r"^(URIs|Suites|Types):\s*(.+)$", stanza, re.M))
            if "deb" in fields.get("Types", "").split() and SUITE in fields.get("Suites", "").split():
                return fields["URIs"].split()[0]
        for line in text.splitlines():  # one-line style
            parts = re.sub(r"\[[^]]*\]", "", line).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == SUITE:
                return parts[1]
    raise AssertionError(f"no Debian {SUITE} mirror in /etc/apt/sources.list*: mmdebstrap needs one")


def base_image() -> str:
    """A bookworm base from Debian's packages, made once and kept (tag keyed by the package list)."""
    key = hashlib.sha256(" ".join((SUITE, *BASE_PACKAGES)).encode()).hexdigest()[:12]
    tag = f"localhost/backup-auditor-test-base:{SUITE}-{key}"
    with locked("base"):
        if podman("image", "exists", tag, check=False).returncode == 0:
            return tag
        tar = cache_dir() / f"rootfs-{key}.tar"
        # Docs, man pages and translations are left out: a smaller base, a faster unpack.
        cmd = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(BASE_PACKAGES)}",
               *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")),
               "--dpkgopt=force-unsafe-io", SUITE, str(tar), debian_mirror()]
        made = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        assert made.returncode == 0, made.stderr[-3000:]
        podman("import", str(tar), tag)
        tar.unlink()
    return tag


@contextmanager
def locked(name: str) -> Iterator[None]:
    """An exclusive file lock in the cache directory: concurrent test runs build once and share."""
    with (cache_dir() / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def source_digest(base: str) -> str:
    """Everything the image is made of: the base, the Dockerfile, .dockerignore and the wheel's sources."""
    digest = hashlib.sha256(base.encode())
    files = [ROOT / "Dockerfile", ROOT / ".dockerignore", ROOT / "pyproject.toml", ROOT / "README.md"]
    for top in ("auditor", "rules", "reports"):
        files += sorted(p for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def build_image(base_image: str) -> str:
    """The Dockerfile built on the local base with the project's own wheels (nothing fetched by the build)."""
    assert sys.version_info[:2] == (3, 11), "the wheels are built here for bookworm's Python 3.11"
    tag = f"localhost/backup-auditor-test:{source_digest(base_image)}"
    with locked("image"):
        if podman("image", "exists", tag, check=False).returncode != 0:
            wheels = ROOT / "wheels"
            shutil.rmtree(wheels, ignore_errors=True)
            built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheels),
                                    str(ROOT)], capture_output=True, text=True, timeout=600)
            assert built.returncode == 0, built.stderr[-3000:]
            try:
                podman("build", "--network=none", *LIMITS, "--build-arg", f"BASE={base_image}",
                       "--build-arg", "WHEELS=context", "--tag", tag, str(ROOT), timeout=900)
            finally:
                shutil.rmtree(wheels, ignore_errors=True)
            # Keep the tagged images (the cache), drop the intermediate stages and older builds' layers.
            for old in podman("images", "--format", "{{.Repository}}:{{.Tag}}", check=False).stdout.split():
                if old.startswith("localhost/backup-auditor-test:") and old != tag:
                    podman("rmi", old, check=False)
            podman("image", "prune", "--force", check=False)
    return tag


def test_build_context_leaves_out_the_venv_bench_data_and_git(tmp_path: Path) -> None:
    """What .dockerignore lets through, as podman sends it: a probe build copies the whole context into an empty
    image, exported as a tar."""
    sentinels = [ROOT / "bench" / "data" / "context-probe", ROOT / ".venv" / "context-probe"]
    made = [p.parent for p in sentinels if not p.parent.exists()]
    for path in sentinels:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("must stay out of the build context\n")
    probe = tmp_path / "Containerfile"
    probe.write_text("FROM scratch\nCOPY . /context/\n")
    tag, name = "localhost/backup-auditor-test-context:probe", f"backup-auditor-test-context-{os.getpid()}"
    try:
        podman("build", "--network=none", *LIMITS, "--file", str(probe), "--tag", tag, str(ROOT))
        podman("create", "--name", name, tag, "/none")
        podman("export", "--output", str(tmp_path / "context.tar"), name)
    finally:
        for path in sentinels:
            path.unlink()
        for directory in made:
            directory.rmdir()
        podman("rm", "--force", name, check=False)
        podman("rmi", tag, check=False)
    with tarfile.open(tmp_path / "context.tar") as tar:
        members = [m for m in tar.getmembers() if m.name.lstrip("./").startswith("context/")]
    paths = [m.name.lstrip("./").removeprefix("context/") for m in members]
    top = {p.split("/")[0] for p in paths if p}
    assert top <= {"pyproject.toml", "README.md", "auditor", "rules", "reports", "wheels"}, top
    assert {"pyproject.toml", "README.md", "auditor", "rules", "reports"} <= top
    assert not [p for p in paths if "__pycache__" in p or p.endswith(".pyc")]
    size = sum(m.size for m, p in zip(members, paths, strict=True) if not p.startswith("wheels/"))
    assert size < 10_000_000, f"build context of {size} bytes besides wheels/"


def test_image_builds_and_runs_read_only_offline_as_its_user(tmp_path: Path) -> None:
    """One test, so that one xdist worker builds while the other runs the rest of the suite."""
    image = build_image(base_image())
    check_demo_runs_without_compiling(image)
    check_pdf_report(image, tmp_path)
    check_etcdctl(image)
    check_no_bytecode_written(image)


def check_demo_runs_without_compiling(image: str) -> None:
    """PYTHONDONTWRITEBYTECODE unset and PYTHONVERBOSE on: every module must load from a .pyc made at build time
    (a compile from source would print ``code object from /…py``, a failed cache write ``could not create``)."""
    demo = run_image(image, "demo", options=("--env", "PYTHONDONTWRITEBYTECODE=", "--env", "PYTHONVERBOSE=1"))
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "backup-auditor scan as of 2026-11-20 12:00:00 UTC" in demo.stdout
    assert re.search(r"Findings: \d+ \(\d+ critical", demo.stdout), demo.stdout[-2000:]
    loaded = re.findall(r"^# code object from '?(\S+?)'?$", demo.stderr, re.M)
    assert len(loaded) > 200, "PYTHONVERBOSE had no effect"
    compiled = [p for p in loaded if not p.endswith(".pyc")]
    assert not compiled, f"compiled at start: {compiled[:10]}"
    assert "could not create" not in demo.stderr
    noise = [line for line in demo.stderr.splitlines() if line and not line.startswith("#")
             and not line.startswith(("import ", "Processing ", "Adding directory", "Python 3", "Type "))]
    assert not noise, noise[:10]

    user = run_image(image, "-u", entrypoint="id")
    assert user.stdout.strip() == USER.split(":")[0]
    # the same detector sees a module compiled at start (one written to /tmp, the only writable place)
    control = run_image(image, "-c", "open('/tmp/fresh.py', 'w').write('x = 1'); import sys; sys.path.insert(0, "
                        "'/tmp'); import fresh", entrypoint="/opt/backup-auditor/bin/python",
                        options=("--env", "PYTHONDONTWRITEBYTECODE=", "--env", "PYTHONVERBOSE=1"))
    assert re.search(r"^# code object from '?/tmp/fresh\.py'?$", control.stderr, re.M), control.stderr[-2000:]


def check_pdf_report(image: str, tmp_path: Path) -> None:
    """The PDF report, written by user 10001 to a mounted directory; the root filesystem stays read-only."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)
    report = run_image(image, "report", "--demo", "--format", "pdf", "--out", "/out",
                       options=("--volume", f"{out}:/out"))
    assert report.returncode == 0, report.stderr[-3000:]
    assert "error" not in report.stderr.lower(), report.stderr[-3000:]  # e.g. fontconfig without its cache
    pdfs = list(out.glob("*.pdf"))
    assert len(pdfs) == 1 and pdfs[0].read_bytes().startswith(b"%PDF-")
    assert pdfs[0].stat().st_uid == 10001
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdfs[0]), "-"], capture_output=True, text=True, timeout=60).stdout
        assert "demo-prod" in text and "demo-staging" in text


def check_etcdctl(image: str) -> None:
    """``auditor backup etcd`` finds etcdctl with shutil.which on the image's PATH, as its user."""
    found = run_image(image, "-c", "import shutil, subprocess; p = shutil.which('etcdctl'); print(p); "
                      "print(subprocess.run([p, 'version'], capture_output=True, text=True).stdout)",
                      entrypoint="/opt/backup-auditor/bin/python")
    assert found.returncode == 0, found.stderr
    path, version = found.stdout.split("\n", 1)
    assert path == "/usr/bin/etcdctl"
    assert re.search(r"etcdctl version: 3\.\d+", version), version


def check_no_bytecode_written(image: str) -> None:
    """Before/after: a container with a writable root runs the demo; ``podman diff`` lists what it changed."""
    name = f"backup-auditor-test-diff-{os.getpid()}"
    podman("run", "--name", name, "--network=none", *LIMITS, "--env", "PYTHONDONTWRITEBYTECODE=", image, "demo")
    try:
        changed = podman("diff", name).stdout.split()
    finally:
        podman("rm", "--force", name, check=False)
    assert not [p for p in changed if "__pycache__" in p or p.endswith(".pyc")], changed
