# MyChat: `make run` and `make test` work on a fresh machine; they install what is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test check lint format schema web bench soak stack screenshots clean

install: $(VENV)/.installed web/dist/index.html

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c requirements.lock -e '.[dev,bench]'
	touch $@

web/dist/index.html: web/package.json web/package-lock.json web/vite.config.js $(shell find web/src web/index.html web/graphiql.html -type f 2>/dev/null)
	cd web && npm ci --no-audit --no-fund && npm run build

web: web/dist/index.html

run: install
	$(VENV)/bin/mychat serve

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-logo

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

check: lint test

schema: install
	$(VENV)/bin/mychat export-schema

stack: install
	$(VENV)/bin/mychat stack

# The README's pictures: the browser test takes them (into the ignored test-artifacts/, as on
# every run); this copies them over the tracked ones in web/screenshots/. Review, then commit.
SCREENS := test-artifacts/screenshots
screenshots: install
	rm -rf $(SCREENS)
	MYCHAT_REQUIRE_SERVICES=1 $(PY) -m pytest -q tests/web/test_browser.py \
		-k test_screens_in_both_languages_and_at_phone_width
	cp $(SCREENS)/*.png web/screenshots/

bench: install
	$(PY) -m bench

# A few minutes of chat through nginx while a random process is killed every 5 s; writes
# bench/results/soak.md and soak.json, fails if a message was lost or duplicated.
soak: install
	$(PY) -m bench.soak

clean:
	rm -rf $(VENV) web/node_modules web/dist .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
