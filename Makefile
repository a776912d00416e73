# asr-interface developer tasks. `make help` lists them.
PYTHON ?= python3
.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: install
install: ## Install the package with test and multilingual extras (editable, builds the extension)
	$(PYTHON) -m pip install -q -e '.[test,multilingual]'

.PHONY: build-dev
build-dev: ## Rebuild the Rust extension into the installed package
	$(PYTHON) -m pip install -q --no-deps -e .

.PHONY: test
test: install ## Run every test: cargo, then pytest on the real extension and model
	cargo test --workspace
	$(PYTHON) -m pytest

# The instruction sets CTranslate2 has kernels for, each as ISA:oneDNN cap:MKL cap. The int8
# matrix products run in oneDNN on AMD CPUs and in Intel MKL on Intel ones, each with kernels
# of its own per instruction set: test-isa caps all three, so that what passes here passes on
# an older CPU of either vendor.
ISA_CAPS := GENERIC:SSE41:SSE4_2 AVX:AVX:AVX AVX2:AVX2:AVX2 AVX512:AVX512_CORE:AVX512
ISAS ?= GENERIC $(shell grep -ow -E 'avx|avx2' /proc/cpuinfo | sort -u | tr a-z A-Z) \
	$(shell grep -qw avx512f /proc/cpuinfo && echo AVX512)
USE_MKL ?= $(if $(shell grep -qm1 GenuineIntel /proc/cpuinfo && echo intel),1,0)

SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: test-deps
test-deps: ## Install the Debian packages that the browser, proxy, failover and German/Spanish tests need
	$(SUDO) apt-get update -qq
	@# The tests run their own haproxy and nginx on free ports: a policy-rc.d (unless the
	@# machine has one) keeps the packages from starting, or failing to start, a service.
	@made=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  printf '#!/bin/sh\nexit 101\n' | $(SUDO) tee /usr/sbin/policy-rc.d >/dev/null; \
	  $(SUDO) chmod +x /usr/sbin/policy-rc.d; made=1; fi; \
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends \
		chromium espeak-ng haproxy nginx; status=$$?; \
	test -z "$$made" || $(SUDO) rm -f /usr/sbin/policy-rc.d; exit $$status

.PHONY: test-isa
test-isa: install ## Run the model tests under each instruction set of this CPU
	@# ISAS="AVX2" runs a part of the matrix; USE_MKL="0 1" runs each under oneDNN and MKL
	@# (CTranslate2 uses MKL on Intel CPUs only, and on others MKL may run far slower).
	@failed=""; \
	for caps in $(filter $(addsuffix :%,$(ISAS)),$(ISA_CAPS)); do \
	  isa=$${caps%%:*}; limits=$${caps#*:}; \
	  for mkl in $(USE_MKL); do \
	    echo "== CT2_FORCE_CPU_ISA=$$isa CT2_USE_MKL=$$mkl"; \
	    CT2_FORCE_CPU_ISA=$$isa CT2_USE_MKL=$$mkl ONEDNN_MAX_CPU_ISA=$${limits%%:*} \
	      MKL_ENABLE_INSTRUCTIONS=$${limits#*:} $(PYTHON) -m pytest -m model -q \
	      || failed="$$failed $$isa/mkl=$$mkl"; \
	  done; \
	done; \
	test -z "$$failed" || { echo "model tests failed under:$$failed"; exit 1; }

# The release build: the wheel runs on glibc 2.28 and newer whatever this machine has, because
# zig links it against that glibc; maturin then checks the tag (its auditwheel pass). maturin
# builds the wheel from the unpacked sdist, so an sdist that lacks a file fails here. It runs
# zig through the Python that installed it (CARGO_ZIGBUILD_PYTHON_PATH), not the first python3.
WHEEL_TOOLS := 'maturin[zig]>=1.7,<2'
MANYLINUX ?= manylinux_2_28

.PHONY: wheel
wheel: ## Build the release wheel (cp311-abi3, manylinux_2_28) and the sdist into dist/
	$(PYTHON) -m pip install -q $(WHEEL_TOOLS)
	rm -rf dist
	CARGO_ZIGBUILD_PYTHON_PATH=$(PYTHON) $(PYTHON) -m maturin build --release --sdist --out dist \
		--zig --compatibility $(MANYLINUX) --auditwheel check

.PHONY: test-wheel
test-wheel: wheel ## Install the wheel where there is no cargo or rustc, stream speech through it
	PYTHON=$(PYTHON) release/test-wheel

.PHONY: lint
lint: ## cargo fmt, clippy -D warnings, ruff, mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m ruff check python tests bench examples release
	$(PYTHON) -m ruff format --check python tests bench examples release
	$(PYTHON) -m mypy python/asr_interface

.PHONY: bench
bench: install ## Run the benchmarks (criterion and the bench/ scripts)
	cargo bench -p asr-core
	$(PYTHON) -m pytest bench
