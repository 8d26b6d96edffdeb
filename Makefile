# Convenience targets; the README's two Quick start commands need none of them.
UV ?= python3 -m uv

.PHONY: setup run test lint format bench clean

setup:  ## build .venv from the lock
	python3 -m pip install --quiet "uv==0.13.9"
	$(UV) sync --frozen

run: setup  ## run the pipeline on seeds/ into ./warehouse
	.venv/bin/newsetl run

test:  ## the default (fast) test suite
	$(UV) run --frozen pytest -q -n 2 --dist loadfile

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format:
	$(UV) run --frozen ruff format .

bench:  ## benchmarks and slow tests (minutes)
	$(UV) run --frozen pytest -q -m slow
	$(UV) run --frozen python bench/run.py
	$(UV) run --frozen python bench/standing.py
	$(UV) run --frozen python bench/dedup_eval.py
	$(UV) run --frozen python bench/extract_eval.py
	$(UV) run --frozen python bench/warehouse_bench.py

clean:  ## remove the built warehouse (keeps code and models)
	rm -rf warehouse/data warehouse/.staging warehouse/newsetl.duckdb warehouse/.newsetl.lock
