# hess_dr: make bootstrap | demo | test | unit | bench | clean
# Everything runs with the checkout's venv (Debian's Python, see bin/bootstrap.sh).

PYTHON := .venv/bin/python
DATA ?= $(CURDIR)/data
PORT ?= 8080
HESS_DR_FULL_DATA ?= $(CURDIR)/../shared/data/hess-dl3-dr1
export HESS_DR_FULL_DATA

.PHONY: bootstrap gammapy2-venv demo test unit bench clean

bootstrap:
	bash bin/bootstrap.sh

# make demo DATA=<folder> (its own hess_dr.yaml is used when it has one)
# or make demo CONFIG=<operator yaml> (several collections, any instruments)
demo: bootstrap
	$(PYTHON) bin/hess-dr-demo $(if $(CONFIG),--config "$(CONFIG)",--data "$(DATA)") --port $(PORT)

# Gammapy's unreleased TAP reader (../shared/clients) needs astropy >= 6: it
# runs in a venv of its own, made once (the stamp names what it holds).
GAMMAPY2_VENV := .venv-gammapy2
GAMMAPY2_REQUIREMENTS := gammapy==2.1 regions<0.11 pyvo tqdm
GAMMAPY2_STAMP := $(GAMMAPY2_VENV)/.installed-$(shell echo '$(GAMMAPY2_REQUIREMENTS)' | sha1sum | cut -c1-12)

gammapy2-venv: $(GAMMAPY2_STAMP)

$(GAMMAPY2_STAMP): | bootstrap
	rm -rf $(GAMMAPY2_VENV)
	/usr/bin/python3 -m venv $(GAMMAPY2_VENV)
	$(GAMMAPY2_VENV)/bin/pip install -q --disable-pip-version-check $(foreach r,$(GAMMAPY2_REQUIREMENTS),"$(r)")
	touch $@

test: bootstrap gammapy2-venv
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
