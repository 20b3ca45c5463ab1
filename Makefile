# mptcp-autopm. `make test` is what CI runs (see .ci/run); as root it also
# runs the privileged tests in network namespaces the tests make themselves.

GO      ?= go
BIN     := bin/mptcp-autopm
PREFIX  ?= /usr/local
GOFLAGS ?= -buildvcs=false
export GOFLAGS

.PHONY: all build deps test test-short run demo bench bench-smoke fuzz install clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/mptcp-autopm

# deps installs what the tests need and the machine lacks: iproute2 (ip, ss)
# for the privileged tests. It needs root only when something is missing.
deps:
	@./.ci/deps

test: deps
	@[ "$$(id -u)" = 0 ] || echo "make test: not root, so the privileged tests (real kernel, in namespaces) skip; run as root to include them"
	$(GO) vet ./...
	$(GO) test -count=1 ./...

test-short:
	$(GO) test -count=1 -short ./...

# run starts the daemon in the foreground on this machine's own namespace,
# with the embedded default rules (root, or CAP_NET_ADMIN).
run: build
	./$(BIN) run

demo: build
	$(GO) run ./contrib/demo -bin ./$(BIN)

bench: build deps
	$(GO) run ./bench -bin ./$(BIN)

# bench-smoke runs every figure once with few samples: it proves the
# harness works, its numbers mean little.
bench-smoke: build deps
	$(GO) run ./bench -smoke -bin ./$(BIN)

fuzz:
	./.ci/fuzz

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mptcp-autopm
	install -D -m 0644 contrib/mptcp-autopm.service $(DESTDIR)/etc/systemd/system/mptcp-autopm.service

clean:
	rm -rf bin
