# liveinject — see README.md. `make run` and `make test` work as the first command on a fresh
# Debian/Ubuntu machine: both install what they need first.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/liveinject
CONFIG  ?= examples/liveinject.toml
FUZZTIME ?= 60s

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all deps build run test bench fuzz lint install clean

all: build

# ffmpeg with apt-get when it is missing (sudo when not root), then the Go modules.
deps:
	@if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then \
		echo "ffmpeg not found: installing it with apt-get"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; \
		else echo "error: ffmpeg is missing and this user cannot install it (not root, no sudo)." >&2; \
		     echo "       install ffmpeg with your package manager, then run make again." >&2; exit 1; fi; \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: ffmpeg is missing and apt-get is not available: install ffmpeg with your package manager." >&2; exit 1; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg; \
	fi
	$(GO) mod download

build:
	$(GO) build -o $(BIN) ./cmd/liveinject

run: deps build
	@echo
	@echo "liveinject is pushing the test pattern into its built-in relay. Watch it with:"
	@echo "    ffplay rtsp://127.0.0.1:7554/test.sdp"
	@echo "(or: vlc rtsp://127.0.0.1:7554/test.sdp). Stop with Ctrl-C."
	@echo
	./$(BIN) run -c $(CONFIG)

# The whole suite, then the fuzz targets for a short while: damaged input must never crash the
# demuxer or the profile decoder. (Minimizing a new input can take the fuzzer's default of 60 s;
# 1 s keeps the run short.)
test: deps
	$(GO) test -race ./...
	$(GO) test -run '^$$' -fuzz FuzzDemux -fuzztime 20s -fuzzminimizetime 1s ./demux
	$(GO) test -run '^$$' -fuzz FuzzDecodeProfile -fuzztime 10s -fuzzminimizetime 1s ./profiles

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz: deps
	$(GO) test -run '^$$' -fuzz FuzzDecodeProfile -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./profiles
	$(GO) test -run '^$$' -fuzz FuzzDemux -fuzztime $(FUZZTIME) -fuzzminimizetime 10s ./demux

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The binary, the systemd unit, the README, and /etc/liveinject with the example config and
# profile unless /etc/liveinject already holds a config (an upgrade never overwrites one).
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/liveinject
	install -D -m 0644 contrib/systemd/liveinject.service $(DESTDIR)/etc/systemd/system/liveinject.service
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/liveinject/README.md
	@if [ -e $(DESTDIR)/etc/liveinject/liveinject.toml ]; then \
		echo "kept $(DESTDIR)/etc/liveinject/liveinject.toml"; \
	else \
		install -D -m 0644 examples/liveinject.toml $(DESTDIR)/etc/liveinject/liveinject.toml; \
		install -D -m 0644 examples/profiles/test.toml $(DESTDIR)/etc/liveinject/profiles/test.toml; \
	fi
	@echo "installed; then: systemctl daemon-reload && systemctl enable --now liveinject"

clean:
	rm -rf bin
