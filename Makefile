# Two commands for a new user: `make demo` and `make test`. Both set up .venv when it is missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test clean browser

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# torch 2.13.0 is the CPU build on this disk; any other version pulls a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mvtrack demo --out demo_out

test: $(STAMP) browser
	$(PY) -m pytest

# The review app's browser test drives Debian's headless Chromium; installed here when missing and we
# are root (elsewhere that test is skipped with the reason).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium and chromium-driver (for tests/test_review_browser.py)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	      >/dev/null 2>&1 || echo "could not install chromium: the browser test will be skipped"; \
	  fi; \
	fi

clean:
	rm -rf $(VENV) demo_out
