# The two commands of the README: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test install browser axe lint lock

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
	HOST=$(HOST) PORT=$(PORT) scripts/demo.sh

# The browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@test -x /usr/bin/chromium || { \
	  echo "Installing Debian's chromium for the browser tests (needs root and apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# axe-core (package.json, pinned in package-lock.json), injected by the browser tests' accessibility
# checks; npm ci only when the lock changed, and never at test time.
AXE := node_modules/axe-core/axe.min.js
$(AXE): package.json package-lock.json
	@command -v npm >/dev/null || { \
	  echo "Installing Debian's npm for the accessibility checks (needs root and apt)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }
	npm ci --no-audit --no-fund
	touch $(AXE)

axe: $(AXE)

test: install .env browser $(AXE)
	$(BIN)/pytest

lint: install .env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/mypy config shop payments audit backoffice stripe_sandbox scripts

# Re-pin every installed version after changing pyproject.toml's dependencies.
lock: install
	( echo '# Pinned versions for `make demo` / `make test` (pip install -c constraints.txt). Regenerate with `make lock`.'; \
	  $(BIN)/pip freeze --exclude-editable | grep -v '^-e' ) > constraints.txt
