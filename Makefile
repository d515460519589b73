# Customer Intelligence — set-up, run and test. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data
# The suite runs on every core (pytest-xdist; one test file stays on one worker, which keeps its fixtures).
TEST_WORKERS ?= auto
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
# xstatic-bootstrap (the locally served Bootstrap CSS) only publishes an sdist whose setup.py needs
# pkg_resources, so it is built without isolation against setuptools < 81.
XSTATIC := xstatic-bootstrap==5.3.8.0

.PHONY: run test install install-test browser-deps data lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip "setuptools>=68,<81" wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --no-build-isolation -c constraints.txt $(XSTATIC)
	$(PIP) install -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e ".[test,spark]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test browser-deps

## Debian's Chromium and ChromeDriver for the browser tests (never a downloaded browser).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; \
	fi

$(DATA)/fact_orders:
	$(BIN)/python generate_data.py --out $(DATA)

data: install $(DATA)/fact_orders

## Set up, generate the default data if missing, and serve on http://127.0.0.1:8050
run: data
	$(BIN)/python app.py

## Set up (including test tools and Chromium), check the code (ruff, the import contracts, mypy on metrics/)
## and run the whole test suite
test: install-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/metrics_benchmark.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache build *.egg-info
