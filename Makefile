# pyk8s: `make up` starts a local cluster, `make test` runs lint + the whole suite.
# Both install what they need (idempotent). Run as root on Debian.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_PACKAGES := ca-certificates openssl runc containernetworking-plugins iptables conntrack iproute2 busybox-static docker-registry
DATA_DIR ?= /var/lib/pyk8s

.PHONY: install deps-apt up down test lint unit integration e2e bench clean

install: deps-apt $(STAMP)

deps-apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

up: install
	$(BIN)/pyk8s up --data-dir $(DATA_DIR)

down:
	$(BIN)/pyk8s down --data-dir $(DATA_DIR)

lint: install
	$(BIN)/ruff check pyk8s tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy pyk8s/base pyk8s/api pyk8s/storage pyk8s/pki pyk8s/apiserver pyk8s/client pyk8s/controllers pyk8s/scheduler pyk8s/kubelet

unit: install
	$(BIN)/pytest -q tests/unit

integration: install
	$(BIN)/pytest -q tests/integration

e2e: install
	$(BIN)/pytest -q tests/e2e

test: install lint
	$(BIN)/pytest -q -p no:cacheprovider tests

bench: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
