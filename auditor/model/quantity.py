"""Kubernetes resource quantities, in the two readings the audit needs.

- ``parse_quantity``: bytes as an integer ("20Gi", "500M", "1.5Ti"), for the capacities of volumes and
  claims: rounded up and capped like Kubernetes.
- ``parse_k8s_quantity``: Kubernetes' ``resource.ParseQuantity`` as an exact Decimal, for Velero's
  capacity conditions, with Kubernetes' own grammar and errors.
  The grammar (k8s.io/apimachinery ``pkg/api/resource/quantity.go``): an optional sign, digits with an
  optional fraction (``1.``, ``.5`` and even ``.`` are numbers), then one suffix: nothing, a decimal SI
  prefix (``n u m k M G T P E``), a binary one (``Ki``…``Ei``) or a decimal exponent (``e3``, ``E-2``).
  Anything else (``Infinity``, ``1K``, ``10 Gi``, ``1e``) is an error. Values are exact, rounded up (away
  from zero) to nano units as Kubernetes does; binary values above 2^63-1 are capped there.
"""

from __future__ import annotations

import decimal
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

_DECIMAL_SI = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_DIGITS = frozenset("0123456789")
MAX_INT64 = Decimal(2**63 - 1)
NANO = Decimal("1e-9")


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def _split(text: str) -> tuple[bool, str, str, str]:
    """(positive, integer digits, fraction digits, suffix), as ``parseQuantityString`` scans them."""
    pos, end = 0, len(text)
    positive = True
    if text[:1] in ("-", "+"):
        positive = text[0] == "+"
        pos = 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    whole = text[start:pos]
    frac = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        frac = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(f"quantities must match the regular expression "
                            f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {text!r:.60}")
    return positive, whole, frac, text[suffix_start:]


def _int32(value: int) -> int:
    """Go's ``int32(parsed)`` conversion of the exponent: wraps around."""
    return (value + 2**31) % 2**32 - 2**31


def parse_k8s_quantity(text: str) -> Decimal:
    """The exact value of a quantity; raises QuantityError for text Kubernetes does not parse."""
    if not text:
        raise QuantityError("quantities must match the regular expression: empty string")
    positive, whole, frac, suffix = _split(text)
    binary = suffix in _BINARY_SI
    if suffix in _DECIMAL_SI:
        exponent = _DECIMAL_SI[suffix]
    elif binary:
        exponent = _BINARY_SI[suffix]
    elif len(suffix) > 1 and suffix[0] in "eE":
        body = suffix[1:]
        digits = body.lstrip("+-")
        if len(body) - len(digits) > 1 or not digits or not set(digits) <= _DIGITS or abs(int(body)) >= 2**63:
            raise QuantityError(f"unable to parse quantity's suffix: {suffix!r:.40}")
        exponent = _int32(int(body))
    else:
        raise QuantityError(f"unable to parse quantity's suffix: {suffix!r:.40}")
    digits = (whole + frac).lstrip("0") or "0"
    ctx = decimal.Context(prec=len(whole) + len(frac) + 40, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                          rounding=decimal.ROUND_UP)
    number = Decimal(f"{digits}e{-len(frac)}")
    value = ctx.multiply(number, ctx.power(2, exponent)) if binary else number.scaleb(exponent, ctx)
    if value != 0 and value.as_tuple().exponent < -9:  # type: ignore[operator]
        value = value.quantize(NANO, context=ctx) if value.adjusted() >= -9 else NANO
    if binary and value > MAX_INT64:
        value = MAX_INT64
    return value if positive else -value
