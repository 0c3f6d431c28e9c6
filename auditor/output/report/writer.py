"""Write a set of reports into a directory: timestamped names, never overwriting, with an integrity manifest.

``write_reports`` is the one entry point for the CLI and for scheduled reports (``auditor serve``): it
takes a ScanResult or a loaded scan document, renders each format from the same report model, writes
every file atomically under a name no existing file has, and records the SHA-256 of each file and of
the scan document in ``<base>.manifest.json`` and ``<base>.sha256`` (``sha256sum -c`` input).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from auditor import __version__
from auditor.analyse.scan import ScanResult
from auditor.errors import ConfigError, InputError
from auditor.formats import file_names
from auditor.formats import get as format_named
from auditor.load.rules import load_catalog
from auditor.model.rules import Rule
from auditor.output.report.history import History
from auditor.output.report.rendering import Rendering, build_for
from auditor.output.report.signing import SIGNATURE_SUFFIX, Signing, sign_bytes, sign_pdf
from auditor.output.report.source import SourceDocument, from_result

META_FILES = (("manifest", ".manifest.json"), ("sha256", ".sha256"), ("signature", f".manifest.json{SIGNATURE_SUFFIX}"))


@dataclass(frozen=True)
class WrittenFile:
    key: str
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    directory: Path
    path: Path  # the manifest file
    report_id: str
    as_of: str | None
    generated_at: datetime
    document_name: str
    document_sha256: str
    files: tuple[WrittenFile, ...]
    #: with --sign-key: the key (its id), the detached signature file and whether the PDF is signed too
    signature: dict[str, Any] | None = None

    @property
    def signature_path(self) -> Path | None:
        return self.directory / self.signature["file"] if self.signature else None

    def as_dict(self) -> dict[str, Any]:
        doc = {"report_id": self.report_id, "tool_version": __version__, "as_of": self.as_of,
               "generated_at": self.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "scan_document": {"name": self.document_name, "sha256": self.document_sha256},
               "files": [{"format": f.key, "name": f.name, "bytes": f.size, "sha256": f.sha256} for f in self.files]}
        if self.signature:
            doc["signature"] = self.signature
        return doc


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """Report format names (comma-separated, or ``all``) in the registry's order."""
    known = file_names()
    items = [p.strip().lower() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    if "all" in items:
        return known
    unknown = [p for p in items if p not in known]
    if unknown or not items:
        raise ConfigError(f"unknown report format {', '.join(unknown) or '(none)'} "
                          f"(choose from {', '.join(known)}, or all)")
    return tuple(f for f in known if f in items)


def slug(clusters: list[str]) -> str:
    """A file-name-safe form of untrusted cluster names."""
    first = re.sub(r"[^A-Za-z0-9._-]+", "-", clusters[0] if clusters else "no-cluster").strip("-.")[:40] or "cluster"
    return first + (f"-and-{len(clusters) - 1}-more" if len(clusters) > 1 else "")


def unique_base(directory: Path, stem: str, suffixes: Iterable[str]) -> str:
    """The first of ``stem``, ``stem-2``, ... under which none of the files exists yet."""
    suffixes = list(suffixes)
    for n in range(1, 10_000):
        base = stem if n == 1 else f"{stem}-{n}"
        if not any((directory / f"{base}{s}").exists() for s in suffixes):
            return base
    raise InputError("no free report name after 9,999 tries", file=str(directory))


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never over an existing file, honouring the umask); a failed write leaves nothing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise InputError("exists already; reports are never overwritten", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_reports(source: ScanResult | SourceDocument, formats: Iterable[str], out_dir: Path, *,
                  history: History | None = None, frameworks: tuple[str, ...] = (), generated_by: str | None = None,
                  now: datetime | None = None, rules: tuple[Rule, ...] | None = None,
                  signing: Signing | None = None) -> Manifest:
    """Render and write every requested format; returns the manifest (also written next to the reports).

    The entry point for the CLI and for scheduled reports (``auditor serve``). From a ScanResult the scan
    document is always written too (as ``.json``): the report's hash must point at a file. From a loaded
    document, the manifest names the input file instead. ``frameworks`` narrows the framework section
    (and names the files); ``history`` adds the trend. ``signing`` signs the manifest (a detached
    Ed25519 signature next to it) and, with a certificate, the PDF itself (before it is hashed).
    """
    chosen = parse_formats(list(formats))
    if isinstance(source, ScanResult):
        rules = rules or source.rules
        source = from_result(source)
    if source.path is None and "json" not in chosen:
        chosen = parse_formats((*chosen, "json"))
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the report directory: {exc.strerror}", file=str(out_dir)) from None
    doc = source.data
    as_of = str(doc.get("as_of") or "")
    stem = f"backup-audit-{slug([str(c.get('name')) for c in doc.get('clusters') or []])}-" \
           f"{re.sub(r'[^0-9TZ]', '', as_of) or 'undated'}" + "".join(f"-{slug([f])}" for f in frameworks)
    parts = [part for f in chosen for part in format_named(f).files]
    keys = [(part.key, part.suffix) for part in parts]
    base = unique_base(out_dir, stem, [s for _, s in keys + list(META_FILES)])
    names = {k: f"{base}{s}" for k, s in keys + list(META_FILES) if k != "signature" or signing is not None}
    sha = hashlib.sha256(source.raw).hexdigest()
    document_name = source.path.name if source.path else names["json"]
    generated_at = now or datetime.now(UTC).replace(microsecond=0)
    rules = rules or load_catalog()
    report = build_for(source, rules, focus=frameworks, history=history, generated_by=generated_by,
                       now=generated_at, document_name=document_name)
    rendering = Rendering(given_source=source, given_rules=rules, files=names, focus=frameworks, built=report)
    rendered = {part.key: part.render(rendering) for part in parts}  # all or nothing: a failed render writes no file
    if signing is not None and signing.cert_pem is not None and "pdf" in rendered:
        rendered["pdf"] = sign_pdf(rendered["pdf"], signing, f"backup-auditor report {report.meta.report_id}")
    written = []
    for key, data in rendered.items():
        write_new(out_dir / names[key], data)
        written.append(WrittenFile(key, names[key], len(data), hashlib.sha256(data).hexdigest()))
    signature = None if signing is None else {
        "algorithm": "Ed25519", "key_id": signing.key_id, "file": names["signature"],
        "pdf_signed": signing.cert_pem is not None and "pdf" in rendered}
    manifest = Manifest(out_dir, out_dir / names["manifest"], report.meta.report_id, doc.get("as_of"), generated_at,
                        document_name, sha, tuple(written), signature)
    lines = "".join(f"{f.sha256}  {f.name}\n" for f in written)
    if source.path is not None and source.path.parent.resolve() == out_dir.resolve():
        lines += f"{sha}  {source.path.name}\n"
    write_new(out_dir / names["sha256"], lines.encode())
    body = orjson.dumps(manifest.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
    write_new(manifest.path, body)
    if signing is not None:
        write_new(out_dir / names["signature"], sign_bytes(signing, body))
    return manifest
