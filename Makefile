# genotx developer and user entry points. Everything happens inside .venv.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
GENOTX := $(VENV)/bin/genotx
MAMBA_ENV := MAMBA_FORCE_BUILD=TRUE MAMBA_SKIP_CUDA_BUILD=TRUE CAUSAL_CONV1D_SKIP_CUDA_BUILD=TRUE

.PHONY: demo test install bench man completions default-model clean

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e .
	$(PIP) install -q ninja packaging einops  # einops: needed by mamba-ssm, which is installed without its dependencies
	$(MAMBA_ENV) $(PIP) install -q --no-build-isolation --no-deps mamba-ssm==2.3.2.post1
	touch $@

install: $(VENV)/.installed

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -q -e '.[test]'
	touch $@

demo: install
	zcat examples/reads.fq.gz | $(GENOTX) predict --task taxon | head -n 12

# Two test workers on two cores: one torch thread each, or OpenMP threads spin against each other.
test: $(VENV)/.installed-test
	OMP_NUM_THREADS=1 $(PY) -m pytest -n 2 -q tests

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

man: install
	TYPER_USE_RICH=0 $(PY) -m genotx.tools.manpages man

completions: install
	$(PY) -m genotx.tools.completions completions

# Rebuild models/taxon-default from the shipped genomes (fixed seed; recipe in the script).
default-model: install
	GENOTX=$(GENOTX) models/train_taxon_default.sh models/taxon-default

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
