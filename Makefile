# sni-forwarder: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
CONFIG ?= config.example.yaml
PREFIX ?= /usr/local

.PHONY: all run test build build-test lint typecheck clean fuzz soak bench

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

# V8 flags the daemon runs with, here and in the installed launcher: a young generation of at
# most 2 MiB per semi-space instead of 16 keeps the resident size after a burst of connections
# near the idle size (README "Performance"; bench/lib/setup.mjs starts the daemon the same way).
NODE_FLAGS := --max-semi-space-size=2

run: build
	node $(NODE_FLAGS) dist/cli.js run -c $(CONFIG)

# Type-check (via the test build), lint, then the tap suite on the compiled tests.
test: build build-test lint
	node scripts/run-tests.mjs

clean:
	rm -rf dist build .tap

# Outside `make test` (README "Reliability"). fuzz: every property test at FUZZ_RUNS cases per
# property (FC_SEED to repeat a run). soak: SOAK_CONNECTIONS mixed connections through one
# daemon, resources sampled before and after.
fuzz: build build-test
	node scripts/fuzz.mjs

soak: build build-test
	node scripts/soak.mjs

# Benchmark against direct, HAProxy, nginx stream and a Node pipe (issue #10; not part of `make
# test`): loopback only, about 10 minutes, writes bench/results.md. Knobs: see bench/run.mjs.
bench: build
	node bench/run.mjs

# ---- install / uninstall (SPEC §6) ----------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=staging dir] [NODE=/usr/bin/node]
#   $(PREFIX)/lib/sni-forwarder/   dist/, package.json, package-lock.json, production node_modules
#   $(PREFIX)/bin/sni-forwarder    sh wrapper: exec $(NODE) .../lib/sni-forwarder/dist/cli.js
#   $(SYSCONFDIR)/sni-forwarder/config.yaml   from config.example.yaml, only if absent
#   $(UNITDIR)/sni-forwarder.{service,socket} ExecStart rewritten for PREFIX and SYSCONFDIR
# The production dependencies come from the npm cache when it holds them (it does after the
# `npm ci` that `build` runs), else from the registry. Nothing is started or enabled: run
# `systemctl daemon-reload` and see README "Operating".
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
NODE ?= $(shell command -v node)
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib/sni-forwarder
INSTALL_BIN := $(DESTDIR)$(PREFIX)/bin/sni-forwarder
INSTALL_CONF := $(DESTDIR)$(SYSCONFDIR)/sni-forwarder/config.yaml
INSTALL_UNITS := $(DESTDIR)$(UNITDIR)
UNIT_SED := -e 's|/usr/local/bin/sni-forwarder|$(PREFIX)/bin/sni-forwarder|g' \
	-e 's|/usr/local/lib/sni-forwarder|$(PREFIX)/lib/sni-forwarder|g' \
	-e 's|/etc/sni-forwarder/|$(SYSCONFDIR)/sni-forwarder/|g'

.PHONY: install uninstall

install: build
	@test -n "$(NODE)" || { echo 'make install: node not found; set NODE=/path/to/node' >&2; exit 1; }
	install -d -m 0755 $(INSTALL_LIB) $(dir $(INSTALL_BIN)) $(dir $(INSTALL_CONF)) $(INSTALL_UNITS)
	rm -rf $(INSTALL_LIB)/dist
	cp -R dist $(INSTALL_LIB)/dist
	install -m 0644 package.json package-lock.json $(INSTALL_LIB)/
	cd $(INSTALL_LIB) && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error
	@# The service's DynamicUser must read it all, whatever root's umask was.
	chmod -R u=rwX,go=rX $(INSTALL_LIB)
	printf '%s\n' '#!/bin/sh' \
		'# sni-forwarder launcher, written by `make install`. Finds the program relative to its own' \
		'# real location, so a DESTDIR staging tree or a symlink to this file works too.' \
		'here=$$(dirname "$$(readlink -f "$$0")")' \
		'exec $(NODE) $(NODE_FLAGS) "$$here/../lib/sni-forwarder/dist/cli.js" "$$@"' > $(INSTALL_BIN).tmp
	chmod 0755 $(INSTALL_BIN).tmp
	mv -f $(INSTALL_BIN).tmp $(INSTALL_BIN)
	@# Never overwrite an operator's config; it must stay readable by the service's DynamicUser.
	test -e $(INSTALL_CONF) || install -m 0644 config.example.yaml $(INSTALL_CONF)
	sed $(UNIT_SED) systemd/sni-forwarder.service > $(INSTALL_UNITS)/sni-forwarder.service
	sed $(UNIT_SED) systemd/sni-forwarder.socket > $(INSTALL_UNITS)/sni-forwarder.socket
	chmod 0644 $(INSTALL_UNITS)/sni-forwarder.service $(INSTALL_UNITS)/sni-forwarder.socket

# Removes what install put in place except the config (delete $(SYSCONFDIR)/sni-forwarder yourself).
uninstall:
	rm -rf $(INSTALL_LIB)
	rm -f $(INSTALL_BIN) $(INSTALL_UNITS)/sni-forwarder.service $(INSTALL_UNITS)/sni-forwarder.socket
