"""Truecasing of upper-case lines: same length, body forms first, function words lower, else title case."""

from __future__ import annotations

from transforms.truecase import truecase, upper_lines


def test_headline_and_dateline_take_the_body_forms_and_keep_offsets():
    text = (
        "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT .\n"
        "AL-AIN 1996-12-06\n"
        "Japan began the defence of their Asian Cup title with a lucky 2-1 win against Syria on Friday ."
    )
    out = truecase(text)
    assert len(out) == len(text)
    first = out.split("\n")[0]
    assert first == "Soccer - Japan get lucky win , China in Surprise Defeat ."
    assert out.split("\n")[1] == "Al-Ain 1996-12-06"
    assert out.split("\n")[2] == text.split("\n")[2]  # mixed-case lines are untouched


def test_only_upper_case_lines_change_and_initials_keep_their_case():
    text = "U.S. TROOPS LEAVE BAGHDAD\nThe troops left on Monday."
    assert upper_lines(text) == [(0, 25)]
    # "troops" is lower case in the body; "Leave" and "Baghdad" are not in it: title case
    assert truecase(text).split("\n")[0] == "U.S. troops Leave Baghdad"
    assert truecase("No shouting here.") == "No shouting here."
    assert truecase("OK") == "OK"  # under 4 letters: not a headline


def test_a_case_change_that_would_change_the_length_is_not_made():
    text = "STRASSE UND GROSSE FUSSBALL MASSE\nKeine."
    assert len(truecase(text)) == len(text)
    assert truecase("İSTANBUL NEWS TODAY\nbody text").startswith("İ")  # "İ".lower() has two characters


def _upper_lines_by_definition(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        if sum(c.isalpha() for c in line) >= 4 and not any(c.islower() for c in line):
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def test_upper_lines_follow_the_definition_beyond_ascii():
    lines = [
        "ÉLYSÉE SAYS NO",  # upper-case, non-ASCII letters
        "ÉLYSÉE SAYS nO",  # one ASCII lower-case letter
        "ÉLYSÉE SAYS Né",  # lower case only outside ASCII
        "STRASSE ß",  # "ß" is lower case
        "ǅUKA TEAM WINS",  # a title-case letter is not lower case
        "NEWS ª",  # "ª" is lower case and has no upper-case form
        "ⅫⅫ WORLD",  # Roman numeral letters
        "1996-12-06",
        "",
        "ABC",
        "ABCD",
    ]
    text = "\n".join(lines)
    assert upper_lines(text) == _upper_lines_by_definition(text)
    assert [text[a:b] for a, b in upper_lines(text)] == ["ÉLYSÉE SAYS NO", "ǅUKA TEAM WINS", "ⅫⅫ WORLD", "ABCD"]
