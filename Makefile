# Every target builds .venv (Python 3.12 from .python-version) on first use.
PY_VERSION := $(shell cat .python-version)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench soak interop venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if command -v pyenv >/dev/null 2>&1 && pyenv prefix $(PY_VERSION) >/dev/null 2>&1; then \
	    "$$(pyenv prefix $(PY_VERSION))/bin/python" -m venv $(VENV); \
	  elif command -v python$(PY_VERSION) >/dev/null 2>&1; then \
	    python$(PY_VERSION) -m venv $(VENV); \
	  else echo "Python $(PY_VERSION) not found (install it with pyenv)"; exit 1; fi; \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tandem demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m perf

soak: $(STAMP)
	$(PY) -m pytest -q -m soak

# QuickFIX against `tandem gateway fix --echo-app`; the extra compiles QuickFIX (minutes, once)
interop: $(STAMP)
	$(PY) -m pip install -q -e '.[interop]'
	$(PY) -m pytest -q -m interop tests/interop

clean:
	rm -rf $(VENV) var build *.egg-info sequencer/__pycache__/numba-*
