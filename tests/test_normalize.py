"""normalize_document and its parts: Unicode cleanup, whitespace, titles, dates, Markdown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from transforms.normalize import (
    clean_unicode,
    infer_title,
    markdown_to_text,
    normalize_document,
    parse_published_at,
    split_lines,
)


def test_clean_unicode_drops_invisible_and_controls_keeps_newlines():
    raw = "Pre\u200bsi\u200ddent\u202e said\u2066\r\nthe \x00vote\x07 passed\u2028ok\ufeff\x1b"
    assert clean_unicode(raw) == "President said\nthe vote passed\nok"


def test_clean_unicode_nfc():
    assert clean_unicode("Cafe\u0301") == "Café"


def test_split_lines_collapses_whitespace():
    assert split_lines("  a \t b  \n\n\n  c\u00a0 d \n \n") == ["a b", "c d"]


def test_normalize_joins_paragraphs_and_removes_boilerplate():
    nd = normalize_document(
        "Council passes budget\n\nThe council   met on Tuesday.\nIt voted 7 to 2.\n\nShare it...\n", title=None
    )
    assert nd.text == "Council passes budget\n\nThe council met on Tuesday.\n\nIt voted 7 to 2."
    assert nd.title == "Council passes budget"
    assert [(r.rule, r.text) for r in nd.removed] == [("share_footer", "Share it...")]


def test_given_title_wins_and_is_cleaned():
    nd = normalize_document("Some text here.\n\nMore text.", title="  A\u200b  title \n")
    assert nd.title == "A title"


def test_dateline_becomes_published_at():
    nd = normalize_document("Headline of the story here\nSat 26 Feb 2022 | 10:37 AM\nBody text of the story.")
    assert nd.published_at == datetime(2022, 2, 26, 10, 37, tzinfo=UTC)
    assert "Sat 26 Feb" not in nd.text


def test_given_published_at_wins_over_dateline():
    nd = normalize_document("Sat 26 Feb 2022\nBody text.", published_at="2023-03-16T08:00:00+02:00")
    assert nd.published_at == datetime(2023, 3, 16, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023-03-16", datetime(2023, 3, 16, tzinfo=UTC)),
        ("Thu, 16 Mar 2023 10:00:00 +0100", datetime(2023, 3, 16, 9, 0, tzinfo=UTC)),
        ("Sat 26 Feb 2022 | 10:37 AM", datetime(2022, 2, 26, 10, 37, tzinfo=UTC)),
        ("yesterday", None),
        ("1850-01-01", None),
        ("", None),
        (None, None),
        ("2023-03-16" * 20, None),
    ],
)
def test_parse_published_at(value, expected):
    assert parse_published_at(value) == expected


@pytest.mark.parametrize(
    ("lines", "title"),
    [
        (["Council passes budget", "Body."], "Council passes budget"),
        (["This line ends like a sentence.", "Body."], None),
        (["Short", "Body."], None),
        (["Only one line here"], None),
        ([" ".join(["word"] * 21), "Body."], None),
    ],
)
def test_infer_title(lines, title):
    assert infer_title(lines) == title


def test_empty_and_boilerplate_only_give_empty_text():
    assert normalize_document("").text == ""
    assert normalize_document("\u200b\u200b\n \n").text == ""
    nd = normalize_document("Share it...\n\nLeave a Reply")
    assert nd.text == "" and len(nd.removed) == 2


def test_normalize_is_idempotent_on_seed_like_text():
    raw = "Supervisor Jane Doe\nHeadline about the vote\n\n“Quote,” he said.  Body\u200b text.\n\n07\n\nImage: AP"
    once = normalize_document(raw)
    assert normalize_document(once.text).text == once.text
    assert once.text == "Headline about the vote\n\n“Quote,” he said. Body text."


def test_markdown_to_text():
    text, title = markdown_to_text(
        "## The *vote* ##\n\n1. first\n* second\n> quoted `code`\n<b>bold</b> [link](http://x)"
    )
    assert title == "The vote"
    assert text.splitlines() == ["The vote", "", "first", "second", "quoted code", "bold link"]


def test_idempotent_when_dropping_a_control_exposes_mojibake():
    """Found by hypothesis: removing \\x9d left 'Â€', which a second pass repaired to '€'."""
    once = normalize_document("\x9dÂ\x80").text
    assert once == "€"
    assert normalize_document(once).text == once


def test_idempotent_when_collapsing_whitespace_exposes_mojibake():
    """Found by hypothesis: 'Â\\t0' collapsed to 'Â 0', which ftfy reads as a mis-decoded no-break space."""
    once = normalize_document("Â\t0").text
    assert normalize_document(once).text == once
