# make test   install everything into .venv (first time: 10-35 min on 2 cores, mostly mmcv's build), lint, run the tests
# make demo   install, generate the bundled dataset, train and evaluate the detector (COCO mAP)
# make lint               ruff on the package, tools and tests (also part of make test)
# make check-torch-floor  the core's tests on the oldest torch setup.cfg declares (a separate venv)
# make gpu-check          on a CUDA machine: CUDA tests, GPU benchmark, a short detector run on CUDA
# make docs / docs-serve  build the documentation site strictly into site/ / serve it on localhost:8000
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
DEMO_CONFIG ?= configs/retinanet/retinanet_r18-half_fpn_softmax-focal_30e_shapes.py
DEMO_WORK_DIR ?= work_dirs/demo
DATA := data/shapes
# mmcv's source build: one compiler job per core, at most one per 3 GB of available memory.
MAX_JOBS ?= $(shell bash tools/max_jobs.sh)
# mmcv's CUDA ops are built where torch is a CUDA build and nvcc is on PATH (a GPU machine);
# elsewhere (CPU torch, as here, even with nvcc installed) only its CPU ops.
CUDA_BUILD := import shutil, torch; print(int(bool(torch.version.cuda) and shutil.which('nvcc') is not None))
# ... and only for the local GPU's architecture where one is visible (a much shorter build);
# empty (mmcv's default list) where none is. Override: TORCH_CUDA_ARCH_LIST=9.0 make install
CUDA_ARCH := import torch; print('%d.%d' % torch.cuda.get_device_capability() if torch.cuda.is_available() else '')

.PHONY: install test lint docs docs-serve demo benchmark check-torch-floor gpu-check clean

install: $(STAMP)

# Re-runs only when the requirements change; pip reuses its cached mmcv wheel on later runs.
$(STAMP): setup.cfg pyproject.toml requirements/build.txt requirements/mmdet.txt requirements/test.txt requirements/docs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install -r requirements/build.txt
	@echo "building mmcv's ops (if not cached) with MAX_JOBS=$(MAX_JOBS) (override: make MAX_JOBS=N ...)"
	arch="$${TORCH_CUDA_ARCH_LIST:-$$($(PY) -c "$(CUDA_ARCH)")}"; if [ -n "$$arch" ]; then export TORCH_CUDA_ARCH_LIST="$$arch"; fi; \
	  FORCE_CUDA=$$($(PY) -c "$(CUDA_BUILD)") MAX_JOBS=$(MAX_JOBS) $(PIP) install --no-build-isolation -e ".[mmdet,test,docs]"
	@$(PY) -c "from mmcv.ops import nms" || { echo "mmcv was installed without its compiled ops" \
	  "(it must be built with --no-build-isolation against the installed torch)"; exit 1; }
	touch $@

test: $(STAMP) lint
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check imbalanced_losses tools tests

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve

$(DATA)/annotations/val.json: | $(STAMP)
	$(PY) tools/generate_shapes_dataset.py --out $(DATA) --seed 0

demo: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory $(DATA)/annotations/val.json && \
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR) && \
	$(PY) tools/test.py $(DEMO_CONFIG) "$$(cat $(DEMO_WORK_DIR)/last_checkpoint)" --work-dir $(DEMO_WORK_DIR) && \
	echo "demo: generation, training and evaluation took $$(( $$(date +%s) - start )) s"

benchmark: $(STAMP)
	$(PY) tools/benchmark_loss.py

check-torch-floor:
	bash tools/check_torch_floor.sh

gpu-check: $(STAMP)
	PY=$(PY) bash tools/gpu_check.sh

clean:
	rm -rf $(VENV) .venv-torch-* work_dirs site *.egg-info
