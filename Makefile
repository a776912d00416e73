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
