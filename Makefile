# Two commands for a new user: `make demo` and `make test`. Both set up .venv when it is missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch 2.13.0 is the CPU build on this disk; any other version pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mvtrack demo --out demo_out

test: $(STAMP)
	$(PY) -m pytest

clean:
	rm -rf $(VENV) demo_out
