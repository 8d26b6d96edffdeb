"""bench/extract_split.py: on a small generated corpus it times every piece it names, on the texts it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_extract_split_times_each_piece_on_the_sampled_texts(tmp_path):
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "make_corpus.py"),
            "--docs",
            "30",
            "--out",
            str(tmp_path),
            "--words",
            "60",
            "120",
        ],
        check=True,
        capture_output=True,
    )
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "extract_split.py"), "--corpus", str(tmp_path), "--texts", "6"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert re.search(r"^6 texts, [\d,]+ words, one process$", out, re.M), out
    pieces = ["bare nlp.pipe (batch 32)", "truecase", "run_ner (batch", "parse_document (rules)",
              "extract_documents (whole map)", "bare nlp.pipe (batch 32) again"]  # fmt: skip
    for piece in pieces:
        m = re.search(rf"^{re.escape(piece)}.*?\s([\d.]+) s\s+([\d,]+) words/s$", out, re.M)
        assert m, (piece, out)
        assert float(m.group(1)) >= 0 and int(m.group(2).replace(",", "")) > 0
