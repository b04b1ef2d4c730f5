"""One way to write counts and money in every output (issue 18): ``CNY 227 million``, ``CNY 1.35 billion``."""

from __future__ import annotations

from zerosim.io.compare import readable
from zerosim.numbers import money, words


def test_money_is_three_significant_figures_in_millions_and_billions():
    assert money(227_041_118) == "CNY 227 million"
    assert money(1_351_036_395) == "CNY 1.35 billion"
    assert money(135_103_639_517) == "CNY 135 billion"
    assert money(36_200_000) == "CNY 36.2 million"
    assert money(2_000_000) == "CNY 2 million"
    assert money(999_999_999) == "CNY 1 billion"  # rounds up into the next unit, not "1000 million"
    assert money(821_818) == "CNY 821,818" and money(0) == "CNY 0" and money(None) == "n/a"


def test_counts_and_the_comparison_use_the_same_words():
    assert words(1_523_118) == "1.52 million" and words(99_418) == "99,418" and words(3.74) == "3.7"
    assert readable(1_351_036_395, "CNY") == money(1_351_036_395)
    assert readable(1_523_118) == words(1_523_118)
