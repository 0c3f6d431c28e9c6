"""Signed evidence: an Ed25519 signature of a report set's manifest, and a PAdES signature inside the PDF.

The manifest lists the SHA-256 of every file of the set, so one detached signature over its bytes
(``<base>.manifest.json.sig``, the raw 64-byte Ed25519 signature, as ``openssl pkeyutl -sign -rawin`` writes
it) vouches for all of them: ``auditor verify`` (or openssl alone) checks it without the scan source. With a
certificate for the same key, the PDF carries its own signature (PAdES baseline, pyHanko) that a PDF reader
shows; it is added as an incremental update after rendering, which keeps the PDF/A file valid.

Bad keys and certificates are configuration errors naming the file (exit 2).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditor.errors import ConfigError

SIGNATURE_SUFFIX = ".sig"  # after the manifest's own name: <base>.manifest.json.sig
PDF_FIELD = "BackupAuditorSignature"


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def _kind(key: object) -> str:
    """A key's algorithm as people name it (the classes' own names vary with cryptography's backend)."""
    kinds: tuple[tuple[type, str], ...] = (
        (rsa.RSAPrivateKey, "an RSA key"), (rsa.RSAPublicKey, "an RSA key"), (ec.EllipticCurvePrivateKey,
         "an EC key"), (ec.EllipticCurvePublicKey, "an EC key"), (ed448.Ed448PrivateKey, "an Ed448 key"),
        (ed448.Ed448PublicKey, "an Ed448 key"))
    return next((name for cls, name in kinds if isinstance(key, cls)), "another kind of key")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """An Ed25519 private key in PKCS#8 PEM (``openssl genpkey -algorithm ed25519``), unencrypted."""
    data = _read(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{path}: the signing key is encrypted; give an unencrypted PKCS#8 PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{path}: not a PEM private key (expected Ed25519, PKCS#8 PEM)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: the signing key is {_kind(key)}, not Ed25519")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key in PEM (``openssl pkey -pubout``); a certificate for one is accepted too."""
    data = _read(path, "public key")
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{path}: not a PEM public key (expected Ed25519)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(f"{path}: the public key is {_kind(key)}, not Ed25519")
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class Signing:
    """What ``auditor report --sign-key [--sign-cert]`` signs with."""

    key: Ed25519PrivateKey
    key_path: Path
    cert_pem: bytes | None = None  # the PDF's signing certificate (its key is ``key``)
    cert_path: Path | None = None

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())


def load_signing(key_path: Path, cert_path: Path | None = None) -> Signing:
    """The signing key and, for the PDF, a certificate that must be for that very key."""
    key = load_private_key(key_path)
    if cert_path is None:
        return Signing(key, key_path)
    data = _read(cert_path, "signing certificate")
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        raise ConfigError(f"{cert_path}: not a PEM X.509 certificate") from None
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    public = cert.public_key()
    if not isinstance(public, Ed25519PublicKey) or public.public_bytes(*raw) != key.public_key().public_bytes(*raw):
        raise ConfigError(f"{cert_path}: the certificate does not match the signing key {key_path}")
    return Signing(key, key_path, cert.public_bytes(serialization.Encoding.PEM), cert_path)


def sign_bytes(signing: Signing, data: bytes) -> bytes:
    return signing.key.sign(data)


def signature_valid(public: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def sign_pdf(pdf: bytes, signing: Signing, reason: str) -> bytes:
    """The PDF with an invisible PAdES signature field, signed by the certificate's key (incremental update)."""
    # deferred: asn1crypto and pyHanko (0.4 s) only when the PDF is signed (--sign-cert)
    from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
    from asn1crypto import x509 as asn1_x509

    with warnings.catch_warnings():  # pyHanko imports cryptography's DSA support, which warns on import
        warnings.simplefilter("ignore")
        # deferred with asn1crypto above
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers
        from pyhanko_certvalidator.registry import SimpleCertificateStore

    if signing.cert_pem is None:
        raise ConfigError("signing the PDF needs a certificate (--sign-cert)")
    der_key = signing.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    der_cert = x509.load_pem_x509_certificate(signing.cert_pem).public_bytes(serialization.Encoding.DER)
    signer = signers.SimpleSigner(signing_cert=asn1_x509.Certificate.load(der_cert),
                                  signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                                  cert_registry=SimpleCertificateStore())  # type: ignore[no-untyped-call]
    meta = signers.PdfSignatureMetadata(field_name=PDF_FIELD, reason=reason,
                                        subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha512")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.sign_pdf(writer, meta, signer=signer)
    return bytes(out.getvalue())
