# wasihsm: the targets people expect. `make test` is what CI runs (after
# `make lint`, see .ci/run).

GO        ?= go
BIN       ?= bin
WASIHSM   := $(BIN)/wasihsm
FUZZTIME  ?= 30s
# How long `make soak` loads the host (a Go duration).
SOAK      ?= 10m
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X main.version=$(VERSION)
WASM_ENV  := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0
# Packages built for the guest side (GOOS=wasip1).
GUEST_PKGS := ./guest/... ./examples/... ./cmd/wasihsm/testdata/guests/... ./bench/guests/...
# Cross builds that `make check` tries (GOOS/GOARCH).
CROSS     := linux/arm64 darwin/arm64 windows/amd64

# The guest SDK's own tests and runnable examples run inside wasihsm itself:
# go test hands the test binary (a wasm module) to this command, in the
# package's directory (PWD). They read nothing but their package, so they
# get guest/ read-only, and the temporary directory, where the testing
# package keeps each example's output.
GUEST_TMP := $(or $(TMPDIR),/tmp)
GUEST_EXEC = $(abspath $(WASIHSM)) run --backend software --dir $(CURDIR)/guest:$(CURDIR)/guest:ro --env PWD \
	--dir $(GUEST_TMP):$(GUEST_TMP) --env TMPDIR=$(GUEST_TMP)

# CI=true makes the tests that need SoftHSM2 fail instead of skipping.
CI ?=
export CI

.PHONY: all test lint check build demo fuzz bench clean conformance generate

all: lint test

## test: vet, every test with the race detector (the C and Rust guests too: built with
## clang and Debian's /usr/bin/cargo and rustc by internal/wasmtoolchain), then the guest
## SDK's tests inside wasihsm. The token-group tests (TIMED_PKGS) run after the others,
## on their own: they hold the group to its figures (0 failed calls, rejoin in time),
## which are the product's under load from guests, not under a dozen race-instrumented
## test binaries starving the token servers of CPU.
TIMED_PKGS := ./reliability/tokengroup/
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/reliability/tokengroup$$')
	$(GO) test -race -count=1 $(TIMED_PKGS)
	$(WASM_ENV) $(GO) test -count=1 -exec "$(GUEST_EXEC)" ./guest/...

## lint: vet, staticcheck (pinned in go.mod) and gofmt
lint:
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w needed:"; echo "$$unformatted"; exit 1; fi

## check: builds without cgo and for other platforms, vets the guest side, and go.mod is tidy
check:
	CGO_ENABLED=0 $(GO) build ./...
	@set -e; for p in $(CROSS); do \
		echo "GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./..."; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build ./...; \
	done
	$(WASM_ENV) $(GO) vet $(GUEST_PKGS)
	$(GO) mod tidy -diff

## build: bin/wasihsm
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(WASIHSM) ./cmd/wasihsm

## demo: a guest signs a JWS with an ES256 key generated inside a SoftHSM2 token
## (scripts/devtoken.sh installs SoftHSM2 when missing and makes a dev token in .state/)
demo: build
	$(WASM_ENV) $(GO) build -o $(BIN)/jws.wasm ./examples/jws
	@cfg=$$(scripts/devtoken.sh) && \
	export SOFTHSM2_CONF="$(CURDIR)/.state/softhsm/softhsm2.conf" WASIHSM_CONFIG="$$cfg" && \
	echo "== $(WASIHSM) slots (the token, and where each algorithm runs)" && \
	$(WASIHSM) slots | grep -E '^module|^slot|^  (label|serial|flags) |^  (ALGORITHM|SHA-256|ES256|X25519) ' && \
	echo "== $(WASIHSM) run $(BIN)/jws.wasm (the ES256 key is generated and used in the token)" && \
	$(WASIHSM) run $(BIN)/jws.wasm

## rig: the docker/softhsm rig as containers (docker-compose up --build, in a
## project of its own, torn down after): a SoftHSM2 token container behind
## `p11-kit server`, and wasihsm signing the JWS example with a managed key
## through p11-kit-client.so, across a restart and a kill of the token
## container (scripts/rig/compose.sh; makes the base images where no registry answers)
.PHONY: rig
rig:
	scripts/rig/compose.sh

## rig-group: the group rig as containers (docker/softhsm/docker-compose.group.yml):
## three token containers as one group with the same managed keys, guests under
## load while one token container is killed and another paused
## (scripts/rig/compose-group.sh; not in CI: it does not pass reliably yet, see
## docs/operations.md)
.PHONY: rig-group
rig-group:
	scripts/rig/compose-group.sh

## rig-native: the same topology as processes, with the containers' scripts
## (scripts/rig/run.sh), for machines without a Docker engine
.PHONY: rig-native
rig-native: build
	$(WASM_ENV) $(GO) build -o $(BIN)/jws.wasm ./examples/jws
	WASIHSM="$(abspath $(WASIHSM))" JWS_WASM="$(abspath $(BIN)/jws.wasm)" scripts/rig/run.sh

## fuzz: each fuzz target of the module for FUZZTIME (go test -fuzz takes one target at a time)
fuzz:
	@set -e; for dir in $$($(GO) list -f '{{.Dir}}' ./...); do \
		for target in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
			echo "== $$target ($$dir)"; \
			$(GO) test -run=NONE -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) $$dir; \
		done; \
	done

## conformance: the whole conformance suite on software, SoftHSM2 (fallback allow,
## fallback deny, through p11-kit) and openCryptoki, tpm2-pkcs11 and NSS softokn (fallback
## allow and deny, a process each); prints the matrix, writes conformance/RESULTS.md,
## and fails on any failed cell
conformance:
	$(GO) test -count=1 -timeout 30m -v -run '^TestMatrix$$' ./conformance -args -results $(CURDIR)/conformance/RESULTS.md

## generate: rebuild generated files (the contract guest that wasihsm embeds, and the
## C header and Rust bindings of the guest SDKs: internal/guestabi)
generate:
	$(GO) generate ./conformance/suite
	$(GO) generate ./internal/guestabi

## bench: the benchmark suite (bench/), product and baseline interleaved for
## BENCH_ROUNDS rounds; prints the table and writes bench/RESULTS.md and bench/ratios.svg
BENCH_ROUNDS ?= 8
BENCH_TIME   ?= 500ms
bench:
	@status=$$(mktemp); \
	{ $(GO) test ./bench/ -run=NONE -bench=. -benchmem -benchtime=$(BENCH_TIME) -rounds=$(BENCH_ROUNDS) -timeout=30m 2>&1; \
	  echo $$? > $$status; } | tee bench/bench.out; \
	code=$$(cat $$status); rm -f $$status; [ "$$code" = 0 ] || exit $$code
	$(GO) run ./bench/cmd/benchreport -in bench/bench.out -md bench/RESULTS.md -svg bench/ratios.svg \
		-notes bench/ANALYSIS.md -command "make bench (BENCH_ROUNDS=$(BENCH_ROUNDS) BENCH_TIME=$(BENCH_TIME))"

## soak: the reliability soak (reliability/soak_test.go) for SOAK under the race detector
.PHONY: soak
soak: soak-group
	WASIHSM_SOAK=$(SOAK) $(GO) test -race -count=1 -timeout 0 -v -run '^TestSoak$$' ./reliability/

## soak-group: the token-group availability test at full length (30 s; reliability/tokengroup)
.PHONY: soak-group
soak-group:
	WASIHSM_GROUP_SOAK=full $(GO) test -count=1 -timeout 10m -v -run '^TestAvailability$$' ./reliability/tokengroup/

## faults: the long forms of the token-fault tests (reliability/tokenfaults): restarts, hangs, session and login storms
.PHONY: faults
faults:
	WASIHSM_FAULTS=long $(GO) test -race -count=1 -timeout 30m -v ./reliability/tokenfaults/

clean:
	rm -rf $(BIN)
