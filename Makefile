# liveinject — see README.md. `make run` and `make test` work as the first command on a fresh
# Debian/Ubuntu machine: both install what they need first.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     ?= bin/liveinject
CONFIG  ?= examples/liveinject.toml
FUZZTIME ?= 60s

# The version, from git describe (contrib/deb/version says how); `liveinject version` shows it.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell contrib/deb/version 2>/dev/null || echo 0.0.0)
endif
LDFLAGS := -X main.version=$(VERSION)

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin
DOCDIR  := $(PREFIX)/share/doc/liveinject
# systemd reads units from /usr/lib/systemd/system and /usr/local/lib/systemd/system; for another
# PREFIX the unit goes to /etc/systemd/system.
UNITDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib/systemd/system,/etc/systemd/system)
SYSUSERSDIR ?= $(if $(filter /usr /usr/local,$(PREFIX)),$(PREFIX)/lib/sysusers.d,/etc/sysusers.d)

# make deb: one package per architecture, cross-compiled, into DIST.
ARCHES  ?= amd64 arm64
DIST    ?= dist

.PHONY: all deps build run test bench compare latency fuzz lint install uninstall deb clean

all: build

# What the tests need, with apt-get when it is missing (sudo when not root): ffmpeg, and a
# headless Chromium for the dashboard's browser test. Then the Go modules.
deps:
	@missing=; \
	if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then missing="$$missing ffmpeg"; fi; \
	if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then \
		missing="$$missing chromium-headless-shell"; fi; \
	if [ -n "$$missing" ]; then \
		echo "not found:$$missing: installing with apt-get"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "error:$$missing missing and this user cannot install it (not root, no sudo)." >&2; \
		     echo "       install$$missing with your package manager, then run make again." >&2; exit 1; fi; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error:$$missing missing and apt-get is not available: install it with your package manager." >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	$(GO) mod download

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/liveinject

run: deps build
	@echo
	@echo "liveinject is pushing the test pattern into its built-in relay. Watch it with:"
	@echo "    ffplay rtsp://127.0.0.1:7554/test.sdp"
	@echo "(or: vlc rtsp://127.0.0.1:7554/test.sdp). Stop with Ctrl-C."
	@echo
	./$(BIN) run -c $(CONFIG)

# The whole suite, then the fuzz targets for a short while: damaged input must never crash the
# demuxer or the profile decoder, and the demuxer must read valid streams as mediacommon's reader
# does. The budgets are counts of runs (about 20, 15 and 10 s here once the fuzz cache is warm,
# 4 min on a fresh machine): a budget in seconds can fail at its end with "context deadline
# exceeded" and no failing input, a race in Go's fuzzing coordinator that go1.26 has
# (go.dev/issue/75804). (Minimizing a new input can take the fuzzer's default of 60 s; 1 s keeps
# the run short.)
test: deps
	$(GO) test -race ./...
	$(GO) test -run '^$$' -fuzz FuzzDemux -fuzztime 100000x -fuzzminimizetime 1s ./demux
	$(GO) test -run '^$$' -fuzz FuzzReaderMatchesMediacommon -fuzztime 15000x -fuzzminimizetime 1s ./demux
	$(GO) test -run '^$$' -fuzz FuzzDecodeProfile -fuzztime 100000x -fuzzminimizetime 1s ./profiles

# ffmpeg's own RTSP push and liveinject's, side by side, on the same content and receiver
# (BENCHMARKS.md): COMPARE_ARGS="-duration 60s -runs 3 -dests 1,20" and so on.
compare: deps build
	$(GO) run ./tools/compare -liveinject $(BIN) $(COMPARE_ARGS)

# liveinject's Go path, from a frame's last byte on ffmpeg's pipe to its first RTP packet at the
# receiver, with a real ffmpeg writing the pipe (BENCHMARKS.md): LATENCY_ARGS="-runs 3 -duration 30s".
latency: deps build
	$(GO) run ./tools/latency -liveinject $(BIN) $(LATENCY_ARGS)

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	$(GO) test -run '^$$' -fuzz FuzzDecodeProfile -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./profiles
	$(GO) test -run '^$$' -fuzz FuzzDemux -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./demux
	$(GO) test -run '^$$' -fuzz FuzzReaderMatchesMediacommon -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./demux
	$(GO) test -run '^$$' -fuzz FuzzSplitAnnexB -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./demux

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The binary, the systemd unit naming it, the README and examples, and /etc/liveinject with the
# installed config (no channel runs until one is configured). A file in /etc that differs from
# the one make install would write is kept, the new one put beside it as FILE.new: operators'
# edits survive. The unit in $(UNITDIR) is make install's own, replaced each time like the
# package's: changes go in a drop-in (systemctl edit liveinject).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/liveinject
	@mkdir -p $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/bin/liveinject|$(BINDIR)/liveinject|' -e 's|/usr/share/doc/liveinject|$(DOCDIR)|' \
		contrib/systemd/liveinject.service >$(DESTDIR)$(UNITDIR)/liveinject.service.new
	@$(call keep_or_install,$(DESTDIR)$(UNITDIR)/liveinject.service,$(filter /etc/%,$(UNITDIR)))
	@if [ "$(UNITDIR)" != /etc/systemd/system ] && [ -e $(DESTDIR)/etc/systemd/system/liveinject.service ]; then \
		echo "note: $(DESTDIR)/etc/systemd/system/liveinject.service overrides $(UNITDIR)/liveinject.service:"; \
		echo "      move your changes into a drop-in (systemctl edit liveinject) and remove it"; \
	fi
	install -D -m 0644 contrib/systemd/liveinject.sysusers $(DESTDIR)$(SYSUSERSDIR)/liveinject.conf
	install -D -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	@mkdir -p $(DESTDIR)$(DOCDIR) && cp -R examples $(DESTDIR)$(DOCDIR)/
	@for f in liveinject.toml profiles/example.toml; do \
		install -D -m 0644 contrib/etc/$$f $(DESTDIR)/etc/liveinject/$$f.new; \
		$(call keep_or_install,$(DESTDIR)/etc/liveinject/$$f,keep); \
	done
	@echo "installed; then: systemd-sysusers liveinject.conf && systemctl daemon-reload && systemctl enable --now liveinject"

# What make install wrote, but /etc/liveinject (the operator's) and drop-ins. Stop the service
# first: systemctl disable --now liveinject.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/liveinject $(DESTDIR)$(SYSUSERSDIR)/liveinject.conf
	rm -f $(DESTDIR)$(UNITDIR)/liveinject.service $(DESTDIR)$(UNITDIR)/liveinject.service.new
	rm -rf $(DESTDIR)$(DOCDIR)

# keep_or_install,FILE,KEEP moves FILE.new to FILE, unless KEEP is not empty and FILE exists
# and differs: then FILE stays and FILE.new waits beside it.
keep_or_install = if [ -n "$(2)" ] && [ -e $(1) ] && ! cmp -s $(1) $(1).new; then \
		echo "kept $(1), which differs from the new one: see $(1).new"; \
	else mv -f $(1).new $(1); fi

# Debian packages for ARCHES, cross-compiled (no cgo): DIST/liveinject_VERSION_ARCH.deb.
deb:
	@command -v dpkg-deb >/dev/null || { echo "error: make deb needs dpkg-deb (apt-get install dpkg)" >&2; exit 1; }
	@set -e; for arch in $(ARCHES); do \
		echo "liveinject $(VERSION) for $$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" \
			-o $(DIST)/linux_$$arch/liveinject ./cmd/liveinject; \
		SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || date +%s) \
			contrib/deb/build $(DIST)/linux_$$arch/liveinject $$arch $(VERSION) $(DIST); \
	done

clean:
	rm -rf bin $(DIST)
