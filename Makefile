# sessionkit — the two commands: `make demo` and `make test`.
# Both create/refresh the virtual environment in .venv from pyproject.toml first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUNTIME_STAMP := $(VENV)/.installed-runtime
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: demo test lint typecheck unit notebooks browser-deps test-browser bench soak clean venv

# `make demo` needs only the runtime dependencies; `make test` adds the dev extra on top.
$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(RUNTIME_STAMP)
	$(BIN)/sessionkit demo

lint: $(STAMP)
	$(BIN)/ruff check sessionkit tests benchmarks
	$(BIN)/ruff format --check sessionkit tests benchmarks
	$(BIN)/mypy

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -m "not soak and not browser" -p no:cacheprovider

notebooks: $(STAMP)
	$(BIN)/python -m pytest --nbval-lax -p no:cacheprovider notebooks

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser-deps:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; \
	}

test-browser: $(STAMP) browser-deps
	$(BIN)/python -m pytest -m browser -p no:cacheprovider tests/browser

test: lint unit notebooks test-browser

soak: $(STAMP)
	$(BIN)/python -m pytest -m soak -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py --write-readme

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
