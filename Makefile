# Moldau: the two commands are `make run` and `make test`.
GO        ?= go
PKGS      := ./...
FUZZTIME  ?= 10s
# FUZZ selects fuzz targets (an extended regexp over package:FuzzName).
FUZZ      ?= .
FUZZLONG  ?= 10m

.PHONY: run build test unit deps vet fuzz fuzz-long franz-suite franz-suite-cluster compat clean

run:
	$(GO) run ./cmd/moldau

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$$(git describe --tags 2>/dev/null || echo dev) -X github.com/moldau/moldau/broker.linkRevision=$$(git describe --always --dirty --abbrev=40 --match=NONE 2>/dev/null) -X github.com/moldau/moldau/broker.linkBuildDate=$$(date -u +%Y-%m-%dT%H:%M:%SZ)" -o bin/moldau ./cmd/moldau

# test: everything CI runs. Installs what it needs first (deps: Go modules and
# the tools the tests call).
test: deps vet deploy-check
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	$(MAKE) fuzz
	$(MAKE) franz-suite-cluster
	$(MAKE) compat

# deps: every tool a test needs, installed only when missing (under CI a
# test fails, never skips, when its tool is absent: internal/testenv):
# kcat (tests/kcat_test.go), zsh (cmd/moldau's completion test), a JDK and
# Maven (tests/streams_test.go, the compat drivers), Python's venv and npm
# (tests/compat/setup.sh), nft (tests/jepsen's network partitions), openssl
# (tests/security_fixture_test.go's PKCS12 stores), chromium (the web
# console's browser test, tests/console_browser_test.go, which installs its
# playwright-core with tests/console/setup.sh), curl
# (tests/restproxy_curl_test.go), all Debian packages.
deps:
	$(GO) mod download
	@missing=""; \
	command -v kcat >/dev/null 2>&1 || missing="$$missing kcat"; \
	command -v zsh >/dev/null 2>&1 || missing="$$missing zsh"; \
	{ command -v java >/dev/null 2>&1 && command -v javac >/dev/null 2>&1; } || missing="$$missing default-jdk-headless"; \
	command -v mvn >/dev/null 2>&1 || missing="$$missing maven"; \
	python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	command -v nft >/dev/null 2>&1 || missing="$$missing nftables"; \
	command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (Debian packages)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	./tests/console/setup.sh >/dev/null

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# fuzz: every fuzz target briefly (go test runs one -fuzz target at a time);
# FUZZ=FuzzHandle runs only the targets it matches.
fuzz:
	@for spec in $$($(GO) run ./tests/fuzzlist | grep -E '$(FUZZ)'); do \
		pkg=$${spec%%:*}; name=$${spec##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		out=$$(mktemp); \
		if ! $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1; then \
			cat $$out; \
			if grep -q 'Failing input written' $$out; then rm -f $$out; exit 1; fi; \
			echo "fuzz $$name: the fuzzing engine failed without a failing input (Go's 'context deadline exceeded' at the time limit); running it again"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || { rm -f $$out; exit 1; }; \
		else tail -n 3 $$out; fi; \
		rm -f $$out; \
	done

# fuzz-long: every fuzz target (or those FUZZ matches) for FUZZLONG each
# (10m by default; SECURITY.md).
fuzz-long:
	$(MAKE) fuzz FUZZTIME=$(FUZZLONG) FUZZ='$(FUZZ)'

# compat: the cross-client compatibility matrix against Moldau and Apache
# Kafka side by side (tests/compat/README.md). Installs its drivers first
# (Maven, pip, npm, apt-get kcat; cached under tests/compat/.cache); writes
# tests/compat/MATRIX.md and the README's compat block; fails on any result
# that differs from tests/compat/expectations.txt.
compat:
	./tests/compat/setup.sh
	$(GO) run ./tests/compat $(COMPAT_ARGS)

# deploy-check: the Dockerfile's go build line, kubeconform -strict on
# deploy/kubernetes and the rendered Helm chart, helm lint, docker-compose.yml
# and the Prometheus config, and the Grafana dashboard's metric names against a
# live scrape (deploy/README.md). Tools cached under $(go env GOPATH).
.PHONY: deploy-check
deploy-check:
	GO=$(GO) ./deploy/check/check.sh

# franz-suite: franz-go's own integration suite against a fresh binary.
franz-suite: build
	./tests/franz-suite.sh

# franz-suite-cluster: the same suite against a fresh three-node cluster
# (127.0.0.1-3) at replication factor 3, then once more with franz-go's chaos
# dialer (KGO_TEST_CHAOS=1: every client connection dies after 0.5-1.5 s);
# part of `make test`.
franz-suite-cluster: build
	./tests/franz-suite-cluster.sh
	KGO_TEST_CHAOS=1 FRANZ_SUITE_LOG=/tmp/franz-suite-cluster-chaos.log ./tests/franz-suite-cluster.sh

clean:
	rm -rf bin moldau-data

# bench: side-by-side benchmarks against Apache Kafka 4.4 (jars fetched by the
# compat launcher into tests/compat/.cache), kfake and the null-broker ceiling;
# appends to bench/results/runs.jsonl, writes bench/RESULTS.md and the plots
# bench/results/*.png (bench/README.md). BENCH_ARGS passes runner flags, e.g.
# BENCH_ARGS='-rounds 5 -workloads W2,W5' or '-scale 0.1' for a short run.
.PHONY: bench
bench:
	./tests/compat/kafka-ref.sh fetch
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/moldau ./cmd/moldau
	$(GO) build -o bin/load ./bench/load
	$(GO) build -o bin/kfake ./bench/kfake
	$(GO) build -o bin/nullbroker ./bench/nullbroker
	$(GO) build -o bin/runner ./bench/runner
	./bin/runner -root . -out bench $(BENCH_ARGS)
