# sni-forwarder: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
CONFIG ?= config.example.yaml
PREFIX ?= /usr/local

.PHONY: all run test build build-test lint typecheck clean

all: build

# Install dependencies exactly as locked, only when the lock file changed.
$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci
	@touch $@

build: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.json

build-test: $(NODE_MODULES_STAMP)
	npx tsc -p tsconfig.test.json

lint: $(NODE_MODULES_STAMP)
	npx eslint .

run: build
	node dist/cli.js run -c $(CONFIG)

# Type-check (via the test build), lint, then the tap suite on the compiled tests.
test: build build-test lint
	node scripts/run-tests.mjs

clean:
	rm -rf dist build .tap
