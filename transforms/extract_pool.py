"""A persistent, streaming extraction pool: the extract stage over a stream of document chunks.

``extract_batch`` starts spaCy's worker processes on every call, ships whole Docs back and runs the rule
parsers in the calling process after all NER of the batch is done. ``ExtractPool`` starts ``n_process``
workers once (spawned; each loads the model and the gazetteers once, about 76 MB more per process) and streams
small batches of documents to them. A worker does all the per-document work (``extract_documents``: truecasing,
NER, rules, document-local entity keys and geocoding, sentences, dates, figures, quotes) and returns plain
``DocExtract`` rows; the calling process does only what needs cross-document state (``resolve_documents``:
``key_stats`` + ``resolve_keys`` against the known entities, then mention rows with entity ids and quotes with
speaker ids).

    known = KnownEntities(merge_entities(prior_entities))  # read by the pool just before it resolves a chunk

    with ExtractPool(n_process=2) as pool:
        for chunk, res in zip(chunks, pool.extract_chunks(chunks, lambda: known), strict=True):
            known.add(res["entities"])

Results are the same as ``extract_batch(chunk, nlp, known_entities=known)`` for each chunk in turn, for any
``n_process``. While the caller works on the result of chunk k, the workers go on with chunk
k+1 (and chunk k+2 is queued once the caller asks for the next result): the input is read lazily and at
most ``1 + chunks_ahead`` chunks are in the workers' hands, so memory stays bounded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from types import TracebackType

from transforms.entities import KnownEntities
from transforms.extract import MODEL_NAME, DocExtract, extract_documents, load_nlp, resolve_documents, warm_up
from transforms.workers import workers_skip_main

__all__ = ["DOC_KEYS", "ExtractPool", "ExtractWorkerError"]

DOCS_PER_TASK = 16  # documents sent to a worker at a time: small, so the last task of a stream ends soon
NER_BATCH_SIZE = 16  # NER pieces per nlp.pipe batch inside a worker (see transforms.extract.NER_SEGMENT_CHARS)
DOC_KEYS = ("doc_id", "text", "lang", "published_at")  # all a worker reads from a document

_END = object()
_NLP = None  # the worker's spaCy pipeline, loaded once by _init_worker


class ExtractWorkerError(RuntimeError):
    """A worker process died (killed, out of memory, a crash in native code); the pool is unusable."""


def _init_worker(model: str) -> None:
    global _NLP
    _NLP = load_nlp(model)
    warm_up()


def _work(docs: list[dict], batch_size: int) -> list[DocExtract]:
    """The task a worker runs: per-document extraction of a few documents.

    In a spaCy memory zone: a long-lived worker's vocab would otherwise keep every new word it has seen
    (~0.6 KB each, hundreds of MB over a large corpus). No spaCy object outlives the task, and the zone costs
    no measurable time (in-process, 240 articles: 17.1 s CPU with a zone per task, 17.1 s without).
    """
    with _NLP.memory_zone():
        return extract_documents(docs, _NLP, batch_size=batch_size)


class ExtractPool:
    """``n_process`` extraction workers, started once for many chunks (a context manager).

    ``n_process <= 1`` runs everything in the calling process, with ``nlp`` if given (else the model is
    loaded on entry); the results are the same. ``model`` is what the workers load (``load_nlp(model)``).
    """

    def __init__(
        self,
        n_process: int = 2,
        *,
        model: str = MODEL_NAME,
        nlp=None,
        docs_per_task: int = DOCS_PER_TASK,
        ner_batch_size: int = NER_BATCH_SIZE,
        chunks_ahead: int = 1,
    ) -> None:
        self.n_process = n_process
        self.model = model
        self.docs_per_task = docs_per_task
        self.ner_batch_size = ner_batch_size
        self.chunks_ahead = chunks_ahead
        self._nlp = nlp
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ExtractPool:
        self.start()
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def start(self) -> None:
        """Start the workers now (they load the model in the background), or load the model in-process."""
        if self.n_process <= 1:
            if self._nlp is None:
                self._nlp = load_nlp(self.model)
            return
        if self._executor is not None:
            return
        executor = ProcessPoolExecutor(self.n_process, get_context("spawn"), _init_worker, (self.model,))
        # ProcessPoolExecutor spawns a worker per submit while none is idle: one no-op task each starts all
        # of them here, without the parent's __main__ imports (see transforms.workers.workers_skip_main)
        with workers_skip_main():
            for _ in range(self.n_process):
                executor.submit(_work, [], self.ner_batch_size)
        self._executor = executor

    def close(self) -> None:
        """Cancel queued work, let running tasks end, and join the workers (no process is left behind)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def extract_chunks(
        self,
        chunks: Iterable[Sequence[Mapping]],
        known_entities: Callable[[], KnownEntities | Sequence[Mapping]] = tuple,
    ) -> Iterator[dict[str, list[dict]]]:
        """For each chunk of documents, in order, the dict ``extract_batch`` returns for it.

        ``known_entities()`` is called once per chunk, right before that chunk is resolved: after the caller
        has taken the previous chunk's result and asked for the next one. So a caller that adds each
        result's entities to a ``KnownEntities`` the callback returns gets, for chunk k, the entities of all
        chunks before k, exactly as when calling ``extract_batch`` in a loop.
        Raises ``ExtractWorkerError`` when a worker dies; an exception inside a worker is re-raised here.
        """
        if self.n_process <= 1:
            self.start()
            for chunk in chunks:
                docs = list(chunk)
                extracts = extract_documents(docs, self._nlp, batch_size=self.ner_batch_size)
                yield resolve_documents(docs, extracts, known_entities())
            return
        if self._executor is None:
            raise RuntimeError("ExtractPool is not started: use it as a context manager or call start()")
        yield from self._stream(self._executor, iter(chunks), known_entities)

    def _submit(self, executor: ProcessPoolExecutor, docs: list[Mapping]) -> list[Future]:
        """Send a chunk to the workers, ``docs_per_task`` documents per task, only the keys they read."""
        slim = [{k: d.get(k) for k in DOC_KEYS} for d in docs]
        step = self.docs_per_task
        return [executor.submit(_work, slim[i : i + step], self.ner_batch_size) for i in range(0, len(slim), step)]

    def _stream(
        self,
        executor: ProcessPoolExecutor,
        chunks: Iterator[Sequence[Mapping]],
        known_entities: Callable[[], KnownEntities | Sequence[Mapping]],
    ) -> Iterator[dict[str, list[dict]]]:
        window: deque[tuple[list[Mapping], list[Future]]] = deque()  # chunks in the workers' hands, in order
        try:
            while True:
                while len(window) <= self.chunks_ahead:  # read ahead before waiting, so workers never idle
                    chunk = next(chunks, _END)
                    if chunk is _END:
                        break
                    docs = list(chunk)
                    window.append((docs, self._submit(executor, docs)))
                if not window:
                    return
                docs, futures = window[0]
                extracts = [x for f in futures for x in f.result()]
                window.popleft()
                yield resolve_documents(docs, extracts, known_entities())
        except BrokenProcessPool as exc:
            raise ExtractWorkerError(
                "an extract worker process died (killed, out of memory or crashed); the pool is unusable"
            ) from exc
        finally:  # the consumer stopped early or something failed: queued tasks are not worth running
            for _, futures in window:
                for f in futures:
                    f.cancel()
