"""Quotes parser: straight and curly marks, multi-sentence quotes, threshold, speaker attribution."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.quotes import parse_quotes


def mention(text: str, surface: str, entity_id: str, etype: str = "PERSON", nth: int = 0) -> dict:
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return {"start": start, "end": start + len(surface), "surface": surface, "entity_id": entity_id, "type": etype}


def test_straight_quote_speaker_after():
    text = 'He spoke. "We think that expanding the presence is good," Assad told RIA on Thursday.'
    ms = [mention(text, "Assad", "E_assad"), mention(text, "RIA", "E_ria", "ORG")]
    (q,) = parse_quotes(text, mentions=ms)
    assert q["text"] == "We think that expanding the presence is good"
    assert text[q["start"] : q["end"]] == q["text"]
    assert (q["speaker"], q["speaker_entity_id"]) == ("Assad", "E_assad")


def test_a_name_beside_the_cue_is_the_speaker_whatever_ner_labelled_it():
    """NER labels unfamiliar names a work of art or a place; beside the cue the name still beats an ORG further
    away. A one-word place there ("Tokyo said") is not a speaker."""
    text = 'The Transport Workers Union met on Monday. "The strike will go ahead next week," Priya Costa said.'
    ms = [mention(text, "Transport Workers Union", "E_twu", "ORG"), mention(text, "Priya Costa", "E_pc", "WORK_OF_ART")]
    (q,) = parse_quotes(text, mentions=ms)
    assert (q["speaker"], q["speaker_entity_id"]) == ("Priya Costa", "E_pc")
    text = '"Talks will resume next week," Tokyo said after the Transport Workers Union met.'
    ms = [mention(text, "Tokyo", "E_t", "GPE"), mention(text, "Transport Workers Union", "E_twu", "ORG")]
    (q,) = parse_quotes(text, mentions=ms)
    assert q["speaker_entity_id"] == "E_twu"


def test_curly_quote_speaker_before_and_pronoun_inherits():
    text = "Assad told Putin, “I want to renew our position”. Later he said “we will stay here for long”."
    ms = [mention(text, "Assad", "E_a"), mention(text, "Putin", "E_p")]
    q1, q2 = parse_quotes(text, mentions=ms)
    assert (q1["text"], q1["speaker_entity_id"]) == ("I want to renew our position", "E_a")
    assert (q2["speaker"], q2["speaker_entity_id"]) == ("he", "E_a")
    assert q2["sentence"] == 1


def test_multi_sentence_multi_line_quote():
    text = '"The US remains a power.\nBut we cannot say more. A coalition is necessary," Assad told Sputnik.'
    ms = [mention(text, "Assad", "E_a"), mention(text, "Sputnik", "E_s", "ORG")]
    (q,) = parse_quotes(text, mentions=ms)
    assert q["text"].startswith("The US remains") and q["text"].endswith("is necessary")
    assert "\n" in q["text"]
    assert q["speaker_entity_id"] == "E_a"


def test_short_quotes_below_threshold_are_not_rows():
    text = "He said “terrorism” was pushed back “only when the Russians intervened” while the US was “not serious”."
    rows = parse_quotes(text)
    assert [r["text"] for r in rows] == ["only when the Russians intervened"]
    assert len(parse_quotes(text, min_words=1)) == 3


def test_according_to_and_no_cue():
    text = 'According to Ranjit Gupta, the help was a "godsend for the regime and its army".'
    (q,) = parse_quotes(text, mentions=[mention(text, "Ranjit Gupta", "E_g")])
    assert q["speaker_entity_id"] == "E_g"
    (q,) = parse_quotes('The sign read "no entry after dark" in red.')
    assert q["speaker"] is None and q["speaker_entity_id"] is None


def test_without_mentions_a_name_next_to_the_cue_is_the_speaker():
    (q,) = parse_quotes('"We will not leave this place," Erdogan said.')
    assert (q["speaker"], q["speaker_entity_id"]) == ("Erdogan", None)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab "“”,.\nHe said Assad told')), max_size=200))
def test_never_raises_and_offsets_slice(text):
    for q in parse_quotes(text):
        assert text[q["start"] : q["end"]] == q["text"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    for q in parse_quotes(text):
        assert text[q["start"] : q["end"]] == q["text"]
