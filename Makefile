# hess_dr: make bootstrap | demo | test | unit | bench | clean
# Everything runs with the checkout's venv (Debian's Python, see bin/bootstrap.sh).

PYTHON := .venv/bin/python
DATA ?= $(CURDIR)/data
PORT ?= 8080
HESS_DR_FULL_DATA ?= $(CURDIR)/../shared/data/hess-dl3-dr1
export HESS_DR_FULL_DATA

.PHONY: bootstrap demo test unit bench clean

bootstrap:
	bash bin/bootstrap.sh

# make demo DATA=<folder> (its own hess_dr.yaml is used when it has one)
# or make demo CONFIG=<operator yaml> (several collections, any instruments)
demo: bootstrap
	$(PYTHON) bin/hess-dr-demo $(if $(CONFIG),--config "$(CONFIG)",--data "$(DATA)") --port $(PORT)

test: bootstrap
	$(PYTHON) -m pytest -ra tests

unit: bootstrap
	$(PYTHON) -m pytest -ra tests/unit

bench: bootstrap
	@test -f bench/run.py || { echo "make bench: bench/run.py does not exist yet" >&2; exit 1; }
	$(PYTHON) bench/run.py

# Also drops the demo's database and roles, which would outlive var/demo.
clean:
	-test ! -x $(PYTHON) || $(PYTHON) bin/hess-dr-demo --destroy
	rm -rf var/
