"""HTTPS for ``auditor serve`` (``--tls-cert-file``/``--tls-private-key-file``): one server context."""

from __future__ import annotations

import ssl
from pathlib import Path

from auditor.errors import ConfigError


def server_context(cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext | None:
    """A TLS 1.2+ server context, or None for plain HTTP; every problem is one line naming the file."""
    if cert_file is None and key_file is None:
        return None
    if cert_file is None or key_file is None:
        raise ConfigError("--tls-cert-file and --tls-private-key-file go together: give both or neither")
    for flag, path in (("--tls-cert-file", cert_file), ("--tls-private-key-file", key_file)):
        try:
            path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{flag} {path}: cannot read it ({exc.strerror})") from None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(certfile=str(cert_file), keyfile=str(key_file))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in str(reason).upper():
            raise ConfigError(f"--tls-private-key-file {key_file}: the key does not match the certificate "
                              f"{cert_file}") from None
        raise ConfigError(f"--tls-cert-file {cert_file} / --tls-private-key-file {key_file}: not a PEM certificate "
                          f"and its private key ({reason})") from None
    return context
