"""Rules after NER, on hand-made NER spans (no model): repair, acronyms, honorifics, gazetteers, sport."""

from __future__ import annotations

import re

from transforms import ruler
from transforms.ruler import apply_rules, is_sport, repair


def spans(text: str, *items: tuple[str, str]) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for surface, label in items:
        m = re.compile(re.escape(surface)).search(text, pos)
        out.append((m.start(), m.end(), label))
        pos = m.end()
    return out


def surfaces(text: str, ruled) -> list[tuple[str, str]]:
    return [(text[s:e], label) for s, e, label in ruled.spans]


def test_repair_cuts_scores_brackets_and_dashes():
    text = "Somerset 83 and Scott Draper ( Australia ) beat Romania - Cosmin Contra scored ."
    got = repair(text, spans(text, ("Somerset 83", "PERSON"), ("Scott Draper ( Australia", "ORG"),
                             ("Romania - Cosmin Contra", "ORG")))  # fmt: skip
    assert [text[s:e] for s, e, _ in got] == ["Somerset", "Scott Draper", "Australia", "Romania", "Cosmin Contra"]


def test_full_name_with_acronym_in_brackets_defines_it():
    text = "The Global Alliance for Vaccines and Immunisation (Gavi) said on Monday that Gavi would pay."
    ruled = apply_rules(text, text, spans(text, ("Global Alliance for Vaccines and Immunisation (Gavi", "ORG"),
                                          ("Gavi", "PERSON")))  # fmt: skip
    assert ("Global Alliance for Vaccines and Immunisation", "ORG") in surfaces(text, ruled)
    assert ("Gavi", "ORG") in surfaces(text, ruled)  # the defined acronym takes the long form's label
    ((a, b), (ls, le)) = ruled.acronyms[0]
    assert (text[a:b], text[ls:le]) == ("Gavi", "Global Alliance for Vaccines and Immunisation")


def test_honorific_names_are_people_even_where_ner_missed_or_mislabelled_them():
    text = "Mr Blair told MPs on Tuesday. Dr Fauci and Lord Sebastian Coe agreed with Mrs Thatcher."
    ruled = apply_rules(text, text, spans(text, ("Fauci", "ORG")))
    people = [s for s, label in surfaces(text, ruled) if label == "PERSON"]
    assert people == ["Blair", "Fauci", "Sebastian Coe", "Thatcher"]


def test_gazetteer_adds_places_demonyms_and_aliases_ner_missed_but_not_common_words():
    text = "Officials in Damascus and Syrians met the IMF. Reading the report was worth reading. Nice work."
    ruled = apply_rules(text, text, [])
    got = surfaces(text, ruled)
    assert ("Damascus", "GPE") in got and ("Syrians", "NORP") in got and ("IMF", "ORG") in got
    assert not any(s in ("Reading", "Nice") for s, _ in got)  # "reading" is lower case here; "Nice" a given name


def test_a_tagged_name_and_a_full_names_surname_are_tagged_everywhere():
    text = "Alexander Lebed met rebels. Lebed said the war was over. Interfax said Lebed left."
    ruled = apply_rules(text, text, spans(text, ("Alexander Lebed", "PERSON"), ("Interfax", "ORG")))
    assert surfaces(text, ruled) == [("Alexander Lebed", "PERSON"), ("Lebed", "PERSON"), ("Interfax", "ORG"),
                                     ("Lebed", "PERSON")]  # fmt: skip


def test_sports_stories_make_county_and_city_names_clubs_but_not_datelines():
    text = (
        "CRICKET - LEICESTERSHIRE TAKE OVER AT TOP .\nLONDON 1996-08-30\n"
        "Leicestershire beat Somerset by an innings at Grace Road in Leicester ."
    )
    assert is_sport(text) and not is_sport("The central bank raised rates on Tuesday.")
    ruled = apply_rules(text, text, spans(text, ("LONDON", "GPE"), ("Leicestershire", "GPE"), ("Somerset", "PERSON"),
                                          ("Leicester", "GPE")))  # fmt: skip
    got = dict(surfaces(text, ruled))
    assert got["LONDON"] == "GPE"  # dateline
    assert got["Leicestershire"] == "ORG" and got["Somerset"] == "ORG"
    assert got["Leicester"] == "GPE"  # "in Leicester": the place


def test_leading_numbers_and_demonyms_are_split_off_and_money_leaves_demonyms_free():
    text = "64 Bob Estes finished ahead. American Dennis Mitchell won. Profit was 21.8 million French francs ."
    ruled = apply_rules(text, text, spans(text, ("64 Bob Estes", "PERSON"), ("American Dennis Mitchell", "ORG"),
                                          ("21.8 million French francs", "MONEY")))  # fmt: skip
    got = surfaces(text, ruled)
    assert ("Bob Estes", "PERSON") in got
    assert ("American", "NORP") in got and ("Dennis Mitchell", "PERSON") in got
    assert ("French", "NORP") in got  # inside the MONEY span, which stays for the figures
    keep = "American Express shares rose."
    assert surfaces(keep, apply_rules(keep, keep, spans(keep, ("American Express", "ORG")))) == [
        ("American Express", "ORG")
    ]


def test_a_curated_place_outside_the_gazetteer_does_not_break_the_rules():
    text = "Soviet troops left Kabul in 1989."  # "Soviet" is a curated GPE alias with no GeoNames place
    got = surfaces(text, apply_rules(text, text, []))
    assert ("Soviet", "GPE") in got and ("Kabul", "GPE") in got


_TRICKY = [
    "Mr. O'Neill-Smith met Dr Fauci and Mrs May in New York's A-Z of X. (IMF) 12A B_c ’Tis U.S.-led xMr Lord",
    "FOOTBALL - Soccer, cricket: WICKETS and goals; quarter-final, quarterfinal, Formula One, motor racing.",
    "the footballer's cup-tie, champions league matches, Olympics, olympic, innings-victory, ſoccer, ſtage",
    "Ünal said: Ça va. Jean-Luc rock-and-roll pre-1990 don't o’clock A a I i É é Z9 _Q Q_ -Q Q- 'Q Q'",
    "",
]


def test_rewritten_regexes_find_what_the_plain_ones_do():
    """The capitalised- and lower-case-word regexes start with their letter (the engine skips to it), sport words
    are counted over lower-cased ASCII text, honorifics are searched from the first honorific word: the same
    matches as the plain regexes."""
    plain_cap = re.compile(r"\b[A-Z][\w'’\-]*[\w]|\b[A-Z]\b")
    plain_lower = re.compile(r"\b[a-z][a-z'’\-]+\b")
    for text in _TRICKY + [t.lower() for t in _TRICKY] + [t.upper() for t in _TRICKY]:
        assert [m.span() for m in ruler._CAP_WORD.finditer(text)] == [m.span() for m in plain_cap.finditer(text)]
        assert ruler._LOWER_WORD.findall(text) == plain_lower.findall(text)
        assert ruler._sport_words(text) == len(ruler._SPORT_WORDS.findall(text))
        spans = [(0, min(3, len(text)), "ORG")]
        assert ruler.honorifics(text, spans) == _plain_honorifics(text, spans)


def _plain_honorifics(cased: str, spans: list) -> list:
    for m in ruler._HONORIFIC.finditer(cased):
        a, b = m.span(1)
        while b > a and cased[b - 1] in ".'’":
            b -= 1
        if b > a:
            spans = [x for x in spans if not (x[0] < b and a < x[1])] + [(a, b, "PERSON")]
    return sorted(spans)


def test_repair_trims_numbers_at_either_end_of_every_piece():
    text = "Somerset 83-4\nKent 1/2 , 12 Essex 3: 7 , Tom ٣ ( Surrey 9. )"
    got = repair(text, [(0, len(text), "ORG")])
    assert [text[s:e] for s, e, _ in got] == ["Somerset", "Kent", "Essex", "Tom", "Surrey"]


def test_a_surname_after_another_given_name_takes_it_in():
    """Propagation tags every "Hernandez" after "Li Hernandez"; the one written "Ana Hernandez" is another person,
    so it takes its given name in (also over a span of the given name alone, "Julia" tagged GPE). A title or a
    word that is no listed given name stays out."""
    from transforms.ruler import given_name_before

    text = (
        "Li Hernandez spoke. Later Ana Hernandez said it. The Hernandez plan. "
        "Julia Wagner met. Minister Hernandez left."
    )

    def span(word: str, label: str = "PERSON", nth: int = 0) -> tuple[int, int, str]:
        at = -1
        for _ in range(nth + 1):
            at = text.index(word, at + 1)
        return (at, at + len(word), label)

    spans = sorted([span("Li Hernandez"), span("Hernandez", nth=1), span("Hernandez", nth=2), span("Julia", "GPE"),
                    span("Wagner"), span("Hernandez", nth=3)])  # fmt: skip
    got = [(text[s:e], label) for s, e, label in given_name_before(text, spans)]
    assert got == [("Li Hernandez", "PERSON"), ("Ana Hernandez", "PERSON"), ("Hernandez", "PERSON"),
                   ("Julia Wagner", "PERSON"), ("Hernandez", "PERSON")]  # fmt: skip
