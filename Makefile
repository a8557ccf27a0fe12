# Every target sets itself up on a fresh machine: the venv is made and the package installed
# (with its dev extras, and the ray extra so that the distributed tests run) when missing or
# when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test lint typecheck layers unit native demo bench clean dist wheel-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,ray]'
	touch $(STAMP)

test: $(STAMP) lint typecheck layers unit wheel-check

lint: $(STAMP)
	$(BIN)/ruff check src tests tools
	$(BIN)/ruff format --check src tests tools

typecheck: $(STAMP)
	$(BIN)/mypy src tools

# The hot path compiled with mypyc, in place (loadlens.native lists the modules); a no-op when
# current, and a stale build is never used (loadlens imports the sources instead). Then the
# bytecode caches, as an installed package has them: with PYTHONDONTWRITEBYTECODE set, an
# editable install never writes them and every process compiles its imports (~0.1 s).
native: $(STAMP)
	$(BIN)/python tools/build_native.py
	$(BIN)/python -m compileall -q src >/dev/null

layers: $(STAMP)
	$(BIN)/lint-imports

# The wheel and sdist in dist/: the wheel carries the compiled hot path when `native` built it
# (hatch_build.py), else it is pure Python. No build isolation: hatchling is in the dev extras.
dist: $(STAMP) native
	rm -rf dist
	$(BIN)/python -m build --no-isolation --sdist --wheel --outdir dist . >/dev/null
	@ls dist

# The wheel installed into a fresh venv runs `loadlens quick` against a local test server.
wheel-check: dist
	$(BIN)/python tools/check_wheel.py dist

# The tests need Chromium and PostgreSQL: with-services.sh installs and starts them. The 25
# slowest tests are listed at the end: `make test` must stay under 15 minutes.
unit: $(STAMP) native
	bash .ci/with-services.sh $(BIN)/pytest -q --durations=25

demo: $(STAMP) native
	$(BIN)/loadlens demo

# Not part of `make test`: installs the peers (nginx, wrk, h2load from Debian; Locust in .venv-bench;
# autocannon via npm when there is one), then runs every workload (BENCH_ARGS=--quick etc.).
bench: $(STAMP) native
	command -v nginx >/dev/null && command -v wrk >/dev/null && command -v h2load >/dev/null || (apt-get update && apt-get install -y nginx wrk nghttp2-client)
	test -x .venv-bench/bin/locust || ($(PYTHON) -m venv .venv-bench && .venv-bench/bin/pip install -q locust)
	test -f bench/out/node/node_modules/autocannon/autocannon.js || (command -v npm >/dev/null && mkdir -p bench/out/node && cd bench/out/node && timeout 300 npm install --silent autocannon) || echo "autocannon: skipped (no npm or no registry)"
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist
	find src -name '*.so' -delete
