# make test   install everything into .venv (first time: 10-35 min on 2 cores, mostly mmcv's build), run the tests
# make demo   install, generate the bundled dataset, train and evaluate the detector (COCO mAP)
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

.PHONY: install test demo benchmark clean

install: $(STAMP)

# Re-runs only when the requirements change; pip reuses its cached mmcv wheel on later runs.
$(STAMP): setup.cfg pyproject.toml requirements/build.txt requirements/mmdet.txt requirements/test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install -r requirements/build.txt
	@echo "building mmcv's ops (if not cached) with MAX_JOBS=$(MAX_JOBS) (override: make MAX_JOBS=N ...)"
	FORCE_CUDA=$$($(PY) -c "$(CUDA_BUILD)") MAX_JOBS=$(MAX_JOBS) $(PIP) install --no-build-isolation -e ".[mmdet,test]"
	@$(PY) -c "from mmcv.ops import nms" || { echo "mmcv was installed without its compiled ops" \
	  "(it must be built with --no-build-isolation against the installed torch)"; exit 1; }
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

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

clean:
	rm -rf $(VENV) work_dirs *.egg-info
