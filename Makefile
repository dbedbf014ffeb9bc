# Every target sets up what it needs by itself, so a fresh machine needs only `make run` or `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench train setup system-deps test-deps clean

run: $(STAMP) system-deps
	$(BIN)/dsr-bot run

test: $(STAMP) test-deps
	$(BIN)/pytest

check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) test-deps
	$(BIN)/python -m bench

# Retrain the request classifier from nlp_models/corpus/raw/ (about ten minutes; see nlp_models/README.md).
train: $(STAMP)
	$(BIN)/dsr-bot train

setup: $(STAMP)

$(STAMP): pyproject.toml
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dsr-bot needs Python 3.11 or newer")'
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# Debian packages, installed only when missing: tesseract for ID-copy checks; Dovecot for tests.
system-deps:
	@scripts/install-system-deps

test-deps:
	@scripts/install-system-deps test

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
