# cbload — see README.md.
GO      ?= go
BIN     ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
ROOT    := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))

.PHONY: build test e2e run bench bench-go bench-arms stability lint fuzz clean jaeger jaeger-up jaeger-down examples k8s-build k8s-up k8s-down k8s-env k8s-e2e

build: ## build bin/cbload
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/cbload ./cmd/cbload

# The long tests: most run whole schedules (a 24 s A/B run, trials,
# metastable sweeps, shards, real processes, a browser over a real run);
# the rest wait out real timeouts or drive a browser over saved reports.
# Together they take most of the suite's time. `make test` runs
# everything else; `make e2e` runs exactly these; CI runs both, so it covers
# every test. A new test that runs a real schedule belongs in this list.
E2E := ^(TestRunTrials|TestRunCPUStarvedIsNotValid|TestHeldCallersReadBySend|TestFailedFastBySendTime|TestRunConcurrentArms|TestRunCascadeFaults|TestShardsMergeLikeOneProcess|TestMetastableTriggerSweep|TestMetastableBreakerRecovers|TestRunFaultFiguresArePhaseTrue|TestRunErrorFaultNothingToPrevent|TestRunLatencyBelowCallTimeout|TestTracingBadCollector|TestRetryStorm|TestRunTimeToRecoverFollowsTheClose|TestCheckpointsFinal|TestRunUpstreamQueue|TestCollateralExpectationDegradesVerdict|TestTargetFaultsUnseen|TestJaegerEndToEnd|TestReadmeVerdictExamples|TestRunUnsendableRateIsNotValid|TestTargetEndToEnd|TestServicesEndToEnd|TestGRPCServiceEndToEnd|TestCompareRealRuns|TestNoRawLibraryLogs|TestExitCodeInterrupted|TestFaultCommandProcess|TestAbortOnFailTrials|TestAbortOnFailPasses|TestServeScheduleWithTwoArmRun|TestServeScheduleFollowsEveryArmRun|TestRunStoppedProcessIsNotValid|TestExamplesRunShortened|TestBrowserRealRun|TestBrowserTarget|TestBrowserLongRun|TestLargestReportReadsBack|TestInferOpenWithCallsInFlight|TestSuspectSuccesses|TestMetricsMatchReport|TestJaegerTargetEndToEnd|TestSingleTargetVerdict|TestPrometheusScrapesRun|TestBrowserSample|TestBrowserPartial|TestBrowserQueueAndTiers|TestFitJSON|TestInputSizeCaps|TestInputTimeout)$$

test: ## vet, then every test but the long experiments (make e2e) with the race detector, then the k8s manifest checks (tools/k8s)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 12m -skip '$(E2E)' ./...
	$(GO) test -count=1 -run '^TestLoadPathAllocs$$' ./harness # allocation counts need a build without -race
	cd tools/k8s && $(GO) vet ./... && $(GO) test -count=1 ./...

# One package's experiments at a time (-p 1): they are real-time runs on a
# schedule, and two packages' at once on 2 cores move requests across phase
# boundaries (a shard that starts late, an answer a second late), which the
# tests compare to 1%; alone they take ~18 minutes instead of ~10.
e2e: ## the long real-time experiments (see E2E), one package at a time, with the race detector; the Jaeger UI test uses JAEGER_UI
	JAEGER_UI='$(if $(JAEGER_UI),$(abspath $(JAEGER_UI)))' $(GO) test -race -count=1 -p 1 -timeout 40m -run '$(E2E)' ./...

run: build ## the main job: the default A/B experiment with a latency fault
	$(BIN)/cbload run --fault=latency

# An example whose experiment was not valid (exit 4: a stalled process or a
# load the machine could not send, so no verdict) is run once more, and says
# so; a second invalid run, or any other failure, fails the target.
examples: build ## run every examples/*.yaml scenario in full; fails when a threshold fails (under a minute each)
	@for f in examples/*.yaml; do \
		n=$$(basename $$f .yaml); echo "== $$f"; \
		for try in 1 2; do \
			rc=0; $(BIN)/cbload run --scenario $$f --out cbload-out/examples/$$n --force --progress never --no-step-summary \
				--junit cbload-out/examples/$$n/junit.xml || rc=$$?; \
			if [ $$rc -ne 4 ] || [ $$try -eq 2 ]; then break; fi; \
			echo "== $$f: the experiment was not valid (exit 4); running it once more"; \
		done; \
		if [ $$rc -ne 0 ]; then echo "== $$f failed (exit $$rc)"; exit $$rc; fi; \
	done

# The machine's limit (cbload's held rate as a share of what wrk reaches
# closed-loop on the same target) needs wrk, Debian's package `wrk`; without
# it that line is skipped with a message, the rest runs. CI runs no bench.
bench: build $(BIN)/vegeta ## performance against its goals, side by side (about 30 minutes; needs wrk for the machine-limit line; see CONTRIBUTING.md)
	@command -v wrk >/dev/null || echo "bench: wrk not found (apt-get install wrk): skipping the machine-limit line"
	$(GO) run ./tools/bench -cbload $(BIN)/cbload -vegeta $(BIN)/vegeta -wrk "$$(command -v wrk)"

# The vegeta CLI that bench compares the highest held rate with, from the Go
# module proxy at the version cbload's library is.
$(BIN)/vegeta:
	GOBIN=$(abspath $(BIN)) $(GO) install github.com/tsenart/vegeta/v12@v12.13.0

bench-go: ## Go benchmarks for the per-request hot paths (compare runs with benchstat), then the load path's allocation budget
	$(GO) test -run '^$$' -bench . -benchmem ./...
	@out=$$($(GO) test -count=1 -v -run '^TestLoadPathAllocs$$' ./harness 2>&1); rc=$$?; \
		echo "$$out" | grep -E 'allocations per request|^(---|ok|FAIL)'; exit $$rc

bench-arms: build ## concurrent vs sequential arms: 10 seeds each way on the default experiment and examples/metastable.yaml, verdicts and key figures compared (about 35 minutes, on an idle machine)
	./tools/bench/arms.sh -cbload $(BIN)/cbload

stability: build ## run the default experiment and examples/metastable.yaml 10 times each; all must agree
	CBLOAD=$(BIN)/cbload ./tools/stability.sh 10

lint: ## gofmt check and vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) cbload-out

# Jaeger v2 built from source (tools/jaeger is its own module declaring it as
# a tool; the Go build cache makes rebuilds fast). It runs all-in-one with
# in-memory storage: OTLP on 127.0.0.1:4317 (gRPC) and :4318 (HTTP), query
# API and UI on http://127.0.0.1:16686 (harness.DefaultJaegerURL, where
# exemplar links point). The Go module has no UI assets: JAEGER_UI names a
# folder of built jaeger-ui (v1.76.0, matching the binary); it defaults to
# ../shared/jaeger-ui beside the repository when that folder exists.
JAEGER_PID ?= $(BIN)/jaeger.pid
JAEGER_LOG ?= $(BIN)/jaeger.log
JAEGER_UI  ?= $(wildcard $(ROOT)/../shared/jaeger-ui)

jaeger: ## build bin/jaeger (Jaeger v1.76.0 from tools/jaeger)
	cd tools/jaeger && $(GO) build -o ../../$(BIN)/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

jaeger-up: ## start bin/jaeger on loopback in the background, with the UI from JAEGER_UI when set
	@test -x $(BIN)/jaeger || $(MAKE) jaeger
	@ui='$(if $(JAEGER_UI),$(abspath $(JAEGER_UI)))'; \
	if [ -n "$$ui" ] && [ ! -f "$$ui/index.html" ]; then echo "JAEGER_UI=$(JAEGER_UI): no index.html there; want a folder of built jaeger-ui assets (see README, View traces in Jaeger)" >&2; exit 2; fi; \
	if [ -f $(JAEGER_PID) ] && kill -0 $$(cat $(JAEGER_PID)) 2>/dev/null; then echo "jaeger already running (pid $$(cat $(JAEGER_PID)))"; exit 0; fi; \
	JAEGER_LISTEN_HOST=127.0.0.1 nohup $(BIN)/jaeger \
		--set=extensions.jaeger_query.http.endpoint=127.0.0.1:16686 \
		--set=extensions.jaeger_query.grpc.endpoint=127.0.0.1:16685 \
		$${ui:+--set=extensions.jaeger_query.ui.assets_path=$$ui} \
		>$(JAEGER_LOG) 2>&1 & echo $$! >$(JAEGER_PID); \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:13133/status >/dev/null 2>&1 && break; sleep 0.1; done; \
	if [ -n "$$ui" ]; then what="UI and API http://127.0.0.1:16686 (UI assets $$ui)"; \
	else what="API http://127.0.0.1:16686 (no UI: set JAEGER_UI to a built jaeger-ui folder, see README)"; fi; \
	echo "jaeger up (pid $$(cat $(JAEGER_PID))): OTLP http://127.0.0.1:4318, $$what, log $(JAEGER_LOG)"

jaeger-down: ## stop the bin/jaeger started by jaeger-up
	@if [ -f $(JAEGER_PID) ]; then pid=$$(cat $(JAEGER_PID)); kill $$pid 2>/dev/null || true; \
		for i in $$(seq 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
		rm -f $(JAEGER_PID); echo "jaeger stopped"; else echo "jaeger not running"; fi

# A real single-node Kubernetes for the end-to-end test of examples/k8s
# (tools/kube/cluster.sh says how it is made). Needs root. The Kubernetes
# binaries are built from the release tools/kube/go.mod requires into
# bin/kube/VERSION, once: a present folder is kept, and a copy per user in
# ~/.cache/cbload/kube/VERSION serves other clones (cold, empty Go caches:
# 22.8 CPU-minutes, 29.5 min measured on 2 cores shared with other jobs). k8s-up leaves it running (make k8s-env);
# k8s-down stops it and undoes every change; k8s-e2e brings it up, runs the
# Indexed Job test (tools/kube/e2e.sh) and always tears it down.
k8s-build: ## build the test cluster's kube-apiserver, controller-manager, scheduler, kubelet, kubectl (cached in bin/kube/VERSION)
	tools/kube/install-debian.sh
	GO=$(GO) tools/kube/build.sh

k8s-up: k8s-build ## start the single-node test cluster (root; stop it with make k8s-down)
	GO=$(GO) tools/kube/cluster.sh up

k8s-down: ## stop the test cluster and undo its changes (processes, mounts, cgroups, netns, sysctls)
	tools/kube/cluster.sh down

k8s-env: ## print the KUBECONFIG export for the test cluster
	@tools/kube/cluster.sh env

k8s-e2e: k8s-build ## examples/k8s on the test cluster: 3 indexed shards, the merge, a partial merge (about 5 minutes)
	GO=$(GO) tools/kube/e2e.sh
