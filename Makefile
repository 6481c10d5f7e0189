# Handoff — every command a developer or CI needs. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
export PORT

.DEFAULT_GOAL := help

.PHONY: help install run test test-sqlite lint format migrate demo bench soak check-deploy audit backup restore clean

help: ## List the commands
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/.installed ## Create .venv and install Handoff with its dev tools

migrate: install ## Apply database migrations
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

demo: migrate ## Load the demo users, campaigns and leads (idempotent)
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo

run: demo ## Serve on 127.0.0.1:$PORT with a Celery worker and beat; Ctrl-C stops all
	DEBUG=$${DEBUG:-1} $(BIN)/python bin/run.py

# The suite runs in TEST_WORKERS pytest-xdist processes, each with its own test database and
# Redis database (tests/conftest.py); worksteal evens out the long tests. TEST_WORKERS=0 runs
# it in one process.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)

test: install ## Run the whole test suite in TEST_WORKERS processes (PostgreSQL/Redis/Chromium tests skip when absent)
	$(BIN)/pytest $(PYTEST_PARALLEL)

# The tests of the code with an ORM twin of a PostgreSQL path (the import engine, nurture's
# claims, the rollups, the queue's claims and assignment) run again on SQLite, as `make run`
# uses. Folders under tests/, in this one place; the ones that do not exist are left out.
SQLITE_TEST_DIRS := imports nurture dashboards reporting workspace

test-sqlite: install ## The import, nurture, reporting and workspace tests again on SQLite (DATABASE_URL unset)
	env -u DATABASE_URL $(BIN)/pytest $(PYTEST_PARALLEL) -m "not postgres and not browser" \
		$(wildcard $(addprefix tests/,$(SQLITE_TEST_DIRS)))

lint: install ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## ruff: fix what can be fixed and format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## Benchmarks as ratios to in-process baselines (PostgreSQL via DATABASE_URL; ONLY=name)
	$(PY) benchmarks/run.py $(ONLY)

soak: install ## Load the real app (gunicorn, worker, beat) with 32 clients, then recount everything (SOAK_SECONDS)
	$(PY) -m soak.run

check-deploy: install ## Django's deployment checklist under production settings
	DEBUG=0 SECRET_KEY=$${SECRET_KEY:-check-deploy-$$(head -c 48 /dev/urandom | base64 | tr -d '/+=')} \
	ALLOWED_HOSTS=handoff.example.com $(PY) manage.py check --deploy --fail-level WARNING

audit: install ## pip-audit the installed dependencies; fails on a known vulnerability
	$(PY) bin/audit.py

backup: ## pg_dump the DATABASE_URL database to var/backups/ (FILE=path to choose)
	bin/backup.sh backup $(FILE)

restore: ## pg_restore FILE into the DATABASE_URL database (replaces what is there)
	bin/backup.sh restore $(FILE)

clean: ## Remove the virtual environment and local data under var/
	rm -rf $(VENV) var
