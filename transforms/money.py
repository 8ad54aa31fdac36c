"""Money helpers: amounts as Decimal, shown as ``"50.00 USD"`` with the currency's own exponent."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from transforms.event import TransformError

__all__ = ["currency_exponent", "minor_to_major", "money", "parse_amount"]

# ISO 4217 minor-unit exponents that differ from the default of 2. Note that some processors use
# their own minor units for a few of these (Stripe, for example, treats ISK and UGX as 2-decimal):
# a vendor transform for such a processor must convert with that processor's table, not this one.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI",
         "VND", "VUV", "XAF", "XOF", "XPF"),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4,
    "UYW": 4,
}
_QUANTUM = {0: Decimal(1), 1: Decimal("0.1"), 2: Decimal("0.01"), 3: Decimal("0.001"),
            4: Decimal("0.0001")}


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point for ``currency`` (ISO 4217; 2 when unknown)."""
    return _EXPONENTS.get(currency.upper(), 2)


def money(amount: Decimal | int, currency: str) -> str:
    """``"50.00 USD"``, ``"5000 JPY"``, ``"1.500 KWD"``: plain digits, no thousands separators.

    The amount is padded to the currency's exponent but never rounded: an amount with more
    digits than the currency has (``10.005 USD``) is shown as given, because an agent quoting a
    rounded figure to a customer would be quoting a wrong one.
    """
    code = currency.upper()
    if not isinstance(amount, Decimal):
        amount = Decimal(amount)
    try:
        shown = amount.quantize(_QUANTUM[_EXPONENTS.get(code, 2)])
        if shown != amount:
            shown = amount
    except InvalidOperation:  # more digits than the decimal context holds
        shown = amount
    return f"{shown:f} {code}"


def parse_amount(value: str | int | float | Decimal, field: str = "amount") -> Decimal:
    """A decimal amount in major units (``"50.00"`` is fifty dollars, never fifty cents).

    Accepts a decimal string, an int, a float (read via its shortest repr, so 0.1 stays 0.1) or a
    Decimal. Refuses bools, None, NaN, infinities and anything else with TransformError.
    """
    if isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if "_" in text:  # Decimal() accepts "1_000"; an upstream system sending that is broken
            raise TransformError(f"{field}: {value!r} is not a decimal amount")
        try:
            parsed = Decimal(text)
        except InvalidOperation:
            raise TransformError(
                f"{field}: {value!r} is not a decimal amount (expected e.g. \"50.00\")"
            ) from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TransformError(
            f"{field}: expected a decimal string or number (got {type(value).__name__})"
        )
    else:
        parsed = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not parsed.is_finite():
        raise TransformError(f"{field}: {value!r} is not a finite amount")
    return parsed


def minor_to_major(amount: int, currency: str) -> Decimal:
    """Minor units (cents, fils, yen) to a major-unit Decimal: ``(5000, "USD") -> 50.00``."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TransformError(
            f"minor-unit amount must be an integer (got {type(amount).__name__} {amount!r})"
        )
    return Decimal(amount).scaleb(-currency_exponent(currency))
