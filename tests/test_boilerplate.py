"""Boilerplate rules: each rule removes its own kind of line and leaves article sentences that share its words."""

from __future__ import annotations

import re

import pytest

from tests.conftest import SEEDS
from transforms.boilerplate import load_rules, match_rule, repeated_lines, strip_lines, tail_start
from transforms.encoding import decode_bytes
from transforms.normalize import normalize_document, split_lines

RULES = load_rules()
HEAD = 0  # a line position inside the head and inside the tail (tail_start=0)
ARTICLE_POS = 3  # a line position inside the head but before the tail (tail_start=10)

# rule -> (line it removes, article-like line with the same trigger words that it must keep)
CASES: dict[str, tuple[str, str]] = {
    "share_footer": ("Share this article", "Share prices rose sharply after the announcement on Monday."),
    "comment_footer": ("12 Comments", "Comments made by the minister drew sharp criticism from rivals."),
    "correction_form": ("Submit a Correction", "He asked the court to submit a correction to the record."),
    "form_message": (
        "Your suggestion have been successfully submitted",
        "Your message has been heard, the president told the crowd in Damascus.",
    ),
    "form_echo": ("For: Bashar Al-Assad: Russia never talked about me leaving power", "For years the war went on."),
    "recommendation_widget": ("You might also like", "You might also like to know that the talks resumed."),
    "related_link": (
        "Related Article : US Drone, Russian Jet Collide",
        "Related talks will take place in Geneva next week, officials said.",
    ),
    "image_credit": ("Image: AP", "Image: the president said the photo showed a damaged hospital in Aleppo."),
    "opinion_disclaimer": (
        "The views expressed in Op-Ed pieces are those of the author and do not reflect ours.",
        "The views expressed in the meeting were shared by most of the delegates.",
    ),
    "submission_note": (
        "How to submit an Op-Ed: send it to the desk.",
        "How to submit evidence to the inquiry remains unclear, lawyers said.",
    ),
    "contact_email": ("Write to us at desk@example.com", "Officials said the talks would resume next week."),
    "masthead": ("Editor in Chief Mohamed Wadie", "Editor Mohamed Wadie said on Monday that the paper would close."),
    "dateline": ("Sat 26 Feb 2022 | 10:37 AM", "On Sat 26 Feb 2022 the talks began in Moscow."),
    "page_number": ("07", "2015 was the year Russia intervened."),
    "url_line": ("https://see.news/syrian-president/", "Visit https://see.news for more coverage of the war."),
    "social_handle": ("@YouTube", "@YouTube said it removed the video after complaints."),
}


def test_every_rule_has_a_case():
    assert {r.name for r in RULES.rules} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_removes_its_line(name):
    line, _ = CASES[name]
    assert match_rule(line, HEAD, 0, RULES) == name


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_keeps_the_article_line(name):
    _, article_line = CASES[name]
    assert match_rule(article_line, HEAD, 0, RULES) is None


def test_tail_rule_keeps_its_pattern_inside_the_article():
    line = "Write to us at desk@example.com"
    assert match_rule(line, ARTICLE_POS, 10, RULES) is None
    assert match_rule(line, 11, 10, RULES) == "contact_email"


def test_head_rule_only_in_head():
    line = "Editor in Chief Mohamed Wadie"
    assert match_rule(line, RULES.head_lines - 1, 0, RULES) == "masthead"
    assert match_rule(line, RULES.head_lines, 0, RULES) is None


def test_tail_starts_after_last_long_line():
    long = " ".join(["word"] * 30)
    assert tail_start(["Title", long, "short", long, "Share it", "x@y.com"]) == 4
    assert tail_start(["short", "lines", "only"]) == 0


def test_strip_lines_reports_rule_and_position():
    long = " ".join(["word"] * 30)
    kept, removed = strip_lines(["Share it...", long, "Leave a Reply"], RULES)
    assert kept == [long]
    assert [(r.line_no, r.text, r.rule) for r in removed] == [
        (0, "Share it...", "share_footer"),
        (2, "Leave a Reply", "comment_footer"),
    ]


def test_repeated_lines_needs_enough_documents_and_share():
    docs = [("a.com", ["Subscribe to our newsletter", f"story {i}"]) for i in range(5)]
    docs += [("b.com", ["Subscribe to our newsletter"])] * 4  # only 4 documents: below min_docs
    out = repeated_lines(docs)
    assert out == {"a.com": frozenset({"Subscribe to our newsletter"})}


def test_repeated_lines_skips_long_lines():
    long = "x" * 201
    assert repeated_lines([("a", [long])] * 6) == {}


def _seed(prefix: str) -> str:
    path = next(SEEDS.glob(f"{prefix}_*.txt"))
    return decode_bytes(path.read_bytes()).text


def test_seed_002_loses_correction_form_and_email_line():
    nd = normalize_document(_seed("002"))
    removed = {r.text: r.rule for r in nd.removed}
    assert removed["Submit a Correction"] == "correction_form"
    email_lines = [t for t in removed if "oped@libyanexpress.com" in t]
    assert len(email_lines) == 1
    assert "Submit a Correction" not in nd.text and "@libyanexpress.com" not in nd.text
    assert "Russia has never talked to him about leaving power." in nd.text


def test_seed_003_loses_masthead():
    nd = normalize_document(_seed("003"))
    masthead = [r.text for r in nd.removed if r.rule == "masthead"]
    assert masthead == ["Supervisor Elham AbolFateh", "Editor in Chief Mohamed Wadie"]
    assert "AbolFateh" not in nd.text and "Wadie" not in nd.text
    assert nd.text.startswith("Report: Why Syria's Assad Supports Russia's Putin?")


QUOTE = re.compile(r"[\"“]([^\"“”]{20,}?)[\"”]")


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_seed_quotes_survive_normalization(prefix):
    """Every quoted sentence (quotes paired within one line) is still in the normalized text."""
    raw = _seed(prefix)
    quotes = [" ".join(split_lines(q)) for line in raw.splitlines() for q in QUOTE.findall(line)]
    nd = normalize_document(raw)
    assert quotes
    for q in quotes:
        assert q in nd.text, q
