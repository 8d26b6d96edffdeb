"""bench/make_corpus.py: same seed gives the same bytes, and the manifest counts what is on disk.

Small corpora, read back with the standard library and pyarrow only (no newsetl readers, no Prefect).
"""

from __future__ import annotations

import csv
import gzip
import importlib.util
import io
import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def make_corpus():
    spec = importlib.util.spec_from_file_location("make_corpus", ROOT / "bench" / "make_corpus.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def corpus(make_corpus, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("corpus")
    make_corpus.write_corpus(300, out, seed=11)
    return out, json.loads((out / "manifest.json").read_text())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _fmt(path: str) -> str:
    return "jsonl.gz" if path.endswith(".jsonl.gz") else path.rsplit(".", 1)[1]


def _records(path: Path) -> list[str | None]:
    """Each record's text as on disk; None for a line that is not valid JSON (an unreadable record)."""
    fmt = _fmt(path.name)
    if fmt in ("jsonl", "jsonl.gz"):
        data = gzip.decompress(path.read_bytes()) if fmt == "jsonl.gz" else path.read_bytes()
        out: list[str | None] = []
        for line in data.decode("utf-8").splitlines():
            try:
                out.append(json.loads(line)["text"])
            except ValueError:
                out.append(None)
        return out
    if fmt == "csv":
        return [row["text"] for row in csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))]
    if fmt == "parquet":
        return pq.read_table(path).column("text").to_pylist()
    return [path.read_bytes().decode("utf-8", "replace")]  # txt, md, html: one record per file


def test_same_seed_same_bytes(make_corpus, tmp_path):
    for name in ("a", "b"):
        make_corpus.write_corpus(120, tmp_path / name, seed=5)
    make_corpus.write_corpus(120, tmp_path / "c", seed=6)
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    assert a.keys() >= {"manifest.json", "labels.jsonl.gz"}
    assert a["docs/grouped/part_00000.jsonl"] != c.get("docs/grouped/part_00000.jsonl")


def test_manifest_counts_files_and_records(corpus):
    out, m = corpus
    docs = out / "docs"
    paths = [p for p in sorted(docs.rglob("*")) if p.is_file()]
    assert m["records"] == m["docs"] == 300
    assert dict(Counter(_fmt(p.name) for p in paths)) == m["files"]
    assert set(m["files"]) == {"txt", "md", "html", "jsonl", "jsonl.gz", "csv", "parquet"}
    per_format = Counter()
    for p in paths:
        per_format[_fmt(p.name)] += len(_records(p))
    assert dict(per_format) == m["records_by_format"]
    assert sum(per_format.values()) == m["records"]
    assert not (docs / "manifest.json").exists()  # the pipeline's input holds only documents


def test_manifest_counts_broken_records(corpus):
    out, m = corpus
    texts = [(p, t) for p in sorted((out / "docs").rglob("*")) if p.is_file() for t in _records(p)]
    malformed = sum(1 for _, t in texts if t is None)
    empty = sum(1 for p, t in texts if t is not None and not t.strip() and _fmt(p.name) != "txt")
    binary = sum(1 for p in (out / "docs").rglob("*.txt") if b"\x00" in p.read_bytes())
    assert {"malformed_json": malformed, "empty_text": empty, "binary_txt": binary} == m["broken"]
    assert min(m["broken"].values()) >= 1
    assert m["broken_total"] == malformed + empty + binary


def test_manifest_counts_duplicates_and_languages(corpus):
    out, m = corpus
    grouped = [t for p in sorted((out / "docs" / "grouped").iterdir()) for t in _records(p) if t and t.strip()]
    assert len(grouped) - len(set(grouped)) == m["exact_dups"] > 0
    assert m["expected_documents"] == m["records"] - m["broken_total"] - m["exact_dups"]
    labels = [json.loads(line) for line in gzip.decompress((out / "labels.jsonl.gz").read_bytes()).splitlines()]
    kinds = Counter(lb["kind"] for lb in labels)
    assert kinds["exact"] == m["exact_dups"] and kinds["near"] == m["near_dups"] > 0
    assert dict(Counter(lb["lang"] for lb in labels if lb["kind"] == "foreign")) == m["non_english"]
    assert set(m["non_english"]) == {"fr", "es", "de"}


def test_near_duplicates_differ_a_little_from_their_original(corpus):
    out, _ = corpus
    labels = [json.loads(line) for line in gzip.decompress((out / "labels.jsonl.gz").read_bytes()).splitlines()]
    cache: dict[str, list] = {}

    def text(lb: dict) -> str:
        if lb["file"] not in cache:
            cache[lb["file"]] = _records(out / "docs" / lb["file"])
        return cache[lb["file"]][lb["index"]]

    original = {lb["base"]: lb for lb in labels if lb["kind"] == "base"}
    for lb in (lb for lb in labels if lb["kind"] == "near"):
        a, b = text(original[lb["base"]]).split(), text(lb).split()
        assert a != b
        same = sum(x == y for x, y in zip(a, b, strict=False))
        assert same >= 0.9 * len(a), (lb, same, len(a))


def test_documents_are_300_to_800_words(corpus):
    out, _ = corpus
    for p in sorted((out / "docs" / "grouped").iterdir()):
        for t in _records(p):
            if t and t.strip():
                assert 300 <= len(t.split()) <= 800
