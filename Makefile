# The two commands: `make run` (the main job on embedded defaults) and `make test`.
# Both do all set-up themselves on a fresh machine (see scripts/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python
GS := $(VENV)/bin/gridsight
export GRIDSIGHT_DATA ?= $(abspath ../shared/data)

.PHONY: setup run test bench clean

setup:
	@bash scripts/setup.sh

run: setup
	@bash scripts/run.sh

test: setup
	@bash scripts/services.sh
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) bench/detect.py

clean:
	rm -rf var runs .pytest_cache
