"""``auditor verify``: check a report set against its signed manifest, offline."""

from __future__ import annotations

from pathlib import Path

import click

from auditor.cli.base import handle_errors, main


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--public-key", "public_key", required=True, type=click.Path(path_type=Path, dir_okay=False),
              metavar="PUB.pem", help="The signer's Ed25519 public key (PEM), or a certificate for it.")
@handle_errors
def verify(directory: Path, public_key: Path) -> None:
    """Check every report set in DIRECTORY against its manifest and the manifest's signature.

    Exit 0 when all holds; 1 naming the first file that differs, or the signature; 2 when the input cannot
    be read. Needs neither the scan source nor a network (see docs/reports.md).
    """
    from auditor.output.report.verify import verify_dir  # deferred: cryptography and the report model (0.5 s)

    for done in verify_dir(directory, public_key):
        click.echo(f"ok: {done.manifest} ({done.files} files match; signature by key {done.key_id})")
