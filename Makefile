# Every target sets up what it needs by itself, so a fresh machine needs only `make run` or `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check bench train setup system-deps test-deps audit fuzz soak clean

run: $(STAMP) system-deps
	$(BIN)/dsr-bot run

test: $(STAMP) test-deps
	$(BIN)/pytest

# The MIME fuzzer at length: 200,000 new cases per run, not the fixed 10,000 of `make test`.
# Uses the PostgreSQL server at 127.0.0.1:5432 like the tests; see docs/reliability.md.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/fuzz --hypothesis-show-statistics

# The fault tests and the crash soak at length (DSR_SOAK=1): the SMTP relay down for five minutes,
# 20 SIGKILLs while 2,000 messages arrive, and the others longer; about 20 minutes. Each prints
# its figures (-s); see docs/reliability.md. Needs root (Dovecot, PostgreSQL, a tmpfs).
soak: $(STAMP) test-deps
	DSR_SOAK=1 $(BIN)/pytest -s tests/faults tests/test_crash.py

# ruff includes the flake8-bandit security rules ("S"; see [tool.ruff.lint] in pyproject.toml).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Known vulnerabilities in the installed packages, from PyPI's advisory data: needs the network,
# so it is not part of `make test`. --strict fails when a package could not be checked at all.
audit: $(STAMP)
	$(BIN)/pip-audit --skip-editable --strict --progress-spinner off

bench: $(STAMP) test-deps
	$(BIN)/python -m bench

# Retrain the request classifier from nlp_models/corpus/raw/ (35 to 70 minutes; see nlp_models/README.md).
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
