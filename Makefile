# Two entry points for a fresh machine: `make demo` (install, then run the synthetic study) and
# `make test` (install, then run the test suite). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo quick-demo test lint bench clean browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tacelearn demo --out tacelearn-demo

quick-demo: $(STAMP)
	$(BIN)/tacelearn demo --quick --out tacelearn-quick-demo

# The report test renders index.html in headless Chromium: install it from the system's packages
# where that is possible (root with apt-get); otherwise that one test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && { apt-get install -y -q chromium >/dev/null 2>&1 \
	       || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } \
	  || echo "Chromium is not installed: the report rendering test will be skipped"

test: $(STAMP) browser
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n 2 -m "not slow and not gpu"

lint: $(STAMP)
	$(BIN)/python -m ruff check .

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) tacelearn-demo tacelearn-quick-demo .pytest_cache
