# cbload — see README.md.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build test run bench bench-go stability lint fuzz clean

build: ## build bin/cbload
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/cbload ./cmd/cbload

test: ## vet and run every test with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m ./...

run: build ## the main job: the default A/B experiment with a latency fault
	$(BIN)/cbload run --fault=latency

bench: build ## performance against its goals, side by side (about 15 minutes; see README)
	$(GO) run ./tools/bench -cbload $(BIN)/cbload

bench-go: ## Go benchmarks for the per-request hot paths (compare runs with benchstat)
	$(GO) test -run '^$$' -bench . -benchmem ./...

stability: build ## run the default experiment 10 times; all verdicts must agree
	CBLOAD=$(BIN)/cbload ./tools/stability.sh 10

lint: ## gofmt check and vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) cbload-out
