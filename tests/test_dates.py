"""Dates parser: absolute and relative expressions, precision, resolution against the publication date."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.dates import (
    _MAY_CONTEXT,
    _after_temporal_word,
    parse_dates,
    sentence_starts,
    token_start_patterns,
    token_starts,
)

PUB = "2022-02-26"  # a Saturday


def as_tuples(text, published_at=None):
    return [(r["surface"], r["iso"], r["precision"], r["resolved"]) for r in parse_dates(text, published_at)]


def test_absolute_dates_resolve_without_publication_date():
    text = "On 26 Feb 2022, in September 2021, since March 2011 and in 2015, on Feb 6, 2023."
    assert as_tuples(text) == [
        ("26 Feb 2022", "2022-02-26", "day", True),
        ("September 2021", "2021-09", "month", True),
        ("March 2011", "2011-03", "month", True),
        ("2015", "2015", "year", True),
        ("Feb 6, 2023", "2023-02-06", "day", True),
    ]


def test_partial_and_relative_dates_unresolved_without_publication_date():
    assert as_tuples("the February 6 earthquake, on Tuesday, last week, in January") == [
        ("February 6", None, "day", False),
        ("Tuesday", None, "day", False),
        ("last week", None, "week", False),
        ("January", None, "month", False),
    ]


def test_relative_dates_resolved_against_publication_date():
    text = "the February 6 earthquake, on Thursday, last week, in December, late last year, today, 3 days ago"
    assert as_tuples(text, PUB) == [
        ("February 6", "2022-02-06", "day", True),
        ("Thursday", "2022-02-24", "day", True),
        ("last week", "2022-W07", "week", True),
        ("December", "2021-12", "month", True),
        ("last year", "2021", "year", True),
        ("today", "2022-02-26", "day", True),
        ("3 days ago", "2022-02-23", "day", True),
    ]


def test_weekday_modifiers_and_datetime_publication():
    rows = as_tuples("next Monday and last Saturday", "2022-02-26T10:37:00+00:00")
    assert rows == [("next Monday", "2022-02-28", "day", True), ("last Saturday", "2022-02-19", "day", True)]


def test_may_the_verb_is_not_a_month_and_numbers_are_not_years():
    assert as_tuples("They may go. 2,011 people and 1500 troops and the 1990s") == []
    assert as_tuples("in May", PUB) == [("May", "2021-05", "month", True)]


def test_invalid_calendar_dates_are_skipped():
    assert as_tuples("February 30 and 31 June") == []


def test_sentence_index_and_offsets():
    text = "Mr. Smith came on Monday. He left in 2020.\nHeadline 2021"
    rows = parse_dates(text)
    assert [(r["surface"], r["sentence"]) for r in rows] == [("Monday", 0), ("2020", 1), ("2021", 2)]
    assert all(text[r["start"] : r["end"]] == r["surface"] for r in rows)


def test_sentence_starts_keeps_abbreviations_and_splits_glued_sentences():
    text = "The U.S. President met Putin.Speaking later, Dr. Rao left. Next!\nNew line"
    starts = sentence_starts(text)
    assert [text[s:].split()[0] for s in starts] == ["The", "Speaking", "Next!", "New"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.sampled_from([None, PUB, "garbage", "0001-01-01"]))
def test_never_raises_and_offsets_slice(text, pub):
    for r in parse_dates(text, pub):
        assert text[r["start"] : r["end"]] == r["surface"]
        assert r["resolved"] == (r["iso"] is not None)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(["February", "6", "2022", "Thursday", "last", "week", "ago", "3", "days", "May",
                         "of", "26", "Feb", ",", "today", "next", "year", "0001", "9999", " "]),
        max_size=20,
    ).map(" ".join),
    st.sampled_from([None, PUB, "0001-01-03", "9999-12-30"]),
)  # fmt: skip
def test_date_like_text_slices(text, pub):
    for r in parse_dates(text, pub):
        assert text[r["start"] : r["end"]] == r["surface"]


def test_day_ranges_and_numeric_dates():
    rows = as_tuples("on March 3-4, on 3–4 March. Signed 25/03/2023, 03/25/2023, 3.3.2023 and 12/03/2023.")
    assert rows == [
        ("March 3-4", None, "day", False),
        ("3–4 March", None, "day", False),
        ("25/03/2023", "2023-03-25", "day", True),
        ("03/25/2023", "2023-03-25", "day", True),
        ("3.3.2023", "2023-03-03", "day", True),
        ("12/03/2023", None, "day", False),  # day-first or month-first: ambiguous, left unresolved
    ]


def test_week_of_a_year_before_1000_is_zero_padded():
    """ISO weeks are YYYY-Www for every year (hypothesis found "1-W02", which crashed the year range check)."""
    assert [r["iso"] for r in parse_dates("next week", "0001-01-03")] == ["0001-W02"]


WORDS = ["may", "ago", "a", "an", "one", "k"]
PIECES = ["May", "MAY", "may", "ago", "a", "An", "aN", "one", "onex", "k", "K", "\u212a", "ſ", "5", "²", "٣", "_", "$",
          " ", ",", "-", "\n", "x", "é"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12).map("".join))
def test_token_starts_are_the_tokens_a_python_loop_would_take(text):
    """Every run of letters and digits that starts with a decimal digit or is one of the words (any case with
    fold_case: what str.lower() maps onto a word, so the Kelvin sign is a "k" but the long s is no "s")."""
    tokens = list(re.finditer(r"[^\W_]+", text))
    exact = [t.start() for t in tokens if t.group()[0].isdecimal() or t.group() in WORDS]
    folded = [t.start() for t in tokens if t.group()[0].isdecimal() or t.group().lower() in WORDS]
    assert token_starts(text, token_start_patterns(WORDS)) == exact
    assert token_starts(text, token_start_patterns(WORDS, fold_case=True)) == folded


def test_no_date_starts_at_a_digit_that_is_not_decimal():
    assert as_tuples("²2011 ①2011 and 2011") == [("2011", "2011", "year", True)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["in", "IN", "since", "through", "xthrough", "of", " ", "-", "\n", "x", "ſince"]),
                max_size=10).map("".join))  # fmt: skip
def test_may_context_is_searched_near_may_only(text):
    for pos in range(len(text) + 1):
        assert _after_temporal_word(text, pos) == (_MAY_CONTEXT.search(text, 0, pos) is not None)


def test_an_ago_date_at_a_sentence_start_is_found():
    """The number of an "ago" date may be capitalised: "Two weeks ago, ..." at a sentence's start (it was missed
    while "two weeks ago" was found)."""
    text = "Two weeks ago, the council met. A year ago it fell. Prices rose; a few months ago they fell."
    assert as_tuples(text, PUB) == [
        ("Two weeks ago", "2022-W06", "week", True),
        ("A year ago", "2021", "year", True),
        ("a few months ago", "2021-11", "month", True),
    ]
