# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
UV = $(shell scripts/ensure-uv.sh)

.PHONY: demo test test-full lint env bench bench-mix explain serve clean

env:
	@$(UV) sync --frozen --quiet

demo: env  ## run the whole product on the embedded PostgreSQL and Redis
	@$(UV) run --frozen thotis demo

test: env  ## lint, type-check and run the whole suite on real PostgreSQL and Redis
	@scripts/test-services.sh
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy
	@$(UV) run --frozen pytest -n auto --maxprocesses 4 --dist loadgroup

test-full:  ## `make test` with the longer variants (more fuzzing, more bursts; THOTIS_TEST_FULL=1)
	@THOTIS_TEST_FULL=1 $(MAKE) --no-print-directory test

lint: env
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen mypy

bench: env  ## load benchmarks of SPEC.md §8 (see benchmarks/README.md)
	@$(UV) sync --frozen --quiet --group bench
	@$(UV) run --frozen --group bench python -m benchmarks.run

bench-mix: env  ## the load benchmark: production stack, realistic mix (locust), capacity vs the ceiling (wrk)
	@$(UV) sync --frozen --quiet --group bench
	@$(UV) run --frozen --group bench python -m benchmarks.run --phases mix

explain: env  ## EXPLAIN ANALYZE of every query the hot paths and jobs send, on production-sized tables
	@$(UV) run --frozen python -m benchmarks.explain

clean:
	rm -rf .thotis/postgres .thotis/redis.db .pytest_cache .mypy_cache .ruff_cache
