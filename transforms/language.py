"""Language identification with langdetect, made deterministic by a fixed seed.

Returns an ISO 639-1 code and the top probability, or 'und' when the text is too short or the detector is
unsure. Only the first `SAMPLE_CHARS` characters are read: enough for a stable answer, and bounded cost.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from langdetect import DetectorFactory, detector_factory
from langdetect.detector import Detector
from langdetect.detector_factory import init_factory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.language import Language
from langdetect.utils.ngram import NGram

if TYPE_CHECKING:
    import pyarrow as pa

SEED = 0
MIN_LETTERS = 20
MIN_PROB = 0.80
# 500: the labels of 1,000 on 1,600 bench documents (all 100 non-English ones), 1.5x faster (3.4 vs 5.1 ms a
# document); 1,000 had the labels of 3,000 on 641 bench articles
SAMPLE_CHARS = 500
UND = "und"
_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass(frozen=True, slots=True)
class LangResult:
    lang: str
    prob: float


_INIT_LOCK = threading.Lock()


def _ensure_profiles() -> None:
    """Load langdetect's profiles once, under a lock. Its own lazy init publishes the factory before the profiles
    are loaded, so a second thread (batches run on a thread pool) would detect against a half-loaded set: seen as
    half of a 10k run labelled und/pl/af instead of en."""
    with _INIT_LOCK:
        init_factory()


_NGRAM_CHAR: dict[str, str] = {}  # each character as langdetect's n-grams see it (NGram.normalize)


class _ProfileRows:
    """The profiles' probabilities of each n-gram (55 languages) as rows of one array, a row added at the n-gram's
    first use. The 10k bench corpus (English, 1 % other) uses 2,863 of the 87,598 n-grams (1.3 MB), the language-ID
    dev set (20 languages) 25,393 (11 MB); all of them would take 38.5 MB a process. Copying a document's rows from
    langdetect's lists instead took longer (0.5 ms a document) than the detection saved."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.array = np.empty((0, 0))
        self.lock = threading.Lock()

    def rows(self, words: list[str], profiles: dict[str, list[float]]) -> tuple[list[int], np.ndarray]:
        """The row of each of `words`, and an array that holds them all."""
        index = self.index
        if any(w not in index for w in words):
            with self.lock:
                new = [w for w in dict.fromkeys(words) if w not in index]
                n, array = len(index), self.array
                if n + len(new) > len(array):
                    size = min(len(profiles), max(1024, 2 * (n + len(new))))
                    grown = np.empty((size, len(profiles[new[0]])))
                    if n:
                        grown[:n] = array[:n]
                    array = grown
                for i, w in enumerate(new, n):
                    array[i] = profiles[w]
                self.array = array
                index.update((w, i) for i, w in enumerate(new, n))  # after the rows are written: read without lock
        array = self.array
        return [index[w] for w in words], array


_ROWS = _ProfileRows()


class _Detector(Detector):
    """langdetect's `Detector` with its two inner loops rewritten: the same probabilities to the last bit in ~62 % of
    the time (0.83 against 1.33 ms a text on 19,583 texts: the language-ID dev set and the 10k bench corpus's
    samples; `tests/test_language.py` compares them with langdetect's own in 15 languages and on random text).

    `_extract_ngrams` walks the text once with NGram's state in locals, each character normalized once a process.
    `_detect_block` keeps langdetect's algorithm, its random draws and the order of every floating-point operation
    (each language's probability multiplied by weight + the drawn n-gram's probability, one n-gram at a time, and
    divided by their sum, added first language to last, at every fifth draw), on numpy rows instead of lists.
    """

    def _extract_ngrams(self) -> list[str]:
        vocab = self.word_lang_prob_map
        out: list[str] = []
        grams, capital = " ", False
        for ch in self.text:
            c = _NGRAM_CHAR.get(ch)
            if c is None:
                c = _NGRAM_CHAR[ch] = NGram.normalize(ch)
            last = grams[-1]
            if last == " ":  # NGram.add_char
                grams, capital = " ", False
                if c == " ":
                    continue
            elif len(grams) >= NGram.N_GRAM:
                grams = grams[1:]
            grams += c
            capital = c.isupper() and (capital or last.isupper())
            if capital:
                continue
            if c != " " and c in vocab:  # the 1-, 2- and 3-gram ending here, if the profiles know them
                out.append(c)
            if len(grams) >= 2:
                if grams[-2:] in vocab:
                    out.append(grams[-2:])
                if len(grams) == 3 and grams in vocab:
                    out.append(grams)
        return out

    def _detect_block(self) -> None:
        self.cleaning_text()
        ngrams = self._extract_ngrams()
        if not ngrams:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        rows, table = _ROWS.rows(ngrams, self.word_lang_prob_map)  # random.choice(ngrams), as a row of `table`
        n = len(self.langlist)
        factors = np.empty((6, n))  # the probabilities, then (weight + p) of each n-gram drawn since
        langprob = np.zeros(n)
        self.random.seed(self.seed)
        choice = self.random.choice
        for _ in range(self.n_trial):
            prob = np.array(self._init_probability())
            alpha = self.alpha + self.random.gauss(0.0, 1.0) * self.ALPHA_WIDTH
            weight = alpha / self.BASE_FREQ
            i, k = 0, 1  # the draws from one convergence check to the next: i = 0, then 1-5, 6-10, ...
            while True:
                factors[0] = prob
                np.add(table[[choice(rows) for _ in range(k)]], weight, out=factors[1 : k + 1])
                prob = np.multiply.reduce(factors[: k + 1], axis=0)  # prob * (w + p_1) * (w + p_2) ..., in order
                prob /= np.add.accumulate(prob)[-1]
                if prob.max() > self.CONV_THRESHOLD or i >= self.ITERATION_LIMIT:
                    break
                i, k = i + 5, 5
            langprob += prob / self.n_trial
        self.langprob = langprob.tolist()


def detect_langs(text: str) -> list[Language]:
    """langdetect's `detect_langs`, on `_Detector`."""
    _ensure_profiles()
    detector = _Detector(detector_factory._factory)
    detector.append(text)
    return detector.get_probabilities()


def language_sample(text: str) -> str:
    """All of `text` that `detect_language` reads: a caller can send only this to a worker process."""
    return text[:SAMPLE_CHARS]


def language_samples(texts: pa.Array | pa.ChunkedArray) -> list[str]:
    """`language_sample` of each of `texts` (non-null), sliced in Arrow: a column's full texts never become
    Python strings. (pyarrow is imported here: the language workers, which import this module, do not need it.)"""
    import pyarrow.compute as pc

    return pc.utf8_slice_codeunits(texts, 0, SAMPLE_CHARS).to_pylist()  # slices code points, as str[:n] does


def detect_language(text: str, *, min_letters: int = MIN_LETTERS, min_prob: float = MIN_PROB) -> LangResult:
    """Language of `text` as (ISO 639-1 code | 'und', probability in [0, 1])."""
    sample = language_sample(text)
    if len(_LETTER.findall(sample)) < min_letters:
        return LangResult(UND, 0.0)
    DetectorFactory.seed = SEED  # detect_langs loads the profiles
    try:
        candidates = detect_langs(sample)
    except LangDetectException:
        return LangResult(UND, 0.0)
    # zh-cn and zh-tw split the probability of Chinese between them: add them up before choosing
    by_code: dict[str, float] = {}
    for c in candidates:
        code = c.lang.split("-")[0]
        by_code[code] = by_code.get(code, 0.0) + float(c.prob)
    code, prob = max(by_code.items(), key=lambda kv: kv[1])
    prob = min(max(prob, 0.0), 1.0)
    if prob < min_prob:
        return LangResult(UND, prob)
    return LangResult(code, prob)
