# ChronoFlow. `make run` starts everything on the embedded default; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: run test migrate admin token check clean browser-deps messages

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Reinstall only when the pins change.
$(VENV)/.runtime: requirements.txt constraints.txt | $(VENV)/bin/python
	$(PIP) install -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt constraints.txt requirements-dev.txt | $(VENV)/bin/python
	$(PIP) install -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

migrate: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput

admin: migrate
	$(PY) manage.py ensure_admin

## run: web, worker and beat together on the embedded default (Ctrl-C stops all three);
## runall creates the admin user if needed and prints the URL and login last
run: migrate
	$(PY) manage.py runall

## test: the whole suite (SQLite + filesystem broker unless DATABASE_URL / REDIS_URL are set), in
## TEST_WORKERS pytest-xdist processes, a test file each at a time (tests/xdist_env.py splits Redis and DATA_DIR)
TEST_WORKERS ?= 2
test: $(VENV)/.dev
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## browser-deps: Debian's chromium + chromedriver for tests/test_browser.py (apt, as root; no-op when present)
browser-deps:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		echo "chromium and chromedriver are installed"; \
	else \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

## messages: re-extract our strings into locale/pt_BR/LC_MESSAGES/django.po, fold in the
## translations other branches left in */TRANSLATIONS*_pt_BR.po fragments (locale/fold_fragments.py),
## then compile the .mo. Needs GNU gettext (apt-get install gettext); commit the .po and the .mo,
## so that running and testing never need gettext. Translate what it lists as untranslated.
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=bench --ignore=.ci --ignore=node_modules
messages: $(VENV)/.dev
	$(PY) manage.py makemessages -l pt_BR --no-obsolete $(MESSAGES_IGNORE)
	$(PY) locale/fold_fragments.py
	$(PY) manage.py compilemessages -l pt_BR $(MESSAGES_IGNORE)

## token: print an API token for the admin user
token: migrate
	$(PY) manage.py drf_create_token admin

check: $(VENV)/.dev
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check

clean:
	rm -rf $(VENV) var .pytest_cache
