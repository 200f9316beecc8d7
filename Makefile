# The front door. `make up` runs the whole system locally; `make test` passes the tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(abspath .)
PY := $(ROOT)/.venv/bin/python
STACK := $(PY) deploy/local/stack.py

.PHONY: help bootstrap up down status logs restart test check demo images up-images down-images smoke-images provision-db lint fmt bench chaos fuzz infra-up deploy-check

help:
	@echo "make up       start the whole local stack (Kafka, PostgreSQL, services, stand-ins, gateway on 127.0.0.1:8080)"
	@echo "make down     stop everything make up started"
	@echo "make status   show what runs"
	@echo "make logs     follow the logs (SERVICE=name for one)"
	@echo "make restart SERVICE=approval   restart one component after a code change"
	@echo "make test     install what is missing, start the stack, run lint and every test layer, stop the stack"
	@echo "make demo     the five-minute tour against the running stack: register, confirm, order over budget, approve, at the ERP"
	@echo "make images   build every image with podman on a base made of Debian's packages (not part of make test)"
	@echo "make up-images / smoke-images / down-images   the stack from those images next to make up's (gateway 127.0.0.1:9080)"
	@echo "make provision-db ARGS=\"--admin-url postgresql://…\"   databases, a migration and a runtime role per service, grants (--print: the SQL only)"
	@echo "make check    the fast loop: lint and every test that needs no running stack (unit, service, contracts, deploy)"
	@echo "make bench    measure throughput and latency against the running stack's ceilings"
	@echo "make chaos    steady load while services, Kafka and PostgreSQL are killed; checks nothing was lost or doubled (ARGS="--signal term": SIGTERM each service instead)"
	@echo "make fuzz     schemathesis against every OpenAPI document through the gateway (KC_FUZZ_EXAMPLES)"
	@echo "make lint     ruff, mypy, import-linter"
	@echo "make deploy-check   render every Kubernetes overlay and validate it offline (part of make test)"

bootstrap:
	@bash deploy/local/bootstrap.sh

up: bootstrap
	@$(STACK) up

infra-up: bootstrap
	@$(STACK) up --infra-only

down:
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing to stop (no .venv)"; fi

status:
	@$(STACK) status

logs:
	@$(STACK) logs $(SERVICE)

restart:
	@$(STACK) restart $(SERVICE)

lint:
	@bash scripts/lint.sh

deploy-check: bootstrap
	@$(PY) scripts/deploy_check.py

fmt:
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .

test: bootstrap
	@bash scripts/test.sh

check:
	@bash scripts/check.sh $(ARGS)

demo:
	@$(PY) scripts/demo.py $(ARGS)

images:
	@bash scripts/images.sh

up-images:
	@$(PY) scripts/up_images.py up

smoke-images:
	@$(PY) scripts/up_images.py smoke

down-images:
	@$(PY) scripts/up_images.py down

provision-db:
	@$(PY) scripts/provision_db.py $(ARGS)

bench: bootstrap
	@bash scripts/bench.sh

fuzz: bootstrap
	@bash scripts/fuzz.sh

chaos: bootstrap
	@bash scripts/bench.sh --chaos $(ARGS)
