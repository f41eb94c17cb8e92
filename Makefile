# check_raw: build, demo, test, install.
#
#   make          release binary and its five names in target/release/
#   make demo     throwaway LVS-DR testbed in network namespaces (root)
#   make test     every test: unit, integration (root; skipped otherwise),
#                 ending with a line "N passed, N failed, N skipped"
#   make lint     rustfmt and clippy, as CI runs them
#   make bench    timing and memory goals, measured in the testbed (root)
#   make install  PREFIX=/usr/local DESTDIR=
#   make deb      the Debian package, in target/deb/
#
# demo, test, bench, lint and deb first install the Debian packages they
# need that are missing (as root; otherwise they say which): tests/deps.sh
# holds the lists. make and make install only check the build's.

CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := target/release
NAMES   := check_raw_tcp check_raw_http_get check_raw_http check_raw_dns check_raw_vip
LIBDIR  := $(DESTDIR)$(PREFIX)/lib/check_raw
MANDIR    ?= $(PREFIX)/share/man
NAGIOSDIR ?= $(PREFIX)/lib/nagios/plugins
# Installed next to the binary; their /usr/lib/check_raw/ paths are
# rewritten to the PREFIX installed to.
SCRIPTS   := packaging/keepalived/check_raw-role-notify \
             packaging/ldirectord/check_raw_tcp-ldirectord \
             packaging/ldirectord/check_raw_http-ldirectord
MANPAGES  := man/check_raw.8 man/check_raw_tcp.8 man/check_raw_http_get.8 man/check_raw_http.8 \
             man/check_raw_dns.8 \
             man/check_raw_vip.8
DEPS      := tests/deps.sh
# A rustup toolchain is not a Debian package: skip the Build-Depends check then.
DEB_NODEPS := $(if $(filter /usr/bin/%,$(shell command -v rustc)),,-d)

.PHONY: all build demo test lint bench install deb clean

all: build

# cargo decides what to rebuild; the names are symlinks next to the binary.
define cargo-build
	$(CARGO) build --release --locked
	@for name in $(NAMES); do ln -sfn check_raw $(RELEASE)/$$name; done
endef

build:
	@$(DEPS) --check build
	$(cargo-build)

# The packages first (deps.sh installs the build's too), then the build.
demo:
	@$(DEPS) demo
	$(cargo-build)
	$(CARGO) test --release --locked --test demo

# Every test binary runs even when one fails; tests/summary.sh keeps
# cargo's status and ends with "N passed, N failed, N skipped".
test:
	@$(DEPS) test
	$(cargo-build)
	@tests/summary.sh $(CARGO) test --release --locked --no-fail-fast

# Wall time, CPU and peak RSS against check_tcp, check_http and curl in
# one hyperfine run, flooded and idle, and the -t accuracy: root only.
bench:
	@$(DEPS) bench
	$(cargo-build)
	$(CARGO) bench --locked --bench timing

lint:
	@$(DEPS) lint
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings
	@for page in man/check_raw.8 man/check_raw_vip.8; do \
		out=$$(LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l $$page 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$page: $$out"; exit 1; fi; \
	done

# The names are symlinks in the SAME directory as the binary: keepalived
# resolves symlinks and may exec the target under the link's name.
install: build
	install -d $(LIBDIR) $(DESTDIR)$(NAGIOSDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 $(RELEASE)/check_raw $(LIBDIR)/check_raw
	@for name in $(NAMES); do ln -sfn check_raw $(LIBDIR)/$$name; done
	@for name in $(NAMES); do ln -sfn $(PREFIX)/lib/check_raw/$$name $(DESTDIR)$(NAGIOSDIR)/$$name; done
	@for f in $(SCRIPTS); do \
		sed 's|/usr/lib/check_raw/|$(PREFIX)/lib/check_raw/|g' $$f > $(LIBDIR)/$${f##*/} && \
		chmod 0755 $(LIBDIR)/$${f##*/} || exit 1; \
	done
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/
	-setcap cap_net_raw+ep $(LIBDIR)/check_raw 2>/dev/null || \
		echo "note: setcap failed; run the checks as root or setcap cap_net_raw+ep $(PREFIX)/lib/check_raw/check_raw"

# Built from a copy of the tree so that dpkg-buildpackage's ../ outputs
# land in target/deb/ (and its clean does not remove our target/).
deb:
	@$(DEPS) deb
	rm -rf target/deb && mkdir -p target/deb/check-raw
	tar --exclude=./target --exclude=./fuzz/target --exclude=./.git --exclude=./debian \
		-cf - . | tar -C target/deb/check-raw -xf -
	cp -r packaging/debian target/deb/check-raw/debian
	cd target/deb/check-raw && dpkg-buildpackage -us -uc -b $(DEB_NODEPS)
	rm -rf target/deb/check-raw
	@ls target/deb/*.deb

clean:
	$(CARGO) clean
