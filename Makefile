# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test install lint lock clean-demo

# (Re)install only when the dependencies changed: a second `make demo` starts in seconds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env

demo: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	HOST=$(HOST) PORT=$(PORT) scripts/demo.sh

test: install .env
	$(BIN)/pytest

lint: install .env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

# Re-pin every installed version after changing pyproject.toml's dependencies.
lock: install
	( echo '# Pinned versions for `make demo` / `make test` (pip install -c constraints.txt). Regenerate with `make lock`.'; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^-e' ) > constraints.txt
