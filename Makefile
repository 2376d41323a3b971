# Two commands on a fresh machine: `make demo` and `make test`. Each installs into .venv first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= runs/demo

.PHONY: install demo test test-fast lint bench clean gpu-wheels

$(STAMP): pyproject.toml constraints-dev.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints-dev.txt torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -c constraints-dev.txt -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)
	-@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  test -e $(VENV)/.chromium-tried || { touch $(VENV)/.chromium-tried; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the HTML report's browser test (best effort, once per venv)"; \
	    timeout 600 sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium' \
	      >/dev/null 2>&1 || echo "note: could not install chromium; the report's browser test will be skipped"; \
	  else echo "note: no chromium (installing it needs root and apt-get); the report's browser test will be skipped"; \
	  fi; }

demo: install
	WANDB_MODE=offline $(VENV)/bin/colorvariants demo --out $(DEMO_OUT)

test: install
	WANDB_MODE=offline $(PY) -m pytest -q tests

# ruff (pyflakes, import order, bugbear, pyupgrade) and mypy; CI runs it before the tests.
lint: install
	$(VENV)/bin/ruff check colorvariants bench tests
	$(VENV)/bin/mypy

test-fast: install
	WANDB_MODE=offline $(PY) -m pytest -q -m "not slow and not faults and not ddp" tests

# The wheels a lent GPU machine lacks (Python 3.12 manylinux), for `bash bench/gpu_check.sh` there; needs network.
gpu-wheels:
	$(shell test -x $(PY) && echo $(PY) || echo python3) bench/gpu_check_wheels.py --dest .gpu-wheels

clean:
	rm -rf $(VENV) runs .pytest_cache
