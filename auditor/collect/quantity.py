"""Kubernetes resource quantities ("20Gi", "500M", "1.5Ti") as integers of bytes."""

from __future__ import annotations

from decimal import Decimal, DecimalException

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
#: Kubernetes caps a quantity's value at 2^63-1 (resource.Quantity): larger ones read as that, and no
#: input can make us build a number of a million digits.
MAX_QUANTITY = 2**63 - 1
_MAX_TEXT = 64  # no real quantity is longer


def parse_quantity(text: str) -> int:
    """Bytes in a quantity, rounded up and capped like Kubernetes; raises ValueError for text that is
    not a quantity (also NaN, infinities, overlong text)."""
    text = text.strip()
    if len(text) > _MAX_TEXT:
        raise ValueError(f"not a quantity: {text[:40]!r}...")
    for suffix in ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E"):
        if text.endswith(suffix):
            number, factor = text[: -len(suffix)], Decimal(_SUFFIXES[suffix])
            break
    else:
        number, factor = text, Decimal(1)
    try:
        base = Decimal(number)
        if not base.is_finite():
            raise ValueError(f"not a quantity: {text!r}")
        if base.adjusted() > 40:  # far beyond the cap whatever the suffix: no exponent arithmetic at all
            return MAX_QUANTITY if base > 0 else -MAX_QUANTITY
        value = base * factor
    except DecimalException:
        raise ValueError(f"not a quantity: {text!r}") from None
    if abs(value) > MAX_QUANTITY:
        return MAX_QUANTITY if value > 0 else -MAX_QUANTITY
    integral = int(value)
    return integral if integral == value else integral + 1
