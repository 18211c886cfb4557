# make test   install everything into .venv (first time: 10-35 min on 2 cores, mostly mmcv's build), lint, run the tests
# make test-core          the core's tests only (tests/core_tests.txt) on .venv, torch and Triton only: the quick loop
# make demo   install, generate the bundled dataset, train and evaluate the detector (COCO mAP)
# make test-cpu-capabilities  the float32 comparisons again under ATEN_CPU_CAPABILITY=default and avx2 (part of make test)
# make test-torchvision   torchvision's detection models with our loss, in their own venv (part of make test)
# make wheel-check        build the sdist and wheel, install the wheel into a fresh venv, use it from outside (part of make test)
# make lint               ruff on the package, tools and tests (its own small venv; also part of make test)
# make triton-aot-check   the Triton kernels compiled for sm_80/89/90 (no GPU needed), every specialisation, two Tritons
# make check-torch-floor  the core's tests on the oldest torch setup.cfg declares (a separate venv)
# make gpu-check          on a CUDA machine, 6 minutes: exactness tests, sanitizer, benchmark, then the verification
#                         record that lets backend='auto' take the Triton kernels there (GPU_CHECK_OUT=<folder>)
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
MAX_JOBS ?= $(shell bash tools/dev/max_jobs.sh)
# mmcv's CUDA ops are built where torch is a CUDA build and nvcc is on PATH (a GPU machine);
# elsewhere (CPU torch, as here, even with nvcc installed) only its CPU ops.
CUDA_BUILD := import shutil, torch; print(int(bool(torch.version.cuda) and shutil.which('nvcc') is not None))
# ... and only for the local GPU's architecture where one is visible (a much shorter build);
# empty (mmcv's default list) where none is. Override: TORCH_CUDA_ARCH_LIST=9.0 make install
CUDA_ARCH := import torch; print('%d.%d' % torch.cuda.get_device_capability() if torch.cuda.is_available() else '')

.PHONY: install test test-core test-cpu-capabilities test-torchvision wheel-check lint triton-aot-check docs docs-serve demo benchmark check-torch-floor gpu-check clean

install: $(STAMP)

# Re-runs only when the requirements change; pip reuses its cached mmcv wheel on later runs.
# The exact versions tested (requirements/constraints.txt) are applied with -c; the package's
# metadata itself only carries ranges (setup.cfg, requirements/*.txt).
CONSTRAINTS := -c requirements/constraints.txt
$(STAMP): setup.cfg pyproject.toml requirements/constraints.txt requirements/build.txt requirements/mmdet.txt \
		requirements/mmseg.txt requirements/study.txt requirements/test.txt requirements/docs.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install $(CONSTRAINTS) -r requirements/build.txt
	@echo "building mmcv's ops (if not cached) with MAX_JOBS=$(MAX_JOBS) (override: make MAX_JOBS=N ...)"
	arch="$${TORCH_CUDA_ARCH_LIST:-$$($(PY) -c "$(CUDA_ARCH)")}"; if [ -n "$$arch" ]; then export TORCH_CUDA_ARCH_LIST="$$arch"; fi; \
	  FORCE_CUDA=$$($(PY) -c "$(CUDA_BUILD)") MAX_JOBS=$(MAX_JOBS) $(PIP) install $(CONSTRAINTS) --no-build-isolation \
	    -e ".[all,test,docs]"
	@$(PY) -c "from mmcv.ops import nms" || { echo "mmcv was installed without its compiled ops" \
	  "(it must be built with --no-build-isolation against the installed torch)"; exit 1; }
	touch $@

test: $(STAMP) lint
	$(PY) -m pytest -q
	$(MAKE) --no-print-directory test-cpu-capabilities
	$(MAKE) --no-print-directory wheel-check
	$(MAKE) --no-print-directory test-torchvision

# The quick loop: the core's tests (tests/core_tests.txt, the one list) on .venv with only what they need
# (torch, Triton, numpy, pytest: no mmcv build, no torchvision; make install adds the rest to the same venv).
# The package on PYTHONPATH, as the torch-floor check runs them.
CORE_TESTS := $(shell grep -v '^\#' tests/core_tests.txt)
CORE_STAMP := $(VENV)/.core-installed
$(CORE_STAMP): requirements/constraints.txt requirements/test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(CONSTRAINTS) torch numpy pytest "triton>=3.6"
	touch $@

test-core: $(CORE_STAMP)
	PYTHONPATH=$(CURDIR) $(PY) -m pytest -q -p no:cacheprovider $(CORE_TESTS)

# torchvision's detection models (imbalanced_losses.torchvision) in their own venv: no torchvision
# build loads beside the CPU torch of .venv, torch 2.14.1 + torchvision 0.29.1 from the registry do
# (CUDA builds that run on CPU; ~5.5 GB, 3-10 minutes to install; requirements/torchvision-test.txt).
# The repository on PYTHONPATH; the rest of the suite skips these tests (no torchvision in .venv).
TV_VENV := .venv-torchvision
$(TV_VENV)/.installed: requirements/torchvision-test.txt
	test -x $(TV_VENV)/bin/python || $(PYTHON) -m venv $(TV_VENV)
	$(TV_VENV)/bin/pip install --quiet -r requirements/torchvision-test.txt
	touch $@

test-torchvision: $(TV_VENV)/.installed
	PYTHONPATH=$(CURDIR) $(TV_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/torchvision tests/tools/test_torchvision_train_tool.py

# The tests that compare float32 results across summation orders, again under CPU capabilities
# other than the machine's own (AVX2 and AVX-512 split reductions differently: tests/README.md).
# Each run gets its own inductor cache: torch's does not key entries on ATEN_CPU_CAPABILITY, and a
# kernel cached for another capability fails to compile or crashes (tests/README.md).
# Triton's interpreter computes with numpy, which the capability does not steer: its fuzz cases
# are left out (its DDP comparisons stay in).
CAPABILITIES ?= default avx2
CAPABILITY_TESTS := tests/core/test_focal_loss.py tests/kernels/test_backends.py tests/kernels/test_compile_backend.py \
	tests/core/test_distributed.py tests/openmmlab/test_two_stage.py tests/openmmlab/test_mmdet_integration.py
test-cpu-capabilities: $(STAMP)
	@for capability in $(CAPABILITIES); do \
	  cache=$$(mktemp -d); echo "ATEN_CPU_CAPABILITY=$$capability"; \
	  ATEN_CPU_CAPABILITY=$$capability TORCHINDUCTOR_CACHE_DIR=$$cache $(PY) -m pytest -q -p no:cacheprovider \
	    $(CAPABILITY_TESTS) -k "not (test_matches_float64_reference and triton)"; \
	  status=$$?; rm -rf $$cache; [ $$status -eq 0 ] || exit $$status; \
	done

# ruff alone in its own venv: a new contributor lints in seconds, without the OpenMMLab stack.
LINT_VENV := .venv-lint
$(LINT_VENV)/.installed: requirements/lint.txt
	test -x $(LINT_VENV)/bin/python || $(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet -r requirements/lint.txt
	touch $@

lint: $(LINT_VENV)/.installed
	$(LINT_VENV)/bin/ruff check --no-cache imbalanced_losses tools tests projects  # no cache: import grouping depends on the tree

# The wheel as pip users get it (tools/dev/wheel_check.py), in a fresh venv that sees only torch (and
# numpy): those of a torch-only venv (the versions of the constraints file), made once.
TORCH_VENV := .venv-torch-only
$(TORCH_VENV)/.installed: requirements/constraints.txt
	test -x $(TORCH_VENV)/bin/python || $(PYTHON) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/pip install --quiet $(CONSTRAINTS) torch numpy
	touch $@

wheel-check: $(STAMP) $(TORCH_VENV)/.installed
	$(PY) tools/dev/wheel_check.py --torch-site "$$($(TORCH_VENV)/bin/python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"

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
	$(PY) tools/analysis_tools/benchmark_loss.py

check-torch-floor:
	bash tools/dev/check_torch_floor.sh

# Every layout x dtype x option set x target dtype x candidate tile x narrow/WIDE offsets compiled for
# sm_80, sm_89 and sm_90 without a GPU (make test runs its CI-sized part: tests/kernels/test_triton_aot.py),
# with .venv's Triton and with the lowest Triton the package accepts (triton_focal.MIN_TRITON), in its own venv.
TRITON_FLOOR ?= 3.6
TRITON_FLOOR_VENV := .venv-triton-floor
$(TRITON_FLOOR_VENV)/.installed: requirements/constraints.txt
	test -x $(TRITON_FLOOR_VENV)/bin/python || $(PYTHON) -m venv $(TRITON_FLOOR_VENV)
	$(TRITON_FLOOR_VENV)/bin/pip install --quiet $(CONSTRAINTS) torch "numpy<2.4" "triton==$(TRITON_FLOOR).*"
	touch $@

triton-aot-check: $(STAMP) $(TRITON_FLOOR_VENV)/.installed
	env -u TRITON_INTERPRET $(PY) tools/dev/triton_aot_check.py --full
	env -u TRITON_INTERPRET PYTHONPATH=$(CURDIR) $(TRITON_FLOOR_VENV)/bin/python tools/dev/triton_aot_check.py --full --allow-spills

# No install step: on a bare GPU machine it runs with python3 and the checkout on PYTHONPATH (the
# detector run needs .venv's mmcv, built with its CUDA ops by make install, and is skipped without).
gpu-check:
	bash tools/dev/gpu_check.sh

clean:
	rm -rf $(VENV) $(LINT_VENV) .venv-torch-* $(TV_VENV) $(TRITON_FLOOR_VENV) work_dirs site *.egg-info dist build
