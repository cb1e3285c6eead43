GO ?= go
BIN := bin
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: build test clean
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/banger ./cmd/banger
	CGO_ENABLED=0 $(GO) build -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/banger-agent ./cmd/banger-agent

test:
	./scripts/test

clean:
	rm -rf $(BIN)
