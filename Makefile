# The two commands of the README, and what they need. Each target sets itself up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup kafka-jars registry-app lint bench clean

demo: setup kafka-jars              ## local Kafka + Freshdesk sandbox + sample events → timelines
	$(BIN)/python -m consumer_devtools demo

test: setup kafka-jars registry-app ## unit, integration, chart, image and cluster tests, the chaos proof
	.ci/install-test-tools.sh
	HELM="$$(.ci/install-helm.sh)" K8S_BIN="$$(.ci/install-k8s.sh)" FDAC_IMAGE="$$(.ci/build-image.sh)" $(BIN)/pytest

bench: setup kafka-jars             ## the five benchmarks against their targets, < 10 min (BENCH_ARGS=--quick: a smoke run)
	@command -v redis-server >/dev/null || { \
	  echo "== bench: installing redis-server (Debian), as .ci/install-test-tools.sh does" >&2; \
	  sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
	$(BIN)/python -m bench $(BENCH_ARGS)

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11+ is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

kafka-jars: setup                   ## Apache Kafka from Maven Central into ~/.cache (once)
	$(BIN)/python -c 'from consumer_devtools.local_kafka import ensure_kafka_jars; ensure_kafka_jars()'

registry-app: setup                 ## Apicurio Registry (Schema Registry API) from Maven Central into ~/.cache (once)
	$(BIN)/python -c 'from consumer_devtools.schema_registry import ensure_registry_app; ensure_registry_app()'

lint: setup
	$(BIN)/ruff check consumer consumer_devtools transforms tests bench examples
	$(BIN)/mypy consumer transforms

clean:
	rm -rf $(VENV) .demo *.egg-info
