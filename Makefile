# Common tasks. Every target builds the environment first (a no-op when it exists);
# commands run through ./dev, so on older hosts they run inside the Debian 13 root.
SHELL := /bin/bash
DEV := ./dev
OUT ?= $(CURDIR)/out
DATA ?= $(OUT)/data

IMAGE ?= tastebud-pipeline:latest
# pytest-xdist workers for make test and test-fast (tests/conftest.py keeps each shared
# pipeline run on one worker); JOBS=0 runs the tests in one process.
JOBS ?= 2
PARALLEL := -n $(JOBS) --dist loadgroup --no-loadscope-reorder

.PHONY: setup lock test test-fast lint format demo review tensorboard notebook image stress bench bench-phone bench-head clean-out

setup:
	@scripts/setup.sh

lock:  ## re-resolve requirements.in into requirements.lock
	@scripts/setup.sh --relock

lint: setup
	$(DEV) ruff check .

format: setup
	$(DEV) ruff format .

test: setup  ## lint + the launcher checks + both test tiers (tests/unit, then tests/e2e: the real pipeline runs)
	$(DEV) ruff check .
	tests/test_launcher.sh
	$(DEV) pytest $(PARALLEL)

test-fast: setup  ## the unit tier only (tests/unit: no pipeline runs; 1.5-2.5 minutes on 2 cores)
	$(DEV) pytest $(PARALLEL) tests/unit

stress: setup  ## the bounded load test of tastebud serve (loopback, 16 clients, 14 rounds of 160 requests, leak check)
	$(DEV) pytest tests/e2e -m stress -s

bench: setup  ## the benchmark suite; writes bench/results.json (not part of make test)
	$(DEV) python -m bench.run

bench-phone: setup  ## sideways-photo accuracy and big-JPEG decoding; writes bench/results_phone.json
	$(DEV) python -m bench.phone

bench-head: setup  ## 5-fold CV: the head (with its Tuner) vs a logistic-regression probe, on OUT's embeddings
	$(DEV) python -m bench.head_cv --output $(OUT)

demo: setup  ## prepare the bundled sample, run the local pipeline, show results
	$(DEV) python -m tastebud.demo --out $(OUT)

review: setup  ## HTML report of the latest evaluation under OUT
	$(DEV) tastebud review --output $(OUT)

tensorboard: setup  ## TensorBoard on the latest training run under OUT (loopback)
	$(DEV) tastebud tensorboard --output $(OUT)

notebook: setup  ## model_analysis.ipynb on the latest run under OUT, in Jupyter on 127.0.0.1 (prints the URL)
	TASTEBUD_OUT=$(OUT) $(DEV) jupyter notebook --ip=127.0.0.1 --no-browser --notebook-dir=$(CURDIR) model_analysis.ipynb

image:  ## the pipeline container for Vertex AI and Dataflow (needs a Docker engine)
	docker build -t $(IMAGE) .

clean-out:
	rm -rf $(OUT)
