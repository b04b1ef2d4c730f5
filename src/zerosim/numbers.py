"""Numbers as people read them, one way everywhere: ``995,861``, ``12.3 million``, ``CNY 227 million``,
``CNY 1.35 billion``.

Used by the comparison (``io.compare``), the forecast's sentences, the report, the CLI and the figures'
titles and labels, so that one amount never reads ``CNY 135,103,639,517`` in one place and
``CNY 135 billion`` in another. Imports nothing from zerosim (any layer may use it).

Rules: below a million, whole numbers with thousands separators (fractions below 100 keep one decimal);
from a million, three significant figures in millions or billions, without trailing zeros.
"""

from __future__ import annotations

import math

#: The currency of every amount of money in zerosim's outputs.
CURRENCY = "CNY"


def _significant(scaled: float) -> str:
    """``scaled`` (1 <= |scaled| < 1000) to three significant figures, trailing zeros dropped."""
    size = abs(scaled)
    decimals = 2 if size < 10 else 1 if size < 100 else 0
    text = f"{scaled:.{decimals}f}"
    if float(text) != 0 and abs(float(text)) >= 1000:  # 999.96 million rounds up to a billion
        return ""
    return text.rstrip("0").rstrip(".") if "." in text else text


def words(value: float | None) -> str:
    """A count or amount in words: ``995,861``, ``3.7``, ``12.3 million``, ``1.35 billion``, ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    size = abs(value)
    for scale, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if size >= scale:
            text = _significant(value / scale)
            if text:
                return f"{text} {name}"
            bigger = {1e9: "trillion", 1e6: "billion"}.get(scale)
            return f"{'-' if value < 0 else ''}1 {bigger}"
    if size >= 100 or value.is_integer():
        return f"{round(value):,}"
    if size >= 1:
        return f"{value:.1f}"
    if size > 0:
        return f"{value:.2g}"
    return "0"


def money(value: float | None) -> str:
    """An amount of money: ``CNY 227 million``, ``CNY 1.35 billion``, ``CNY 821,818``, ``CNY 0``."""
    text = words(value)
    return text if text == "n/a" else f"{CURRENCY} {text}"
