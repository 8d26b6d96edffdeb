"""Figures parser: values, kinds, units, qualifiers, ranges; years and dates excluded; offsets slice back."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.dates import alternation
from transforms.figures import parse_figures, words_to_number


def one(text: str) -> dict:
    rows = parse_figures(text)
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize(
    ("text", "value", "kind", "unit", "qualifier", "subject"),
    [
        ("killed at least 580,000 people", 580_000, "count", None, "at least", "people"),
        ("displaced 13 million more", 13e6, "count", None, None, None),
        ("about 500,000 people", 500_000, "count", None, "about", "people"),
        ("more than 300 troops", 300, "count", None, "more than", "troops"),
        ("nearly twenty-five cars", 25, "count", None, "nearly", "cars"),
        ("three hundred thousand refugees", 300_000, "count", None, None, "refugees"),
        ("over a hundred thousand troops", 100_000, "count", None, "more than", "troops"),
        ("the two allied countries", 2, "count", None, None, "countries"),
        ("12% of voters", 12, "percent", "percent", None, "voters"),
        ("up to 40 per cent", 40, "percent", "percent", "up to", None),
        ("$3.5bn in aid", 3.5e9, "money", "USD", None, None),
        ("€20 million", 20e6, "money", "EUR", None, None),
        ("500 rubles", 500, "money", "RUB", None, None),
        ("for three decades", 3, "duration", "decade", None, None),
        ("a 12-year uprising", 12, "duration", "year", None, "uprising"),
        ("30 years", 30, "duration", "year", None, None),
        ("first visit", 1, "ordinal", None, None, "visit"),
        ("the 21st summit", 21, "ordinal", None, None, "summit"),
        # "third" to "tenth" are also denominators: bare, they are ordinals; with a numerator, fractions
        ("its fifth visit", 5, "ordinal", None, None, "visit"),
        ("the third summit", 3, "ordinal", None, None, "summit"),
        ("a third of the vote", 1 / 3, "fraction", None, None, "vote"),
    ],
)
def test_single_figures(text, value, kind, unit, qualifier, subject):
    row = one(text)
    assert row["value"] == pytest.approx(value)
    assert (row["kind"], row["unit"], row["qualifier"], row["subject"]) == (kind, unit, qualifier, subject)
    assert text[row["start"] : row["end"]] == row["surface"]


def test_fraction_with_qualifier_and_subject():
    row = one("Russia has claimed around one-fifth of Ukraine.")
    assert row["surface"] == "around one-fifth"
    assert row["value"] == pytest.approx(0.2)
    assert (row["kind"], row["qualifier"], row["subject"]) == ("fraction", "about", "Ukraine")


def test_vague_amounts_have_a_range():
    row = one("an earthquake that killed tens of thousands in Turkey")
    assert (row["value"], row["value_max"], row["kind"]) == (10_000, 100_000, "count")
    assert one("hundreds of thousands of people")["value_max"] == 1e6


def test_ranges():
    row = one("between 5 and 7 million dollars")
    assert (row["value"], row["value_max"], row["unit"]) == (5e6, 7e6, "USD")
    row = one("10-20 people")
    assert (row["value"], row["value_max"], row["subject"]) == (10, 20, "people")
    row = one("from 10 to 20 soldiers")
    assert (row["surface"], row["value"], row["value_max"]) == ("from 10 to 20", 10, 20)


def test_years_dates_and_times_are_not_figures():
    text = "In 2011, on February 6 at 10:30 and in September 2021, 2,011 people fled."
    rows = parse_figures(text)
    assert [r["surface"] for r in rows] == ["2,011"]


def test_pronoun_one_is_not_a_figure():
    assert parse_figures("one of the few, no one knows; one another") == []
    assert one("one man")["value"] == 1


def test_or_more_is_a_qualifier():
    row = one("300 or more")
    assert (row["surface"], row["qualifier"]) == ("300 or more", "at least")


def test_words_to_number():
    assert words_to_number("580,000") == 580_000
    assert words_to_number("3.5bn") == 3.5e9
    assert words_to_number("twenty-five") == 25
    assert words_to_number("a dozen") == 12
    assert words_to_number("nonsense") is None


def test_sentence_index():
    rows = parse_figures("Two men came. Then three more.\nFour left.")
    assert [(r["value"], r["sentence"]) for r in rows] == [(2, 0), (3, 1), (4, 2)]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
def test_never_raises_and_offsets_slice(text):
    for r in parse_figures(text):
        assert text[r["start"] : r["end"]] == r["surface"]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["at least", "about", "580,000", "13", "million", "one-fifth", "of", "tens", "thousands", "$",
             "5", "%", "to", "-", "between", "and", "2011", "years", "first", "one", "people", ",", " ", "\n"]
        ),
        max_size=25,
    ).map(" ".join)
)  # fmt: skip
def test_number_like_text_slices(text):
    for r in parse_figures(text):
        assert text[r["start"] : r["end"]] == r["surface"]
        assert r["value_max"] is None or r["value_max"] >= r["value"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="abcS", min_size=1, max_size=4), min_size=1, max_size=8, unique=True),
    st.text(alphabet="abcsS ", max_size=12),
)
def test_alt_matches_as_the_longest_first_alternation(words, text):
    """The prefix-factored alternation picks the same word, and gives back the same way, as the flat one."""
    flat = "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"
    for tail in ("", "b", r"\b", "c*a"):
        for flags in (0, re.I):
            new, old = re.compile(alternation(words) + tail, flags), re.compile(flat + tail, flags)
            for p in range(len(text) + 1):
                m, n = new.match(text, p), old.match(text, p)
                assert (m and m.span()) == (n and n.span())


def test_no_figure_starts_at_a_digit_that_is_not_decimal():
    assert [r["surface"] for r in parse_figures("²5 men, ①7 women and ٣ children")] == ["٣"]


@pytest.mark.parametrize("text", ["Thirds of the budget", "Quarters of the city flooded"])
def test_a_bare_denominator_that_is_no_ordinal_is_no_figure(text):
    assert parse_figures(text) == []


def test_number_words_join_only_as_tens_and_units_or_after_a_scale():
    """ "twenty-five" and "one hundred and twenty-five" are one number; "one three" and "two two" are two, not 4."""
    assert [(r["surface"], r["value"]) for r in parse_figures("one three people, two two cars")] == [
        ("one", 1), ("three", 3), ("two", 2), ("two", 2)]  # fmt: skip
    assert one("twenty five cars")["value"] == 25
    assert one("one hundred and twenty-five people")["value"] == 125
    assert one("one hundred twenty-five people")["value"] == 125
