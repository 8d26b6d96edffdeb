"""bench/dedup_eval.py: the edit operations hold for short texts too."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dedup_eval():
    spec = importlib.util.spec_from_file_location("dedup_eval", ROOT / "bench" / "dedup_eval.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("text", ["One sentence. Two sentences. Three.", "Head. Lead.\n\nFoot. Note."])
def test_delete_sentences_on_texts_under_three_paragraphs(dedup_eval, text):
    g = dedup_eval.Generator(3, n_topics=2)
    out = dedup_eval.delete_sentences(g, text)
    assert out.count("\n\n") == text.count("\n\n")
    assert len(out) < len(text)


@pytest.fixture(scope="module")
def dedup_corpus():
    sys.path.insert(0, str(ROOT))
    from bench import dedup_corpus as mod

    return mod


def test_dense_corpus_is_seeded_labelled_and_shares_sentences(dedup_corpus):
    c = dedup_corpus.dense(400, 3)
    assert c.texts == dedup_corpus.dense(400, 3).texts and c.labels == dedup_corpus.dense(400, 3).labels
    assert len(c.texts) >= 400 and len(set(c.texts)) == len(c.texts)  # exact copies are listed apart
    assert all(0 <= i < len(c.texts) and c.kinds[i] == "base" for i in c.exact_copies)
    bases = [i for i, k in enumerate(c.kinds) if k == "base"]
    assert len(set(c.labels)) == len(bases)
    assert {op for k in c.kinds if k != "base" for op in k.split("+")} == set(dedup_corpus.Dense.EDITS)
    # different articles share sentence templates (with other names), so their word 5-shingles overlap
    from transforms import dedup

    sh = [dedup.shingles(c.texts[i]) for i in bases[:30]]
    jac = [dedup.jaccard(a, b) for i, a in enumerate(sh) for b in sh[i + 1 :]]
    assert 0.03 < sum(jac) / len(jac) < 0.15
    n_sentences = [len(re.findall(r"\.(?:\s|$)", c.texts[i])) for i in bases[:30]]
    assert min(n_sentences) >= 15 and max(n_sentences) <= 40


def test_wire_and_syndication_copies(dedup_corpus):
    w = dedup_corpus.wire_copies(3, 60, label=9)
    assert len(w.texts) == 61 and set(w.labels) == {9} and w.kinds[0] == "wire"
    story_body = set(w.texts[0].split("\n\n")[1:])
    s = dedup_corpus.syndication(300, 3)
    assert len(s.texts) == 300
    per_story = {lab: s.labels.count(lab) for lab in set(s.labels)}
    assert all(30 <= k <= 64 for k in list(per_story.values())[:-1])  # the last story is cut at n
    first = [t for t, lab in zip(s.texts, s.labels, strict=True) if lab == 0]
    bodies = [sorted(t.split("\n\n")[2:-1]) for t in first]
    assert all(b == bodies[0] for b in bodies)  # the same paragraphs, reordered
    assert len({t.split("\n\n")[2] for t in first}) > 1
    assert story_body  # the wire story has a body


def test_write_jsonl_keeps_exact_copies(dedup_corpus, tmp_path):
    c = dedup_corpus.dense(200, 5)
    path = tmp_path / "docs" / "dense.jsonl"
    n = dedup_corpus.write_jsonl(path, c, 5)
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert n == len(lines) == len(c.texts) + len(c.exact_copies)
    assert sorted(x["text"] for x in lines) == sorted(c.texts + [c.texts[i] for i in c.exact_copies])
    assert all(x["title"] and x["url"] for x in lines)


def test_eval_runs_the_map_and_reduce_on_a_dense_corpus(dedup_eval, tmp_path):
    out = tmp_path / "dense.json"
    args = ["--corpus", "dense", "--docs", "300", "--jobs", "1", "--baseline-docs", "20", "--out", str(out)]
    assert dedup_eval.main(args) == 0
    r = json.loads(out.read_text())
    assert r["corpus"] == "dense" and r["docs"] >= 300
    assert r["precision"] >= 0.99 and r["recall"] >= 0.95
    assert r["stage_stats"][0]["limits"]["anchors"] == 2
    assert 0 < r["candidate_pairs_per_doc"] < 50
    assert r["map_task_secs"] > 0 and r["reduce_secs"] > 0
