"""One money format everywhere: cents always shown, fractions of a cent kept, never ``$4.2``."""

import pytest

from skill.money import amount, usd


@pytest.mark.parametrize(
    ("value", "text"),
    [(4.2, "$4.20"), (0.42, "$0.42"), (0.084, "$0.084"), (0.0, "$0.00"), (12, "$12.00"),
     (0.67200001, "$0.672"), (1.23456, "$1.2346"), (None, "$?")],
)
def test_usd(value: float | None, text: str) -> None:
    assert usd(value) == text


def test_amount_has_no_dollar_sign() -> None:
    assert amount(4.2) == "4.20"
