"""Entity resolution rules, on hand-made NER spans (no model): one canonical entity across forms."""

from __future__ import annotations

import re

from transforms.entities import KnownEntities, entity_id, fold, merge_entities, person_key, resolve


def spans(text: str, *items: tuple[str, str]) -> list[tuple[int, int, str]]:
    """(surface, label) pairs -> NER spans, each found at its next occurrence."""
    out, pos = [], 0
    for surface, label in items:
        m = re.compile(re.escape(surface)).search(text, pos)
        out.append((m.start(), m.end(), label))
        pos = m.end()
    return out


def resolve_one(text: str, *items, known=()):
    mentions, entities = resolve([("d1", text, spans(text, *items))], known)
    return mentions, {e["entity_id"]: e for e in entities}


def test_titles_possessive_and_al_variants_are_one_person():
    text = (
        "Syrian President Bashar al-Assad spoke. Mr Assad's office said Al-Assad and al Assad "
        "and Bashar Al-Assad agree."
    )
    mentions, ents = resolve_one(
        text,
        ("Syrian", "NORP"),
        ("President Bashar al-Assad", "PERSON"),
        ("Mr Assad's", "PERSON"),
        ("Al-Assad", "ORG"),  # an NER label slip is linked too
        ("al Assad", "PERSON"),
        ("Bashar Al-Assad", "PERSON"),
    )
    people = {m["entity_id"] for m in mentions if m["label"] != "NORP"}
    assert len(people) == 1
    person = ents[people.pop()]
    assert (person["name"], person["type"], person["mention_count"]) == ("Bashar al-Assad", "PERSON", 5)
    assert mentions[1]["surface"] == "Bashar al-Assad"  # title trimmed from the span
    assert mentions[2]["surface"] == "Assad"  # honorific and possessive trimmed
    for m in mentions:
        assert text[m["start"] : m["end"]] == m["surface"]


def test_united_states_forms_share_one_entity_with_iso_code():
    text = "The US and the U.S. and the United States and America."
    mentions, ents = resolve_one(text, ("US", "GPE"), ("U.S.", "GPE"), ("the United States", "GPE"), ("America", "GPE"))
    assert len({m["entity_id"] for m in mentions}) == 1
    (e,) = ents.values()
    assert (e["name"], e["type"], e["country_code"], e["mention_count"]) == ("United States", "GPE", "US", 4)
    assert e["aliases"] == ["America", "U.S.", "US", "United States"]


def test_turkiye_and_turkey():
    text = "Türkiye withdrew. Turkey agreed."
    mentions, ents = resolve_one(text, ("Türkiye", "ORG"), ("Turkey", "GPE"))
    assert mentions[0]["entity_id"] == mentions[1]["entity_id"]
    assert next(iter(ents.values()))["country_code"] == "TR"


def test_demonym_mentions_resolve_to_their_country_keeping_the_norp_label():
    # Changed in issue 21: a demonym used to be an entity of its own (type NORP, with the country code). Now it
    # resolves to the country, as AIDA links "Syrian" to Syria, and the mention keeps its NORP label.
    text = "Syrian troops in Syria and the Syrians."
    mentions, ents = resolve_one(text, ("Syrian", "NORP"), ("Syria", "GPE"), ("Syrians", "NORP"))
    assert len({m["entity_id"] for m in mentions}) == 1
    assert [m["label"] for m in mentions] == ["NORP", "GPE", "NORP"]
    (country,) = ents.values()
    assert (country["type"], country["country_code"], country["name"]) == ("GPE", "SY", "Syria")


def test_pycountry_fallback_for_countries_not_in_aliases():
    _, ents = resolve_one("Peru and Brazil.", ("Peru", "GPE"), ("Brazil", "GPE"))
    assert sorted(e["country_code"] for e in ents.values()) == ["BR", "PE"]


def test_surname_alone_links_across_documents_and_to_known_entities():
    d1 = "Bashar al-Assad arrived."
    d2 = "Assad left."
    mentions, _ = resolve([("d1", d1, spans(d1, ("Bashar al-Assad", "PERSON"))),
                           ("d2", d2, spans(d2, ("Assad", "PERSON")))])  # fmt: skip
    assert mentions[0]["entity_id"] == mentions[1]["entity_id"]

    known = [{"entity_id": "Eknown", "name": "Bashar al-Assad", "type": "PERSON", "country_code": None,
              "aliases": ["Bashar al-Assad"], "mention_count": 3}]  # fmt: skip
    mentions, rows = resolve([("d3", d2, spans(d2, ("Assad", "PERSON")))], known)
    ents = {e["entity_id"]: e for e in rows}
    assert mentions[0]["entity_id"] == "Eknown"
    assert ents["Eknown"]["name"] == "Bashar al-Assad"
    assert ents["Eknown"]["mention_count"] == 1


def test_known_entities_kept_up_to_date_resolve_as_the_merged_rows_do():
    """Batches resolved in turn against one KnownEntities (add after each) give the rows that resolving
    against all earlier rows merged again for every batch gives."""
    prior = [{"entity_id": "Eknown", "name": "Bashar al-Assad", "type": "PERSON", "country_code": None,
              "aliases": ["Bashar al-Assad", "Assad"], "mention_count": 3}]  # fmt: skip
    texts = [
        ["Vladimir Putin met Assad.", "Putin spoke to the United Nations."],
        ["Mr Putin left. Bashar Assad stayed.", "Angela Merkel and the UN."],
        ["Merkel said so.", "Putin and Merkel; Assad."],
    ]
    names = ("Vladimir Putin", "Bashar Assad", "Angela Merkel", "United Nations", "Putin", "Merkel", "Assad", "UN")

    def batch(k: int) -> list:
        out = []
        for j, text in enumerate(texts[k]):
            found, taken = [], set()
            for name in names:  # longest names first: a surname inside a full name is not a span of its own
                i = text.find(name)
                if i >= 0 and not taken & set(range(i, i + len(name))):
                    found.append((i, i + len(name), "ORG" if name in ("United Nations", "UN") else "PERSON"))
                    taken |= set(range(i, i + len(name)))
            out.append((f"d{k}{j}", text, sorted(found)))
        return out

    known, seen = KnownEntities(merge_entities(prior)), []
    for k in range(len(texts)):
        expected = resolve(batch(k), merge_entities(prior) + merge_entities(seen))
        assert resolve(batch(k), known) == expected
        known.add(expected[1])
        seen += expected[1]
    assert sum(m["entity_id"] == "Eknown" for k in range(3) for m in resolve(batch(k), known)[0]) == 3
    assert known.get("Eknown")["aliases"] >= {"Assad", "Bashar Assad"}


def test_ambiguous_surname_is_not_linked():
    d1 = "John Smith and Jane Smith met. Smith spoke."
    mentions, _ = resolve_one(d1, ("John Smith", "PERSON"), ("Jane Smith", "PERSON"), ("Smith", "PERSON"))
    assert len({m["entity_id"] for m in mentions}) == 3


def test_ids_are_deterministic_and_keyed_by_entity_key_not_label():
    # Changed in issue 21: ids were sha1(type|key), so one NER label disagreement split an entity.
    assert entity_id("person:bashar assad") == entity_id("person:bashar assad")
    assert entity_id("person:bashar assad").startswith("E") and len(entity_id("x")) == 17
    text = "Labour won the vote. Labour said the result was clear."
    mentions, ents = resolve_one(text, ("Labour", "ORG"), ("Labour", "PERSON"))
    assert len({m["entity_id"] for m in mentions}) == 1
    assert next(iter(ents.values()))["type"] == "ORG"
    assert person_key("President Bashar al-Assad") == ("bashar", "assad")
    assert fold("the U.S.") == "us"


def test_non_entity_labels_are_dropped():
    mentions, _ = resolve_one("In 2011 three men.", ("2011", "DATE"), ("three", "CARDINAL"))
    assert mentions == []


def test_merge_entities_unions_aliases_and_sums_counts():
    rows = [
        {"entity_id": "E1", "name": "Russia", "type": "GPE", "country_code": "RU", "aliases": ["Russia"],
         "mention_count": 2},
        {"entity_id": "E1", "name": "Russia", "type": "GPE", "country_code": "RU",
         "aliases": ["Russian Federation"], "mention_count": 3},
        {"entity_id": "E0", "name": "Moscow", "type": "GPE", "country_code": None, "aliases": ["Moscow"],
         "mention_count": 1},
    ]  # fmt: skip
    merged = merge_entities(rows)
    assert [r["entity_id"] for r in merged] == ["E0", "E1"]
    assert merged[1]["aliases"] == ["Russia", "Russian Federation"]
    assert merged[1]["mention_count"] == 5


def test_curated_aliases_repair_split_and_missed_spans():
    text = "He fought so-called Islamic State, Assad told RIA."
    mentions, ents = resolve_one(text, ("Islamic", "NORP"), ("State", "ORG"), ("Assad", "PERSON"))
    by_surface = {m["surface"]: ents[m["entity_id"]] for m in mentions}
    assert (by_surface["Islamic State"]["name"], by_surface["Islamic State"]["type"]) == ("Islamic State", "ORG")
    assert by_surface["RIA"]["name"] == "RIA Novosti"  # not tagged by NER, found from aliases.csv
