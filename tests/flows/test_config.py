import pytest

from flows.config import ConfigError, resolve


def test_the_memory_measures_have_their_own_thresholds(monkeypatch, tmp_path):
    """`one_worker` (dedup reduces) and `fresh_workers` (before extract) are set apart: 30,000 and 5,000 by default,
    each from its own environment variable."""
    for name in ("NEWSETL_ONE_WORKER_DOCS", "NEWSETL_FRESH_WORKERS_DOCS"):
        monkeypatch.delenv(name, raising=False)
    s = resolve(warehouse=tmp_path)
    assert (s.one_worker_docs, s.fresh_workers_docs) == (30_000, 5_000)
    monkeypatch.setenv("NEWSETL_ONE_WORKER_DOCS", "1200")
    s = resolve(warehouse=tmp_path)
    assert (s.one_worker_docs, s.fresh_workers_docs) == (1_200, 5_000)
    monkeypatch.setenv("NEWSETL_ONE_WORKER_DOCS", "many")
    with pytest.raises(ConfigError, match="one_worker_docs must be a positive integer, got 'many'"):
        resolve(warehouse=tmp_path)
