# Entry points: `make run` serves the API locally, `make test` runs everything.
# The Lambda runtime's Python (python3.13): the venvs, `chalice package` (which targets the
# runtime of the Python it runs under) and the shipped bytecode all use it. pyenv finds it
# through .python-version.
PYTHON ?= python3.13
PYTHON_TAG := $(subst python,,$(notdir $(PYTHON)))
VENV := .venv
PY := $(VENV)/bin/python
# The stamps name the Python: a venv of another version (an older checkout's) is rebuilt.
STAMP := $(VENV)/.installed-$(PYTHON_TAG)
INFRA_VENV := .infra-venv
INFRA_STAMP := $(INFRA_VENV)/.installed-$(PYTHON_TAG)
SAME_PYTHON = -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$(PYTHON_TAG)'.split('.'))))"
CONTRACT_TOOLS := tools/contract/node_modules/.installed
DOCS_ASSETS := chalicelib/static/swagger-ui/.installed
SWAGGER_UI := tools/contract/node_modules/swagger-ui-dist
# The venvs are filled by uv, installed into each by pip first (pinned here): pip resolves,
# downloads and unpacks in one thread, about a minute per venv on a clean clone, on the
# critical path of `make test`; uv installs the same pinned requirements in seconds. Neither
# compiles bytecode at install: Python writes it for the modules actually imported, the
# first time (minutes saved: most of moto, botocore and the CDK are never imported). This
# machine-wide setting would stop that, so it is lifted here.
UV_PIN := uv==0.13.9
BOOTSTRAP_UV = -m pip install --quiet --disable-pip-version-check $(UV_PIN)
UV_INSTALL = pip install --quiet
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test suites python-tests lint format unit integration e2e e2e-http schemathesis infra-test infra-after-e2e bench load package deploy clean docs-assets browser stream-filter redrive

$(STAMP): requirements.txt requirements-dev.txt
	@$(PY) $(SAME_PYTHON) 2>/dev/null || { rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	$(PY) $(BOOTSTRAP_UV)
	$(VENV)/bin/uv $(UV_INSTALL) --python $(PY) -r requirements-dev.txt
	@touch $(STAMP)

$(INFRA_STAMP): infra/requirements.txt infra/requirements-nodeps.txt infra/package.json requirements.txt
	@$(INFRA_VENV)/bin/python $(SAME_PYTHON) 2>/dev/null || { rm -rf $(INFRA_VENV) && $(PYTHON) -m venv $(INFRA_VENV); }
	$(INFRA_VENV)/bin/python $(BOOTSTRAP_UV)
	$(INFRA_VENV)/bin/uv $(UV_INSTALL) --python $(INFRA_VENV)/bin/python -r infra/requirements.txt -r requirements.txt
	$(INFRA_VENV)/bin/uv $(UV_INSTALL) --python $(INFRA_VENV)/bin/python --no-deps -r infra/requirements-nodeps.txt
	cd infra && npm install --no-audit --no-fund --silent
	@touch $(INFRA_STAMP)

# npm tools of the contract tests (a second OpenAPI validator, a TypeScript client
# generator) and the Swagger UI files that /v1/docs serves, pinned in tools/contract.
$(CONTRACT_TOOLS): tools/contract/package.json tools/contract/package-lock.json
	cd tools/contract && npm ci --no-audit --no-fund --silent
	@touch $@

# Swagger UI ships inside chalicelib/ (so in the Lambda package): only the two files the page loads.
$(DOCS_ASSETS): $(CONTRACT_TOOLS)
	mkdir -p $(dir $@)
	cp $(SWAGGER_UI)/swagger-ui-bundle.js $(SWAGGER_UI)/swagger-ui.css $(SWAGGER_UI)/LICENSE $(SWAGGER_UI)/NOTICE $(dir $@)
	@touch $@

docs-assets: $(DOCS_ASSETS)

# Chromium and ChromeDriver from the OS packages, for the docs page's browser test; apt only when missing.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

run: $(STAMP) $(DOCS_ASSETS)  ## serve the API on http://127.0.0.1:8000 with a local AWS stand-in and demo data
	$(PY) -m local.stack

test: $(STAMP)  ## lint, unit, integration, e2e, schemathesis (5 fuzzed examples per operation) and infra tests
	@SCHEMATHESIS_MAX_EXAMPLES=$${SCHEMATHESIS_MAX_EXAMPLES:-5} $(MAKE) --no-print-directory -j5 --output-sync=target suites

# `make test MOTO_PATCHES=off` runs moto as shipped, without local/motoserver.py's speed-ups
# (in the tests and in the local stacks the end-to-end tests start): every test must pass
# both ways. The patches refuse to load on a moto version they were not checked against.
export MOTO_PATCHES

# Everything side by side, the longest first: unit + integration on 2 workers (the critical
# path), schemathesis (its coverage phase's boundary cases and 5 fuzzed examples per
# operation here, 100 by `make schemathesis`: the fuzzing phase is most of its CPU, half of
# that the CLI's own generation; everything together is CPU-bound on 2 cores),
# the other end-to-end tests (much of their time waiting on their local stack), the infra
# tests (their venv installs meanwhile) and lint. A failure in any of them fails `make test`.
suites: python-tests schemathesis e2e-http infra-after-e2e lint

# Lint (no timed waits, much slack) yields the CPU to the suites on the critical path. In
# `make test` the infra tests (their venv installed at the start) run once the end-to-end
# tests are done, beside unit + integration: run niced from the start, they were starved
# until unit + integration ended, then ran alone on one core for the last 90 s; un-niced
# from the start, their CDK synth met the end-to-end tests' burst of 100 concurrent
# submissions and 10 of them answered 500 (2026-12-07).
NICE := nice -n 10
INFRA_PYTEST := $(INFRA_VENV)/bin/python -m pytest -q tests/infra

python-tests: $(STAMP) $(DOCS_ASSETS)
	$(PY) -m pytest -q -n 2 --dist loadgroup tests/unit tests/integration

lint: $(STAMP)  ## ruff, the import contracts (.importlinter) and mypy on chalicelib/
	$(NICE) $(PY) -m ruff check .
	$(NICE) $(PY) -m ruff format --check .
	$(NICE) $(VENV)/bin/lint-imports --no-cache
	$(NICE) $(PY) -m mypy

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

unit: $(STAMP) $(DOCS_ASSETS)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP) $(DOCS_ASSETS)
	$(PY) -m pytest -q tests/integration

e2e: e2e-http schemathesis  ## end-to-end over HTTP against the local stack, schemathesis with 100 examples per operation

e2e-http: $(STAMP) $(DOCS_ASSETS) browser
	$(PY) -m pytest -q tests/e2e --ignore=tests/e2e/test_schemathesis_e2e.py

schemathesis: $(STAMP) $(DOCS_ASSETS)  ## schemathesis, all checks, 100 examples per operation, against a fresh local stack
	$(PY) -m pytest -q tests/e2e/test_schemathesis_e2e.py

infra-test: $(INFRA_STAMP)
	$(INFRA_PYTEST)

infra-after-e2e: $(INFRA_STAMP) e2e-http
	$(INFRA_PYTEST)

bench: $(STAMP)  ## writes bench/REPORT.md
	$(PY) -m bench

load: $(STAMP)  ## bounded load test on loopback against the local stack
	$(PY) -m bench.load

package: $(INFRA_STAMP) $(DOCS_ASSETS)  ## synthesize the templates offline into infra/cdk.out (STAGE=dev|prod, default both)
	cd infra && CDK_OUTDIR=cdk.out CDK_CONTEXT_JSON="{\"stage\": \"$${STAGE:-dev,prod}\"}" ../$(INFRA_VENV)/bin/python app_synth.py

deploy: $(INFRA_STAMP) $(DOCS_ASSETS)  ## deploy STAGE (dev|prod) to the AWS account in your environment; see docs/architecture.md
	cd infra && PATH="$$PWD/../$(INFRA_VENV)/bin:$$PATH" npx --no-install cdk deploy -c stage=$${STAGE:-dev} $${STAGE:-dev}

stream-filter: $(STAMP)  ## regenerate the stream mapping's filter (infra/fieldsales_infra/stream_filter.json) from the projection registry
	TABLE_NAME=$${TABLE_NAME:-fieldsales-local} $(PY) -m tools.projections filter --write

redrive: $(STAMP)  ## replay the stream DLQ's failed batches through the projection engine: QUEUE_URL=<StreamFailureDlq URL>, with the stage's TABLE_NAME and credentials
	$(PY) -m tools.redrive --queue-url $(QUEUE_URL)

clean:
	rm -rf $(VENV) $(INFRA_VENV) infra/cdk.out infra/node_modules .local-stack tools/contract/node_modules chalicelib/static
