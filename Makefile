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

.PHONY: lint
lint: ## cargo fmt, clippy -D warnings, ruff, mypy
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(PYTHON) -m ruff check python tests bench examples
	$(PYTHON) -m ruff format --check python tests bench examples
	$(PYTHON) -m mypy python/asr_interface

.PHONY: bench
bench: install ## Run the benchmarks (criterion and the bench/ scripts)
	cargo bench -p asr-core
	$(PYTHON) -m pytest bench
