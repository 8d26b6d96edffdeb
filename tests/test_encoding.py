"""decode_bytes: BOMs, UTF-8, BOM-less UTF-16, cp1252/latin-1 fallback, mojibake repair, binary refusal."""

from __future__ import annotations

import codecs

import pytest

from transforms.encoding import UndecodableError, decode_bytes, repair_text

TEXT = "Café owners said “the rent is too high” – again."


def test_plain_utf8():
    d = decode_bytes(TEXT.encode("utf-8"))
    assert (d.text, d.encoding, d.repaired) == (TEXT, "utf-8", False)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (TEXT.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
    ],
)
def test_bom_decides_and_is_dropped(data, encoding):
    d = decode_bytes(data)
    assert (d.text, d.encoding) == (TEXT, encoding)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "text",
    [
        "The council met on Tuesday to vote on the budget.",
        "Президент Сирии Башар Асад заявил в четверг, что Дамаск приветствовал бы предложения.",
    ],
)
def test_utf16_without_bom(codec, text):
    d = decode_bytes(text.encode(codec))
    assert (d.text, d.encoding) == (text, "utf-16")


def test_cp1252_fallback():
    d = decode_bytes(TEXT.encode("cp1252"))
    assert (d.text, d.encoding) == (TEXT, "cp1252")


def test_latin1_when_cp1252_has_undefined_bytes():
    data = b"Caf\xe9 \x81 ok"  # 0x81 is unassigned in cp1252
    d = decode_bytes(data)
    assert d.encoding == "latin-1"
    assert d.text.startswith("Café ")


def test_invalid_utf8_bytes_do_not_lose_the_text():
    d = decode_bytes(b"Officials said the vote passed. \xff\xfe end")
    assert d.text.startswith("Officials said the vote passed. ")
    assert d.encoding in {"cp1252", "latin-1"}


def test_mojibake_is_repaired():
    text = "It’s déjà vu at the café — owners said."
    broken = text.encode("utf-8").decode("cp1252").encode("utf-8")
    assert "Ã©" in broken.decode("utf-8")
    d = decode_bytes(broken)
    assert (d.text, d.encoding, d.repaired) == (text, "utf-8", True)


def test_repair_keeps_curly_quotes_and_html_entities():
    assert repair_text("“quoted” &amp; ﬁne") == "“quoted” &amp; ﬁne"
    assert repair_text("donâ€™t") == "don’t"


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,
        b"\x00\x01\x02\x03 binary \x00\x00",
        bytes([1, 2, 3, 4, 5, 6, 7, 8]) * 200 + b"mostly controls",
    ],
)
def test_binary_is_refused(data):
    with pytest.raises(UndecodableError) as exc:
        decode_bytes(data)
    assert exc.value.reason_code == "binary_content"


def test_bad_data_after_bom_is_refused():
    with pytest.raises(UndecodableError) as exc:
        decode_bytes(codecs.BOM_UTF16_LE + b"a")  # odd number of bytes after a UTF-16 BOM
    assert exc.value.reason_code == "invalid_encoding"


def test_empty_and_whitespace():
    assert decode_bytes(b"").text == ""
    assert decode_bytes(b" \n\t ").text == " \n\t "
