"""bench/dedup_eval.py: the edit operations hold for short texts too."""

from __future__ import annotations

import importlib.util
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
