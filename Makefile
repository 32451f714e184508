# CloudPick customer service on Rasa 3.6.
#
#   make run    install if needed, train if needed, start the assistant
#   make test   install if needed, train if needed, run every test
#
# Every target is idempotent: nothing is reinstalled or retrained unless its
# inputs changed.

SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
INSTALLED := $(VENV)/.installed
MODEL := models/cloudpick.tar.gz
SHARED ?= ../shared

# Quiet the libraries' start-up noise; real warnings from our code still show.
export TF_CPP_MIN_LOG_LEVEL ?= 2
export SQLALCHEMY_SILENCE_UBER_WARNING ?= 1
export PYTHONWARNINGS ?= ignore::DeprecationWarning,ignore::PendingDeprecationWarning
export RASA_TELEMETRY_ENABLED ?= false

TRAINING_INPUTS := domain.yml config.yml $(shell find data -name '*.yml' 2>/dev/null) \
	$(shell find addons -name '*.py' 2>/dev/null)

.PHONY: install train run run-prod shell test browser bench-relay bench-abuse lint format validate bench-faq bench-nlu clean

install: $(INSTALLED)

# Rasa 3.6 declares Python < 3.11 but runs on 3.11, so Rasa and rasa-sdk are
# installed without their metadata's dependencies; everything else comes from
# the fully pinned lock.
$(INSTALLED): requirements/lock.txt requirements/rasa.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --no-deps -r requirements/lock.txt
	$(BIN)/pip install --quiet --no-deps --ignore-requires-python -r requirements/rasa.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

train: $(MODEL)

# Rasa fingerprints every part of the model too, so a retrain reuses what did
# not change; this rule only saves starting Rasa when nothing changed at all.
$(MODEL): $(INSTALLED) $(TRAINING_INPUTS)
	$(BIN)/rasa train --fixed-model-name cloudpick --out models
	touch $@

run: $(MODEL)
	$(PY) -m scripts.run

# The production topology on this machine's PostgreSQL, Redis and RabbitMQ
# (docs/deployment.md): several Rasa workers, action-server workers and
# bridge instances.
run-prod: $(MODEL)
	$(PY) -m scripts.run --profile production

shell: $(MODEL)
	$(PY) -m scripts.run --shell

# The console's browser test needs Debian's Chromium and ChromeDriver; they
# are installed when missing and apt-get can (root). Otherwise that test
# skips and says why.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null \
	    || echo "could not install chromium; the browser test will skip"; \
	  else echo "chromium/chromedriver missing; the browser test will skip"; fi; \
	fi

test: $(MODEL) browser
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$status

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

validate: $(INSTALLED)
	$(BIN)/rasa data validate

bench-faq: $(INSTALLED)
	$(PY) -m bench.faq $(SHARED)/benchmarks/faq/afqmc/kb.jsonl $(SHARED)/benchmarks/faq/afqmc/queries.jsonl

bench-nlu: $(INSTALLED)
	$(PY) -m bench.nlu $(SHARED)/benchmarks/nlu/smp2019/train.yml $(SHARED)/benchmarks/nlu/smp2019/test.yml
	$(PY) -m bench.nlu $(SHARED)/benchmarks/nlu/banking77/train.yml $(SHARED)/benchmarks/nlu/banking77/test.yml

bench-relay: $(MODEL)
	$(PY) -m bench.relay --conversations 200 --agents 10 --messages 5

bench-abuse: $(MODEL)
	$(PY) -m bench.abuse

clean:
	rm -rf models .rasa results .pytest_cache .ruff_cache
