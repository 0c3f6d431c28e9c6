"""Signed evidence: the manifest's detached Ed25519 signature, `auditor verify`, and the PAdES-signed PDF/A."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from auditor.analyse.scan import ScanResult
from auditor.cli import main
from auditor.output.report import write_reports
from auditor.output.report.signing import load_signing
from tests.output.conftest import GENERATED_AT, Written


@dataclass(frozen=True)
class Keys:
    key: Path
    public: Path
    cert: Path
    ca_cert_pem: bytes
    other_public: Path


def _pem_key(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem_public(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cert(subject: str, public: ed25519.Ed25519PublicKey, issuer: str, issuer_key: ed25519.Ed25519PrivateKey,
          ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
               .public_key(public).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=not ca, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=ca,
                                            crl_sign=ca, encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(issuer_key, None)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """A test CA, and a signer whose certificate it issued (all Ed25519)."""
    d = tmp_path_factory.mktemp("keys")
    ca_key, key, other = (ed25519.Ed25519PrivateKey.generate() for _ in range(3))
    ca = _cert("Backup Auditor Test CA", ca_key.public_key(), "Backup Auditor Test CA", ca_key, ca=True)
    leaf = _cert("Audit Evidence Signer", key.public_key(), "Backup Auditor Test CA", ca_key, ca=False)
    (d / "key.pem").write_bytes(_pem_key(key))
    (d / "pub.pem").write_bytes(_pem_public(key))
    (d / "other.pem").write_bytes(_pem_public(other))
    (d / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    return Keys(d / "key.pem", d / "pub.pem", d / "cert.pem", ca.public_bytes(serialization.Encoding.PEM),
                d / "other.pem")


@pytest.fixture(scope="module")
def signed_set(demo_result: ScanResult, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo as PDF, Markdown, CSV and JSON, the manifest signed and the PDF signed (written once)."""
    out = tmp_path_factory.mktemp("signed")
    write_reports(demo_result, ["pdf", "md", "csv", "json"], out, generated_by="test suite", now=GENERATED_AT,
                  signing=load_signing(keys.key, keys.cert))
    return out


def verify(directory: Path, public: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["verify", str(directory), "--public-key", str(public)])
    return result.exit_code, result.output


def copy_of(signed_set: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(signed_set, target)
    return target


def only(directory: Path, pattern: str) -> Path:
    (found,) = directory.glob(pattern)
    return found


def test_a_signed_set_verifies_offline(signed_set: Path, keys: Keys) -> None:
    code, output = verify(signed_set, keys.public)
    assert code == 0, output
    assert output.startswith("ok: ") and "5 files match" in output
    manifest = only(signed_set, "*.manifest.json")
    assert (manifest.parent / (manifest.name + ".sig")).stat().st_size == 64


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_alone_verifies_the_manifest_signature(signed_set: Path, keys: Keys) -> None:
    manifest = only(signed_set, "*.manifest.json")
    done = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(keys.public), "-rawin",
                           "-in", str(manifest), "-sigfile", f"{manifest}.sig"], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0 and "Signature Verified Successfully" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("pattern", ["*.md", "*-volumes.csv", "*.json", "*.pdf"])
def test_a_changed_file_is_named(signed_set: Path, keys: Keys, tmp_path: Path, pattern: str) -> None:
    copy = copy_of(signed_set, tmp_path)
    target = next(p for p in copy.glob(pattern) if not p.name.endswith(".manifest.json"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit, same size: only the digest can tell
    target.write_bytes(bytes(data))
    code, output = verify(copy, keys.public)
    assert code == 1 and f"{target}: differs from the signed manifest" in output, output


def test_a_missing_or_extra_file_is_named(signed_set: Path, keys: Keys, tmp_path: Path) -> None:
    copy = copy_of(signed_set, tmp_path)
    md = only(copy, "*.md")
    md.unlink()
    code, output = verify(copy, keys.public)
    assert code == 1 and f"{md}: missing" in output
    copy = copy_of(signed_set, tmp_path / "again")
    extra = copy / (only(copy, "*.md").name.removesuffix(".md") + ".html")
    extra.write_text("<p>all protected</p>")
    code, output = verify(copy, keys.public)
    assert code == 1 and f"{extra}: not in the signed manifest" in output, output


def test_a_changed_manifest_or_sum_list_breaks_the_signature(signed_set: Path, keys: Keys, tmp_path: Path) -> None:
    copy = copy_of(signed_set, tmp_path)
    manifest = only(copy, "*.manifest.json")
    manifest.write_bytes(manifest.read_bytes().replace(b'"tool_version"', b'"tool_version" ', 1))
    code, output = verify(copy, keys.public)
    assert code == 1 and "signature does not verify" in output and f"{manifest}.sig" in output
    copy = copy_of(signed_set, tmp_path / "sums")
    sums = only(copy, "*.sha256")
    sums.write_text(sums.read_text().replace(sums.read_text()[:8], "00000000", 1))
    code, output = verify(copy, keys.public)
    assert code == 1 and f"{sums}: differs from the signed manifest" in output


def test_another_key_or_no_signature_fails(signed_set: Path, keys: Keys, tmp_path: Path) -> None:
    code, output = verify(signed_set, keys.other_public)
    assert code == 1 and "signature does not verify" in output
    copy = copy_of(signed_set, tmp_path)
    sig = only(copy, "*.sig")
    sig.unlink()
    code, output = verify(copy, keys.public)
    assert code == 1 and f"{sig}: signature missing" in output


def test_unreadable_input_is_exit_2(signed_set: Path, keys: Keys, tmp_path: Path) -> None:
    code, output = verify(signed_set, tmp_path / "nope.pem")
    assert code == 2 and "nope.pem: cannot read the public key" in output
    (tmp_path / "junk.pem").write_text("hello")
    code, output = verify(signed_set, tmp_path / "junk.pem")
    assert code == 2 and "junk.pem: not a PEM public key" in output
    code, output = verify(tmp_path / "missing-dir", keys.public)
    assert code == 2 and "missing-dir" in output and "not a directory" in output
    code, output = verify(tmp_path, keys.public)
    assert code == 2 and "no report manifest" in output


def report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", "--demo", "--format", "md", *args])
    return result.exit_code, result.output


def test_bad_keys_and_certificates_are_one_line_exit_2(keys: Keys, tmp_path: Path) -> None:
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    code, output = report("--out", str(tmp_path / "o1"), "--sign-key", str(ec_key))
    assert code == 2 and output.strip() == f"error: {ec_key}: the signing key is an EC key, not Ed25519"
    code, output = report("--out", str(tmp_path / "o2"), "--sign-key", str(tmp_path / "absent.pem"))
    assert code == 2 and output.strip().startswith(f"error: {tmp_path / 'absent.pem'}: cannot read the signing key")
    code, output = report("--out", str(tmp_path / "o3"), "--sign-key", str(keys.cert))
    assert code == 2 and f"{keys.cert}: not a PEM private key" in output
    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(_pem_key(ed25519.Ed25519PrivateKey.generate()))
    code, output = report("--out", str(tmp_path / "o4"), "--sign-key", str(stranger), "--sign-cert", str(keys.cert))
    assert code == 2 and output.strip() == f"error: {keys.cert}: the certificate does not match the signing key " \
                                           f"{stranger}"
    assert not any((tmp_path / d).exists() and any((tmp_path / d).iterdir()) for d in ("o1", "o2", "o3", "o4"))


def test_the_pdf_signature_validates_with_pyhanko(signed_set: Path, keys: Keys) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from asn1crypto import pem
        from asn1crypto import x509 as asn1_x509
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext

    _, _, der = pem.unarmor(keys.ca_cert_pem)
    with only(signed_set, "*.pdf").open("rb") as f:
        reader = PdfFileReader(f)
        (signature,) = reader.embedded_signatures
        status = validate_pdf_signature(signature, ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)]))
        assert status.bottom_line and status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.coverage.name == "ENTIRE_FILE"
        assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES baseline
        # untrusted without the test CA: the validator can fail
        untrusted = validate_pdf_signature(signature, ValidationContext(trust_roots=[]))
        assert untrusted.intact and not untrusted.trusted
        # still PDF/A-3b after signing: the XMP says so and the sRGB output intent is there
        metadata = reader.root["/Metadata"].get_object().data.decode()
        assert 'pdfaid:part="3"' in metadata and 'pdfaid:conformance="B"' in metadata
        assert reader.root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"


def test_an_unsigned_set_says_so_and_does_not_verify(demo_reports: Written, keys: Keys) -> None:
    import json

    assert not list(demo_reports.directory.glob("*.sig"))
    assert "signature" not in json.loads(demo_reports.manifest.path.read_text())
    assert "The manifest is not signed" in demo_reports.text("html")
    code, output = verify(demo_reports.directory, keys.public)
    assert code == 1 and "signature missing" in output

