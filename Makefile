# `make run` and `make test` are all a newcomer needs on a fresh Debian machine.
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup system-deps worker lint format bench bench-letters bench-send bench-landing clean makemessages compilemessages

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# WeasyPrint needs Pango; libharfbuzz-subset0 makes each PDF about 7x cheaper (no fontTools fallback).
# The letter tests read PDFs back with poppler-utils and decode their QR codes with zbar-tools.
# The browser tests drive Debian's chromium through Playwright (tests/browser/conftest.py); the Noto CJK,
# emoji and Symbola fonts print every character of a name on letters. gettext compiles the catalogues
# (compilemessages) and extracts their strings (makemessages).
SYSTEM_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji fonts-symbola poppler-utils zbar-tools chromium gettext
system-deps:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Missing Debian packages (install them as root): $$missing"; \
		fi; \
	fi

setup: system-deps $(VENV)/.installed compilemessages
	mkdir -p var
	$(PY) manage.py migrate --noinput -v0

# The words recipients read, per language: locale/<lang>/LC_MESSAGES/django.po (committed; see the README's
# "Languages"). makemessages extracts every {% translate %} and gettext() string into them; compilemessages
# builds the .mo files Django reads (not committed: every `make run`, `make test` and image build makes them).
LANGUAGE_CODES := en fr de es
MAKEMESSAGES_ARGS := --extension html,txt,py --add-location file --no-obsolete \
	--ignore '.venv/*' --ignore 'var/*' --ignore 'bench/*' --ignore 'docs/*' --ignore 'tests/*' --ignore '*/tests/*'
makemessages: $(VENV)/.installed
	$(PY) manage.py makemessages $(addprefix -l ,$(LANGUAGE_CODES)) $(MAKEMESSAGES_ARGS)

compilemessages: $(VENV)/.installed
	$(PY) manage.py compilemessages --ignore '.venv/*' -v0

# One cache for the web and worker processes (the beat heartbeat /healthz reads, rate limits); the worker runs
# the beat schedule (recovery jobs, the watch, waves), as the compose file's worker does.
run: setup
	$(PY) manage.py demo
	@echo
	@echo "  Amends is at http://$(HOST):$(PORT)/  log in as marketer / amends-demo"
	@echo "  (also approver, viewer; admin for /admin/). Emails are kept on the Outbox page."
	@echo
	export CACHE_URL="$${CACHE_URL:-filecache://$(CURDIR)/var/cache}"; \
	$(VENV)/bin/celery -A config worker -B --schedule var/celerybeat-schedule --pool=threads --concurrency=2 \
		--loglevel=WARNING & \
	trap 'kill $$! 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: setup
	$(VENV)/bin/celery -A config worker --pool=threads --concurrency=2 --loglevel=INFO

# Browser tests save a screenshot of every page they visit under var/screenshots/<test>/ for review.
test: system-deps $(VENV)/.installed compilemessages
	@test -x /usr/bin/chromium || echo "!!! /usr/bin/chromium is missing: the browser tests will be SKIPPED (apt-get install chromium) !!!"
	$(VENV)/bin/pytest $(PYTEST_ARGS)
	@test -x /usr/bin/chromium || echo "!!! The browser tests were SKIPPED: install chromium (apt-get install chromium) and run make test again !!!"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/ingest.py

bench-letters: setup
	$(PY) bench/letters.py

# These two need PostgreSQL and Redis on 127.0.0.1 (and wrk for the landing page).
bench-send: setup
	$(PY) bench/send.py

bench-landing: setup
	$(PY) bench/landing.py

clean:
	rm -rf var
