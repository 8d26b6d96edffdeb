"""ExtractPool: the same rows as extract_batch chunk by chunk, skips, parser errors, long texts, shutdown, crashes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from transforms import extract
from transforms.extract import extract_batch, extract_documents, load_nlp, merge_entities
from transforms.extract_pool import ExtractPool, ExtractWorkerError

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
LONG_PARA = "Vladimir Putin met Recep Tayyip Erdogan in Ankara on Tuesday."
LONG_REPEATS = 120  # 7.6k characters: two NER segments of at most 5k
MACRON = {"entity_id": "Eknownmacron00001", "name": "Emmanuel Macron", "type": "PERSON", "country_code": None,
          "aliases": ["Emmanuel Macron", "President Macron"], "mention_count": 4}  # fmt: skip


def _doc(doc_id: str, text: str, lang: str = "en", published_at: str | None = None) -> dict:
    return {"doc_id": doc_id, "text": text, "lang": lang, "published_at": published_at}


def _corpus() -> list[list[dict]]:
    """~250 short documents cut from the seeds in chunks of 48, with skips and a long text mixed in, then a last
    chunk of surname-only documents that resolve only through the entities of earlier chunks or runs."""
    paras = [p.strip() for f in sorted(SEEDS.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n")]
    paras = [p for p in paras if len(p.split()) >= 8]
    dates = ["2023-03-16", None, "2022-02-26"]
    docs = [
        _doc(f"p{i:03d}", f"{paras[i % len(paras)]}\n\n{paras[(7 * i + 3) % len(paras)]}", published_at=dates[i % 3])
        for i in range(240)
    ]
    docs[5] = _doc("empty", "  \n ")
    docs[50] = _doc("fr", "Le président syrien a rencontré Vladimir Poutine à Moscou.", lang="fr")
    docs[100] = _doc("long", "\n\n".join([LONG_PARA] * LONG_REPEATS))
    docs[150] = _doc("seed004", (SEEDS / "004_dd5b4a6056b2a50f.txt").read_text(encoding="utf-8"))
    chunks = [docs[i : i + 48] for i in range(0, len(docs), 48)]
    chunks.append([_doc("assad", "Assad said the talks in Moscow would go on."),
                   _doc("macron", "Macron said the talks in Berlin would go on.")])  # fmt: skip
    return chunks


def _reference(chunks: list[list[dict]], nlp) -> list[dict]:
    """extract_batch chunk by chunk, as flows/etl.py calls it: known entities plus those of earlier chunks."""
    known, entities, out = [MACRON], [], []
    for chunk in chunks:
        res = extract_batch(chunk, nlp, known_entities=known + entities)
        entities = merge_entities(entities + res["entities"])
        out.append(res)
    return out


def _pooled(pool: ExtractPool, chunks: list[list[dict]]) -> list[dict]:
    """The pool over the same chunks, with the same accumulation through the known_entities callback."""
    known, entities, out = [MACRON], [], []

    def known_entities() -> list[dict]:
        return known + entities  # read when the pool resolves a chunk: after the loop below took the previous

    for res in pool.extract_chunks(iter(chunks), known_entities):
        entities = merge_entities(entities + res["entities"])
        out.append(res)
    return out


def _children() -> set[int]:
    """Live child processes of this one, without multiprocessing's resource tracker (it lives until exit)."""
    out = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(p.cmdline()):
                out.add(p.pid)
        except psutil.Error:
            continue
    return out


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging."""

    def _timeout(*_):
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def nlp():
    return load_nlp()


@pytest.fixture(scope="module")
def chunks():
    return _corpus()


@pytest.fixture(scope="module")
def reference(chunks, nlp):
    return _reference(chunks, nlp)


@pytest.fixture(scope="module")
def pooled2(chunks):
    """Pool results with two spawned workers, and the child processes left once the pool has exited."""
    before = _children()
    with ExtractPool(n_process=2) as pool:
        out = _pooled(pool, chunks)
    return out, _children() - before


def test_two_workers_give_the_rows_of_extract_batch(pooled2, reference):
    out, _ = pooled2
    assert len(out) == len(reference)
    for got, want in zip(out, reference, strict=True):
        assert got == want


def test_in_process_pool_gives_the_rows_of_extract_batch(chunks, nlp, reference):
    with ExtractPool(n_process=1, nlp=nlp) as pool:
        assert _pooled(pool, chunks) == reference


def test_entities_of_earlier_chunks_and_runs_link_surnames(pooled2):
    out, _ = pooled2
    earlier = {e["entity_id"]: e for res in out[:-1] for e in res["entities"]}
    ids = {m["surface"]: m["entity_id"] for m in out[-1]["mentions"]}
    assert earlier[ids["Assad"]]["name"] == "Bashar al-Assad"  # only earlier chunks name him in full
    assert ids["Macron"] == MACRON["entity_id"]  # a known entity of an earlier run


def test_skipped_documents_have_reasons(pooled2):
    out, _ = pooled2
    skipped = [s for res in out for s in res["skipped"]]
    assert skipped == [{"doc_id": "empty", "reason": "empty_text"}, {"doc_id": "fr", "reason": "non_english"}]
    assert not any(r["doc_id"] in ("empty", "fr") for res in out for k in ("mentions", "dates") for r in res[k])


def test_long_document_goes_through_ner_in_segments(pooled2, chunks):
    out, _ = pooled2
    text = next(d["text"] for c in chunks for d in c if d["doc_id"] == "long")
    assert len(extract.segments(text)) == 2
    mentions = [m for res in out for m in res["mentions"] if m["doc_id"] == "long"]
    assert all(text[m["start"] : m["end"]] == m["surface"] for m in mentions)
    assert [m["surface"] for m in mentions].count("Ankara") == LONG_REPEATS


def test_no_process_is_left_after_the_pool_exits(pooled2):
    _, left = pooled2
    assert left == set()


def test_parser_exception_skips_only_that_document(nlp, monkeypatch):
    real = extract.parse_figures

    def flaky(text, *args, **kwargs):
        if "boom" in text:
            raise ValueError("boom")
        return real(text, *args, **kwargs)

    monkeypatch.setattr(extract, "parse_figures", flaky)
    docs = [_doc("a", "Vladimir Putin met 3 ministers."), _doc("b", "boom: 5 people in Moscow."),
            _doc("c", "Assad met 2 envoys."), _doc("d", "", lang="en")]  # fmt: skip
    xs = extract_documents(docs, nlp)  # what a worker runs
    assert [x.skip for x in xs] == [None, "extract_error: ValueError: boom", None, "empty_text"]
    with ExtractPool(n_process=1, nlp=nlp) as pool:
        (res,) = pool.extract_chunks([docs])
    assert res["skipped"] == [{"doc_id": "d", "reason": "empty_text"},
                              {"doc_id": "b", "reason": "extract_error: ValueError: boom"}]  # fmt: skip
    assert {r["doc_id"] for k in ("mentions", "figures") for r in res[k]} == {"a", "c"}


def test_worker_task_matches_extract_documents_and_frees_new_words(nlp, monkeypatch):
    from transforms import extract_pool

    monkeypatch.setattr(extract_pool, "_NLP", nlp)
    docs = [_doc("a", "Zqxwvbn Kplorst met Vladimir Putin in Moscow on 3 March."), _doc("b", "", lang="en")]
    got = extract_pool._work(docs, 16)
    assert "Zqxwvbn" not in nlp.vocab.strings  # the task's memory zone dropped the new word
    assert got == extract_documents(docs, nlp)


def _small_chunks(n: int) -> Iterator[list[dict]]:
    for i in range(n):
        yield [_doc(f"s{i}-{j}", f"Report {i} number {j} about the talks.") for j in range(4)]


def test_consumer_error_mid_stream_leaves_no_process():
    before = _children()
    pool = ExtractPool(n_process=2, model="blank:en", docs_per_task=1)
    with _deadline(60), pytest.raises(KeyError, match="stop here"), pool:
        for k, _res in enumerate(pool.extract_chunks(_small_chunks(1000))):
            if k == 3:
                raise KeyError("stop here")
    assert _children() - before == set()


def test_worker_death_raises_instead_of_hanging():
    before = _children()
    with _deadline(60), ExtractPool(n_process=2, model="blank:en", docs_per_task=1) as pool:
        stream = pool.extract_chunks(_small_chunks(100_000))
        next(stream)
        workers = _children() - before
        assert len(workers) == 2
        os.kill(workers.pop(), signal.SIGKILL)
        with pytest.raises(ExtractWorkerError, match="died"):
            for _ in stream:
                pass
    assert _children() - before == set()
