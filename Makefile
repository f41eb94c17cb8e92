# check_raw: build, demo, test, install.
#
#   make          release binary and its six names in target/release/
#   make demo     throwaway LVS-DR testbed in network namespaces (root)
#   make test     every test: unit, integration (root; skipped otherwise),
#                 ending with a line "N passed, N failed, N skipped"
#   make lint     rustfmt and clippy, as CI runs them
#   make bench    timing and memory goals, measured in the testbed (root)
#   make install  PREFIX=/usr/local DESTDIR= (what goes where: below)
#   make deb      the Debian package, in target/deb/ (DEBDIR=)
#
# demo, test, bench, lint and deb first install the Debian packages they
# need that are missing (as root; otherwise they say which): tests/deps.sh
# holds the lists. make and make install only check the build's.

CARGO   ?= cargo
PREFIX  ?= /usr/local
DESTDIR ?=
RELEASE := target/release
# The plugins, also linked into the monitoring plugin directory; NAMES
# adds the daemon, check_raw_serve (a name of the same binary, in PATH but
# not among the plugins: it runs from systemd, man check_raw_serve).
PLUGINS := check_raw_tcp check_raw_http_get check_raw_http check_raw_dns check_raw_vip
NAMES   := $(PLUGINS) check_raw_serve
LIBDIR  := $(DESTDIR)$(PREFIX)/lib/check_raw
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
NAGIOSDIR ?= $(PREFIX)/lib/nagios/plugins
DOCDIR    ?= $(PREFIX)/share/doc/check_raw
# Data used in place, not documentation: Prometheus' rule_files may name
# the rules where they are, so they must stay uncompressed (dh_compress
# leaves /usr/share/check_raw alone).
DATADIR   ?= $(PREFIX)/share/check_raw
# systemd-tmpfiles reads /usr/lib/tmpfiles.d and /usr/local/lib/tmpfiles.d,
# systemd-sysusers /usr/lib/sysusers.d and /usr/local/lib/sysusers.d, and
# systemd the units in /usr/lib/systemd/system and /usr/local/lib/systemd/system.
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
UNITDIR     ?= $(PREFIX)/lib/systemd/system
# The role file's directory (-r /run/check_raw/role in every example);
# empty: not created (a package, whose tmpfiles.d file creates it).
RUNDIR    ?= /run/check_raw
# no: leave the capability to the package (dpkg and rpm do not keep it).
SETCAP    ?= yes
# Who may run the binary. Default: everyone (0755 with cap_net_raw+ep),
# as Debian ships check_icmp and ping (measured on Debian 12: both 0755
# root:root, cap_net_raw=ep, not setuid). That is safe because the binary
# gives a user who is not root nothing but the check: TCP and UDP only to
# a VIP this host holds, any payload-free echo/ARP probe, and no
# capability after the packet socket opened (man check_raw, SECURITY).
# A group name instead (CHECK_GROUP=nagios): mode 0750, root:GROUP, for a
# host whose monitoring users share one group; no single name fits every
# host (nagios for Nagios and Icinga, keepalived_script, root for
# ldirectord), hence no default group.
CHECK_GROUP ?=
# Installed next to the binary (the unit: in UNITDIR); their
# /usr/lib/check_raw/ paths are rewritten to the PREFIX installed to.
UNIT      := packaging/systemd/check_raw_serve.service
SCRIPTS   := packaging/keepalived/check_raw-role-notify \
             packaging/ldirectord/check_raw_tcp-ldirectord \
             packaging/ldirectord/check_raw_http-ldirectord \
             packaging/ldirectord/check_raw_https-ldirectord
MANPAGES  := $(wildcard man/*.8)
# Copied as they are to $(DOCDIR)/examples; none is applied (the sysctl
# file is for the real servers, not for the director).
EXAMPLES  := packaging/keepalived/keepalived.conf.example \
             packaging/ldirectord/ldirectord.cf.example \
             packaging/nagios/check_raw.cfg \
             packaging/icinga2/check_raw.conf \
             packaging/sysctl/90-check_raw-real-server.conf \
             packaging/serve.toml
# check_raw_serve's scrape configuration, alert rules and their unit
# tests, Grafana dashboard (packaging/prometheus/README.md).
PROMETHEUS := packaging/prometheus/prometheus.yml \
              packaging/prometheus/check_raw.rules.yml \
              packaging/prometheus/check_raw.rules.test.yml \
              packaging/prometheus/grafana-dashboard.json \
              packaging/prometheus/README.md
DEPS      := tests/deps.sh
# make deb: where the packages go (a directory of their own, emptied
# first; outside the tree or under target/, which the copy leaves out),
# and CHECK_RAW_BIN=PATH to package a binary built already instead of
# building one (debian/rules copies it).
DEBDIR       ?= target/deb
CHECK_RAW_BIN ?=
# A rustup toolchain is not a Debian package, and a binary built already
# needs none: skip the Build-Depends check then.
DEB_NODEPS := $(if $(CHECK_RAW_BIN),-d,$(if $(filter /usr/bin/%,$(shell command -v rustc)),,-d))

.PHONY: all build demo test lint bench install install-files deb clean

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
# cargo's status and ends with "N passed, N failed, N skipped";
# tests/with_vm.sh runs the VM suite in the background meanwhile.
test:
	@$(DEPS) test
	$(cargo-build)
	@CARGO=$(CARGO) tests/summary.sh tests/with_vm.sh $(CARGO) test --release --locked --no-fail-fast

# Wall time, CPU and peak RSS against check_tcp, check_http and curl in
# one hyperfine run, flooded and idle, and the -t accuracy: root only.
bench:
	@$(DEPS) bench
	$(cargo-build)
	$(CARGO) bench --locked --bench timing
	$(CARGO) bench --locked --bench serve

lint:
	@$(DEPS) lint
	$(CARGO) fmt --check
	$(CARGO) clippy --release --locked --all-targets -- -D warnings
	@# Every page; man resolves the ".so man8/check_raw.8" of the alias
	@# pages from the current directory, so it runs where man8/ is man/.
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && ln -s "$(CURDIR)/man" "$$tmp/man8" && \
	for page in $(MANPAGES); do \
		out=$$(cd "$$tmp" && LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l "man8/$${page#man/}" 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then echo "$$page: $$out"; exit 1; fi; \
	done

# What goes where (PREFIX=/usr is the Debian package's layout):
#   $(PREFIX)/lib/check_raw/        the binary, its six names as symlinks,
#                                   the notify and ldirectord scripts
#   $(BINDIR)/                      check_raw and the six names, in PATH
#   $(NAGIOSDIR)/                   the five plugin names, for $USER1$ and PluginDir
#   $(MANDIR)/man8/                 the man pages
#   $(DOCDIR)/examples/             $(EXAMPLES), not applied
#   $(DATADIR)/prometheus/          $(PROMETHEUS): scrape config, alert
#                                   rules, their tests, Grafana dashboard
#   $(TMPFILESDIR)/check_raw.conf   recreates $(RUNDIR) and its role file at boot
#   $(SYSUSERSDIR)/check_raw.conf   the check_raw user the daemon runs as
#                                   (created by systemd-sysusers, at boot)
#   $(UNITDIR)/check_raw_serve.service  the daemon's unit, neither enabled
#                                   nor started
#   $(RUNDIR)/                      the role file's directory, now
# Nothing in /etc: the daemon's /etc/check_raw/serve.toml is the operator's
# (start from $(DOCDIR)/examples/serve.toml).
# The names are symlinks in the SAME directory as the binary: keepalived
# resolves symlinks and may exec the target under the link's name. Every
# other link points at a name there.
install: build
	@$(MAKE) --no-print-directory install-files

# install without the build, for packagers whose binary is built already.
install-files:
	install -d $(LIBDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(NAGIOSDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/prometheus
	install -m 0755 $(RELEASE)/check_raw $(LIBDIR)/check_raw
	$(if $(CHECK_GROUP),chgrp $(CHECK_GROUP) $(LIBDIR)/check_raw && chmod 0750 $(LIBDIR)/check_raw)
	@for name in $(NAMES); do ln -sfn check_raw $(LIBDIR)/$$name; done
	@for name in check_raw $(NAMES); do ln -sfn $(PREFIX)/lib/check_raw/$$name $(DESTDIR)$(BINDIR)/$$name; done
	@for name in $(PLUGINS); do ln -sfn $(PREFIX)/lib/check_raw/$$name $(DESTDIR)$(NAGIOSDIR)/$$name; done
	@for f in $(SCRIPTS); do \
		sed 's|/usr/lib/check_raw/|$(PREFIX)/lib/check_raw/|g' $$f > $(LIBDIR)/$${f##*/} && \
		chmod 0755 $(LIBDIR)/$${f##*/} || exit 1; \
	done
	install -m 0644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(EXAMPLES) $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 $(PROMETHEUS) $(DESTDIR)$(DATADIR)/prometheus/
	install -m 0644 packaging/tmpfiles/check_raw.conf $(DESTDIR)$(TMPFILESDIR)/check_raw.conf
	install -m 0644 packaging/sysusers/check_raw.conf $(DESTDIR)$(SYSUSERSDIR)/check_raw.conf
	sed 's|/usr/lib/check_raw/|$(PREFIX)/lib/check_raw/|g' $(UNIT) > $(DESTDIR)$(UNITDIR)/check_raw_serve.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/check_raw_serve.service
	$(if $(RUNDIR),install -d -m 0755 $(DESTDIR)$(RUNDIR))
	@# Last: a chown or chgrp clears a file capability.
	@if [ "$(SETCAP)" != no ]; then \
		setcap cap_net_raw+ep $(LIBDIR)/check_raw 2>/dev/null || \
		echo "note: setcap failed; run the checks as root or setcap cap_net_raw+ep $(PREFIX)/lib/check_raw/check_raw"; \
	fi

# Built from a copy of the tree so that dpkg-buildpackage's ../ outputs
# land in target/deb/ (and its clean does not remove our target/).
deb:
	@$(DEPS) deb
	@test -n "$(DEBDIR)" || { echo "make deb: DEBDIR is empty" >&2; exit 1; }
	rm -rf $(DEBDIR) && mkdir -p $(DEBDIR)/check-raw
	tar --exclude=./target --exclude=./fuzz/target --exclude=./fuzz/corpus --exclude=./fuzz/artifacts --exclude=./.git --exclude=./debian \
		-cf - . | tar -C $(DEBDIR)/check-raw -xf -
	cp -r packaging/debian $(DEBDIR)/check-raw/debian
	cd $(DEBDIR)/check-raw && DEB_CHECK_RAW_BIN=$(abspath $(CHECK_RAW_BIN)) \
		dpkg-buildpackage -us -uc -b $(DEB_NODEPS)
	rm -rf $(DEBDIR)/check-raw
	@ls $(DEBDIR)/*.deb

clean:
	$(CARGO) clean
