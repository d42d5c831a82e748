# The two commands a newcomer needs are `make run` and `make test`; `make help` lists the rest.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed
NODE_STAMP := node_modules/.installed
STAGE ?= prod
FUZZ_EXAMPLES ?= 500

.DEFAULT_GOAL := help
.PHONY: help setup run test lint types format openapi package deploy site screenshots mail bench load faults fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements-checkov.txt infra/setup.sh
	@bash infra/setup.sh python
	@touch $@

$(NODE_STAMP): package.json package-lock.json infra/setup.sh
	@bash infra/setup.sh node
	@touch $@

setup: $(STAMP) $(NODE_STAMP) ## create .venv and install Python, Node and system packages when missing
	@bash infra/setup.sh system

run: setup ## start the local stack (moto, API on :8000, worker) and seed the demo
	$(PY) -m infra.local

test: setup lint types ## lint, type check, then every test (unit, integration, contract, e2e)
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP) ## ruff lint and format check
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

types: $(STAMP) ## mypy (strict) over chalicelib, app.py, infra, bench and tests
	.venv/bin/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

openapi: $(STAMP) ## regenerate docs/openapi.json from the code
	$(PY) -m chalicelib.api.openapi > docs/openapi.json

site: setup ## build the citizens' site for STAGE into build/site/STAGE (docs/SITE.md)
	$(PY) -m infra.site --stage $(STAGE) --out build/site/$(STAGE)

screenshots: setup ## retake the site's screenshots shown in the README (docs/screenshots/)
	PEN_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q -p no:randomly tests/e2e/test_site.py

package: $(STAMP) ## build the deployable stack offline into build/ (chalice package + our resources)
	$(PY) -m infra.template package --stage $(STAGE) --out build

deploy: setup ## build, check and deploy STAGE to AWS: PARAMETERS=file.json PEN_ARTIFACTS_BUCKET=... [DRY_RUN=1] (docs/DEPLOY.md)
	$(PY) -m infra.deploy --stage $(STAGE) $(if $(PARAMETERS),--parameters $(PARAMETERS)) $(if $(DRY_RUN),--dry-run)

bench: setup ## every benchmark (about an hour on 2 idle cores), recorded in bench/results/ and docs/PERFORMANCE.md
	$(PY) -m bench.routes
	$(PY) -m bench.coldstart
	$(PY) -m bench.loopback
	$(PY) -m bench.processes
	$(PY) -m bench.bus
	$(PY) -m bench.tracking
	$(PY) -m bench.site
	$(PY) -m bench.scale
	$(PY) -m bench.security
	$(PY) -m bench.load
	$(PY) -m bench.cost
	$(PY) -m bench.report

load: setup ## bounded load on the local stack over loopback: 20 clients, 2,000 creations, 10,000 lookups (bench/load.py)
	$(PY) -m bench.load

faults: setup ## the fault matrix alone (make test runs it too): every AWS call of every async handler x every fault kind, recorded in bench/results/faults.*
	rm -f bench/results/faults.json
	PEN_FAULTS=record $(PY) -m pytest -n 2 tests/integration/test_fault_matrix.py

fuzz: setup ## fuzz every API route on a local stack, long: FUZZ_EXAMPLES per route and mode (500; make test runs 100), and every property test from fresh random seeds
	PEN_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) PEN_FUZZ_EXPLORE=1 PEN_PROPERTY_EXAMPLES=$(FUZZ_EXAMPLES) \
		$(PY) -m pytest -n 2 --dist loadgroup tests/e2e/test_fuzz.py tests/integration/test_properties_bus.py tests/unit

mail: $(STAMP) ## show the e-mails the local stack has "sent"
	$(PY) -m infra.local.mail

clean: ## remove build output and local state
	rm -rf build .local .mypy_cache .ruff_cache .chalice/deployments
