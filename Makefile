# check_raw: build, demo, test, install.
#
#   make          release binary and its three names in target/release/
#   make demo     throwaway LVS-DR testbed in network namespaces (root)
#   make test     every test: unit, integration (root; skipped otherwise)
#   make lint     rustfmt and clippy, as CI runs them
#   make bench    timing and memory goals, measured in the testbed (root)
#   make install  PREFIX=/usr/local DESTDIR=

CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := target/release
NAMES   := check_raw_tcp check_raw_http_get check_raw_http
LIBDIR  := $(DESTDIR)$(PREFIX)/lib/check_raw

.PHONY: all build demo test lint bench install clean

all: build

# cargo decides what to rebuild; the names are symlinks next to the binary.
build:
	$(CARGO) build --release --locked
	@for name in $(NAMES); do ln -sfn check_raw $(RELEASE)/$$name; done

demo: build
	$(CARGO) test --release --locked --test demo

test: build
	$(CARGO) test --release --locked

# Timing goals (deadline +-10 ms idle and under a flood, RSS): root only.
bench: build
	$(CARGO) bench --locked --bench timing

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings

# The names are symlinks in the SAME directory as the binary: keepalived
# resolves symlinks and may exec the target under the link's name.
install: build
	install -d $(LIBDIR)
	install -m 0755 $(RELEASE)/check_raw $(LIBDIR)/check_raw
	@for name in $(NAMES); do ln -sfn check_raw $(LIBDIR)/$$name; done
	-setcap cap_net_raw+ep $(LIBDIR)/check_raw 2>/dev/null || \
		echo "note: setcap failed; run the checks as root or setcap cap_net_raw+ep $(PREFIX)/lib/check_raw/check_raw"

clean:
	$(CARGO) clean
