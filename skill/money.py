"""The one way money is written: ``$0.42``, ``$4.20``, ``$0.084``; never ``$4.2`` or ``$0.4200``.

Cents always show; fractions of a cent (per-second rates) show up to four decimals.
"""

from __future__ import annotations

__all__ = ["amount", "usd"]


def amount(value: float) -> str:
    """``4.2`` -> ``"4.20"``; ``0.084`` -> ``"0.084"`` (for text that puts its own ``$``)."""
    whole, _, frac = f"{float(value):.4f}".rstrip("0").partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def usd(value: float | None) -> str:
    """``4.2`` -> ``"$4.20"``; an unknown amount is ``"$?"``."""
    if value is None:
        return "$?"
    return "$" + amount(value)
