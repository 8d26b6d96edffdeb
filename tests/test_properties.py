"""Property tests (hypothesis, bounded) on the foundation transforms."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.documents import count_words, doc_id_for, exact_dedup
from transforms.encoding import UndecodableError, decode_bytes
from transforms.normalize import normalize_document

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# text with the characters that make normalization hard: line breaks of every kind, invisible and bidi
# controls, combining marks, NUL and C1 controls, mojibake fragments, boilerplate-looking lines
TRICKY = st.sampled_from(
    [
        "\n",
        "\r\n",
        "\r",
        "\u2028",
        "\u2029",
        "\x85",
        "\x0b",
        "\x0c",
        "\t",
        " ",
        "\u00a0",
        "\u3000",
        "\u200b",
        "\u200d",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\x00",
        "\x1b",
        "\x9c",
        "\u0301",
        "Ã©",
        "â€™",
        "Share it...",
        "Leave a Reply",
        "07",
        "@YouTube",
        "Image: AP",
        "Editor in Chief Jane Doe",
        "Sat 26 Feb 2022 | 10:37 AM",
        "https://x.example/a",
        "For: ",
        "“",
        "”",
        "**",
        "_",
        "\ud800",
    ]
)
TEXT = st.lists(st.one_of(st.text(max_size=40), TRICKY), max_size=30).map("".join)


@SETTINGS
@given(TEXT)
def test_normalize_is_idempotent_and_never_raises(raw):
    once = normalize_document(raw)
    assert normalize_document(once.text).text == once.text
    assert "\r" not in once.text and "\u200b" not in once.text and "\x00" not in once.text
    assert once.text == once.text.strip()
    once.text.encode("utf-8")  # storable: no lone surrogates survive


@SETTINGS
@given(st.binary(max_size=2048))
def test_decode_bytes_raises_only_undecodable(data):
    try:
        d = decode_bytes(data)
    except UndecodableError as exc:
        assert exc.reason_code in {"binary_content", "invalid_encoding"}
    else:
        assert isinstance(d.text, str) and d.encoding


@SETTINGS
@given(st.text(max_size=300), st.sampled_from(["utf-8", "utf-16", "utf-32", "utf-8-sig"]))
def test_decode_bytes_round_trips_bom_and_utf8(text, codec):
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return
    try:
        d = decode_bytes(text.encode(codec))
    except UndecodableError:
        assert codec == "utf-8"  # control-heavy text without a BOM may be taken for binary
        return
    if codec != "utf-8":
        assert d.text == decode_bytes(text.encode("utf-8-sig")).text


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_count_words_matches_split_without_cjk(text):
    if any("\u2e80" <= c <= "\ufaff" or "\uff00" <= c <= "\uffef" or ord(c) >= 0x20000 for c in text):
        return
    assert count_words(text) == len(text.split())


RECORDS = st.lists(st.tuples(st.text(min_size=1, max_size=5), st.sampled_from(["d1", "d2", "d3", "d4"])), max_size=20)


@SETTINGS
@given(RECORDS, st.randoms(use_true_random=False), st.sets(st.sampled_from(["d1", "d2", "d3", "d4"])))
def test_exact_dedup_is_order_invariant(records, rnd: random.Random, known):
    records = list(dict(records).items())  # record ids are unique
    shuffled = records[:]
    rnd.shuffle(shuffled)
    a, b = exact_dedup(records, known), exact_dedup(shuffled, known)
    assert a.doc_of_record == b.doc_of_record
    # which record owns a document depends on order, but the set of documents created does not
    assert {a.doc_of_record[r] for r in a.owners} == {b.doc_of_record[r] for r in b.owners}
    assert {a.doc_of_record[r] for r in a.owners} == {d for _, d in records} - known
    assert len(a.owners) == len({a.doc_of_record[r] for r in a.owners})


@SETTINGS
@given(TEXT)
def test_doc_id_depends_only_on_normalized_text(raw):
    once = normalize_document(raw)
    if once.text:
        assert doc_id_for(once.text) == doc_id_for(normalize_document(once.text).text)
