"""Readers, one per format, on small files written here; discovery of inputs; size limits; no network."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms import readers
from transforms.readers import detect_format, discover, hash_file, read_file
from transforms.records import RawRecord, Rejection

ARTICLE = "The council met on Tuesday.\n\nIt approved the budget for schools and buses."


def read(path: Path, **kw) -> list[RawRecord | Rejection]:
    return list(read_file(hash_file(str(path)), **kw))


def summary(items) -> list[tuple]:
    return [
        (i.record_index, "doc" if isinstance(i, RawRecord) else i.reason_code)
        for i in sorted(items, key=lambda i: i.record_index)
    ]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.txt", "txt"),
        ("a.MD", "md"),
        ("a.markdown", "md"),
        ("a.htm", "html"),
        ("a.html", "html"),
        ("a.ndjson", "jsonl"),
        ("a.jsonl", "jsonl"),
        ("a.jsonl.gz", "jsonl.gz"),
        ("a.csv", "csv"),
        ("a.parquet", "parquet"),
        ("a.pdf", None),
        ("jsonl", None),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(name) == fmt


def test_hash_file_identity(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"abc")
    f = hash_file(str(p))
    assert f.sha256 == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert (f.bytes, f.format, f.file_id) == (3, "txt", f.sha256[:16])


def test_txt_one_record_with_ids(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text(ARTICLE, encoding="utf-8")
    [rec] = read(p)
    assert isinstance(rec, RawRecord)
    f = hash_file(str(p))
    assert (rec.record_id, rec.file_id, rec.record_index) == (f"{f.file_id}:0", f.file_id, 0)
    assert (rec.text, rec.encoding, rec.title) == (ARTICLE, "utf-8", None)


def test_txt_cp1252(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes("Café “quoted” – ok".encode("cp1252"))
    [rec] = read(p)
    assert (rec.text, rec.encoding) == ("Café “quoted” – ok", "cp1252")


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"", "empty_file"), (b"  \n\t\n", "empty_text"), (b"\x00\x01\x02\x03" * 100, "binary_content")],
)
def test_txt_rejections(tmp_path, data, code):
    p = tmp_path / "a.txt"
    p.write_bytes(data)
    assert summary(read(p)) == [(0, code)]


def test_markdown_title_and_markup(tmp_path):
    p = tmp_path / "a.md"
    p.write_text(
        "# Budget *passes* council\n\nThe **council** voted; see [the report](http://x.example/r).\n\n"
        "![chart](http://x.example/c.png)\n- first point\n> quoted line\n",
        encoding="utf-8",
    )
    [rec] = read(p)
    assert rec.title == "Budget passes council"
    assert "The council voted; see the report." in rec.text
    assert "first point" in rec.text and "quoted line" in rec.text
    assert "http" not in rec.text and "**" not in rec.text


HTML = """<!DOCTYPE html><html><head><title>Budget vote</title>
<link rel="stylesheet" href="http://evil.example/s.css"><script src="http://evil.example/x.js"></script>
<script>alert('x')</script></head><body>
<iframe src="http://evil.example/frame"></iframe><img src="http://evil.example/pixel.gif">
<article><h1>Budget vote</h1>
<p>The city council met on Tuesday to discuss the new budget for public transport and schools in the city.</p>
<p>Officials said the plan would add twelve bus routes and repair three bridges before the winter season.</p>
<p>Residents who spoke at the meeting asked for more frequent service in the northern districts of town.</p>
</article></body></html>"""


def test_html_main_text_without_network(tmp_path, monkeypatch):
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access during HTML ingest")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    p = tmp_path / "a.html"
    p.write_text(HTML, encoding="utf-8")
    [rec] = read(p)
    assert attempts == []
    assert isinstance(rec, RawRecord), rec
    assert rec.title == "Budget vote"
    assert "twelve bus routes" in rec.text and "northern districts" in rec.text
    assert "alert" not in rec.text and "evil.example" not in rec.text


def test_html_without_main_text(tmp_path):
    p = tmp_path / "a.html"
    p.write_text("<html><head><script>var a = 1;</script></head><body></body></html>", encoding="utf-8")
    assert summary(read(p)) == [(0, "html_no_main_text")]


def test_jsonl_keeps_good_lines_among_bad(tmp_path):
    lines = [
        json.dumps({"text": "First article text.", "title": "One", "url": "https://a.example/1", "date": "2023-03-16"}),
        "{broken",
        "",
        json.dumps([1, 2]),
        json.dumps({"title": "no text"}),
        json.dumps({"body": "Body field text.", "published_at": "2023-03-17T10:00:00Z"}),
        json.dumps({"text": "  "}),
    ]
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = read(p)
    assert summary(items) == [
        (0, "doc"),
        (1, "malformed_json"),
        (3, "malformed_json"),
        (4, "missing_text_field"),
        (5, "doc"),
        (6, "empty_text"),
    ]
    first, fifth = (i for i in items if isinstance(i, RawRecord))
    assert (first.text, first.title, first.url, first.published_at) == (
        "First article text.",
        "One",
        "https://a.example/1",
        "2023-03-16",
    )
    assert (fifth.text, fifth.published_at) == ("Body field text.", "2023-03-17T10:00:00Z")
    bad = next(i for i in items if i.record_index == 1)
    assert bad.raw_text == "{broken\n" and "line 2" in bad.detail


def test_jsonl_gz_and_truncation(tmp_path):
    rnd = random.Random(0)
    lines = [(json.dumps({"text": f"Article {i} " + rnd.randbytes(400).hex()}) + "\n").encode() for i in range(6)]
    whole = gzip.compress(b"".join(lines), mtime=0)
    ok = tmp_path / "ok.jsonl.gz"
    ok.write_bytes(whole)
    assert summary(read(ok)) == [(i, "doc") for i in range(6)]
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    got = summary(read(cut))
    assert got[-1][1] == "truncated_gzip"
    assert got[:-1] == [(i, "doc") for i in range(len(got) - 1)]
    assert 0 < len(got) - 1 < 6


def test_jsonl_gz_not_gzip(tmp_path):
    p = tmp_path / "a.jsonl.gz"
    p.write_text(json.dumps({"text": "plain"}) + "\n", encoding="utf-8")
    assert summary(read(p)) == [(0, "corrupt_gzip")]


def test_csv_embedded_newlines_and_bad_rows(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(
        'title,text,url\r\nOne,"Line one,\nline two ""quoted""",https://a.example/1\r\nshort row\r\nThree,,u\r\n',
        encoding="utf-8",
    )
    items = read(p)
    assert summary(items) == [(0, "doc"), (1, "malformed_csv"), (2, "empty_text")]
    assert items[0].text == 'Line one,\nline two "quoted"'
    assert (items[0].title, items[0].url) == ("One", "https://a.example/1")


def test_csv_without_text_column(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("id,headline\n1,x\n", encoding="utf-8")
    [rej] = read(p)
    assert rej.reason_code == "missing_text_column" and "headline" in rej.detail


def test_parquet_rows_and_schema(tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(
        pa.table({"text": ["First text.", None, "Third text."], "title": ["A", "B", None], "extra": [1, 2, 3]}), good
    )
    items = read(good)
    assert summary(items) == [(0, "doc"), (1, "empty_text"), (2, "doc")]
    assert [(i.text, i.title) for i in items if isinstance(i, RawRecord)] == [
        ("First text.", "A"),
        ("Third text.", None),
    ]
    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), wrong)
    assert summary(read(wrong)) == [(0, "wrong_schema")]
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1not really parquetPAR1")
    assert summary(read(corrupt)) == [(0, "corrupt_parquet")]


def test_parquet_text_in_any_string_layout_and_the_first_string_text_field(tmp_path):
    """pandas writes a `category` column dictionary-encoded; Arrow also has string_view; a non-string `text`
    column gives way to a string `content` column, as in JSONL."""
    for name, table in [
        ("dictionary", pa.table({"text": pa.array(["One two.", "One two."]).dictionary_encode()})),
        ("view", pa.table({"text": pa.array(["One two.", "One two."], pa.string_view())})),
        ("content", pa.table({"text": [1, 2], "content": ["One two.", "One two."]})),
    ]:
        pq.write_table(table, tmp_path / f"{name}.parquet")
        items = read(tmp_path / f"{name}.parquet")
        assert [(type(i).__name__, i.text) for i in items] == [("RawRecord", "One two.")] * 2, name


def test_unsupported_format(tmp_path):
    p = tmp_path / "a.pdf"
    p.write_bytes(b"%PDF-1.4")
    assert summary(read(p)) == [(0, "unsupported_format")]


# --- size limits ----------------------------------------------------------------------------------------------
def test_oversized_file_is_rejected_before_decoding(tmp_path, monkeypatch):
    def no_decode(data):
        raise AssertionError("decoded a file that is over the byte limit")

    monkeypatch.setattr(readers, "decode_bytes", no_decode)
    p = tmp_path / "a.txt"
    p.write_bytes(b"x" * (4 * 100 + 5))  # more bytes than 100 characters can take in any encoding
    [rej] = read(p, max_doc_chars=100)
    assert rej.reason_code == "document_too_large" and "not read" in rej.detail


def test_character_limit_is_exact(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("é" * 100, encoding="utf-8")  # 200 bytes, 100 characters
    assert summary(read(p, max_doc_chars=100)) == [(0, "doc")]
    assert summary(read(p, max_doc_chars=99)) == [(0, "document_too_large")]


def test_limit_applies_per_record_in_multi_record_files(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"text": "x" * 50}) + "\n" + json.dumps({"text": "short"}) + "\n", encoding="utf-8")
    assert summary(read(p, max_doc_chars=10)) == [(0, "document_too_large"), (1, "doc")]
    c = tmp_path / "a.csv"
    c.write_text("text\n" + "y" * 50 + "\nshort\n", encoding="utf-8")
    assert summary(read(c, max_doc_chars=10)) == [(0, "document_too_large"), (1, "doc")]
    q = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": ["z" * 50, "short"]}), q)
    assert summary(read(q, max_doc_chars=10)) == [(0, "document_too_large"), (1, "doc")]


def test_failure_mid_file_keeps_records_and_unique_ids(tmp_path, monkeypatch):
    def flaky(f, max_doc_chars):
        yield RawRecord(f"{f.file_id}:0", f.file_id, 0, "first")
        yield RawRecord(f"{f.file_id}:1", f.file_id, 1, "second")
        raise OSError(5, "Input/output error")

    monkeypatch.setitem(readers._READERS, "txt", flaky)
    p = tmp_path / "a.txt"
    p.write_text("x", encoding="utf-8")
    assert summary(read(p)) == [(0, "doc"), (1, "doc"), (2, "unreadable_file")]


def test_unexpected_reader_error_becomes_a_rejection(tmp_path, monkeypatch):
    def broken(f, max_doc_chars):
        raise RecursionError("maximum recursion depth exceeded")
        yield  # pragma: no cover

    monkeypatch.setitem(readers._READERS, "txt", broken)
    p = tmp_path / "a.txt"
    p.write_text("x", encoding="utf-8")
    [rej] = read(p)
    assert (rej.reason_code, rej.record_index) == ("read_error", 0) and "RecursionError" in rej.detail


# --- discovery ---------------------------------------------------------------------------------------------------
def test_discover_dirs_files_globs_and_hidden(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    for rel in ["d/a.txt", "d/sub/b.md", "d/.hidden/c.txt", "d/.dot.txt", "top.csv"]:
        (tmp_path / rel).write_text("x", encoding="utf-8")
    files, problems = discover([str(tmp_path / "d"), str(tmp_path / "*.csv"), str(tmp_path / "nope.txt")])
    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == ["d/a.txt", "d/sub/b.md", "top.csv"]
    assert problems == [(str(tmp_path / "nope.txt"), "input_not_found", f"no such file: {tmp_path / 'nope.txt'}")]
    _, problems = discover([str(tmp_path / "*.xml")])
    assert [p[1] for p in problems] == ["input_not_found"]


def test_discover_recursive_glob_does_not_follow_symlink_loops(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x", encoding="utf-8")
    (tmp_path / "g.txt").write_text("y", encoding="utf-8")
    (tmp_path / "a" / "up").symlink_to("..", target_is_directory=True)
    (tmp_path / "a" / "self").symlink_to(".", target_is_directory=True)
    for spec, want in [
        ("**/*.txt", ["a/f.txt", "g.txt"]),
        ("**", ["a/f.txt", "g.txt"]),
        ("a/**", ["a/f.txt"]),
        ("**/[fh].txt", ["a/f.txt"]),
        ("*/*.txt", ["a/f.txt"]),
    ]:
        files, problems = discover([str(tmp_path / spec)])
        assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == want, spec
        assert problems == []


def test_discover_refuses_fifo_device_and_undecodable_names(tmp_path):
    os.mkfifo(tmp_path / "feed.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / os.fsdecode(b"caf\xe9.txt")).write_text("x", encoding="utf-8")
    (tmp_path / "ok.txt").write_text("x", encoding="utf-8")
    files, problems = discover([str(tmp_path)])
    assert files == [str(tmp_path / "ok.txt")]
    assert sorted((Path(p).name, code) for p, code, _ in problems) == [
        ("caf\\xe9.txt", "bad_file_name"),
        ("feed.txt", "not_a_regular_file"),
        ("zero.txt", "not_a_regular_file"),
    ]
    for p, _, _ in problems:
        p.encode("utf-8")  # storable as it is


def test_symlink_loop_file_is_listed_and_unreadable(tmp_path):
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    files, problems = discover([str(tmp_path)])
    assert (files, problems) == ([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], [])
    with pytest.raises(OSError):
        hash_file(files[0])  # the flow turns this into an unreadable_file quarantine row


def test_one_file_given_in_several_spellings_is_one_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in1").mkdir()
    (tmp_path / "in1" / "a.txt").write_text("Some text.", encoding="utf-8")
    (tmp_path / "in1" / "b.txt").symlink_to("a.txt")
    spellings = ["in1/a.txt", "./in1/a.txt", str(tmp_path / "in1" / "a.txt"), "in1//a.txt", "in1", "in1/b.txt"]
    files, problems = discover(spellings)
    assert (files, problems) == ([str(tmp_path / "in1" / "a.txt")], [])


def test_a_csv_row_short_of_any_field_is_malformed_and_an_extra_field_is_kept(tmp_path):
    """The README's malformed_csv: fewer fields than the header, also when only a metadata field is missing (the
    row was accepted); a row with one field too many keeps its record, as before."""
    p = tmp_path / "a.csv"
    p.write_text("text,title,url\nFirst text.,One,https://a.example/1\nSecond text.,Two\n"
                 "Third text.,Three,https://a.example/3,extra\n", encoding="utf-8")  # fmt: skip
    items = read(p)
    assert summary(items) == [(0, "doc"), (1, "malformed_csv"), (2, "doc")]
    assert items[1].detail == "row 2 has 2 of the header's 3 fields"
