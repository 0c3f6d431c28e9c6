"""Kubernetes resource quantities ("20Gi", "500M", "1.5Ti") as integers of bytes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}


def parse_quantity(text: str) -> int:
    """Bytes in a quantity, rounded up; raises ValueError for text that is not a quantity."""
    text = text.strip()
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix):
            number, factor = text[: -len(suffix)], Decimal(_SUFFIXES[suffix])
            break
    else:
        number, factor = text, Decimal(1)
    try:
        value = Decimal(number) * factor
    except InvalidOperation:
        raise ValueError(f"not a quantity: {text!r}") from None
    integral = int(value)
    return integral if integral == value else integral + 1
