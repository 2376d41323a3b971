# Two commands on a fresh machine: `make demo` and `make test`. Each installs into .venv first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: install demo test test-fast bench clean

$(STAMP): pyproject.toml constraints-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints-dev.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints-dev.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	WANDB_MODE=offline $(VENV)/bin/colorvariants demo --out $(DEMO_OUT)

test: install
	WANDB_MODE=offline $(PY) -m pytest -q tests

test-fast: install
	WANDB_MODE=offline $(PY) -m pytest -q -m "not slow and not faults and not ddp" tests

clean:
	rm -rf $(VENV) runs .pytest_cache
