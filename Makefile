# The two commands that work on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
BIN := $(VENV)/bin

.PHONY: demo test install install-test pycsw-venv lint bench clean

$(BIN)/terracat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(BIN)/terracat

install-test: install
	$(BIN)/pip install --quiet -e '.[test]'

# pycsw 2.6.2 (a real CSW server for the harvest tests) needs SQLAlchemy<2 and OWSLib 0.28: its own venv.
pycsw-venv:
	sh tests/fixtures/make_pycsw_venv.sh .venv-pycsw

demo: install
	$(BIN)/terracat demo --port $(PORT)

test: install-test pycsw-venv
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: install-test pycsw-venv
	$(BIN)/python bench/harvest.py

clean:
	rm -rf var .pytest_cache
