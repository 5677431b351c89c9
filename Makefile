# vigie — build, test, run.  `make help` lists the targets.
#
# On a fresh Debian 12 machine `make run` and `make test` are all the set-up there is: when
# pkg-config reports a missing library they run `make deps` (apt-get) first.

PKGS      := libuv libcurl yaml-0.1 librrd libsystemd jansson
TEST_PKGS := check openssl
DEB_PKGS  := build-essential pkg-config ca-certificates openssl \
             libuv1-dev libcurl4-openssl-dev libyaml-dev librrd-dev libsystemd-dev \
             libjansson-dev check libssl-dev rrdtool rrdcached clang-format cppcheck \
             systemd make clang libclang-rt-14-dev llvm libc6-dbg prometheus-alertmanager \
             chromium fonts-dejavu-core procps faketime valgrind nginx-light

BUILD    ?= build
PREFIX   ?= /usr/local
SYSCONFDIR ?= /etc
STATEDIR ?= /var/lib/vigie
UNITDIR  ?= $(PREFIX)/lib/systemd/system
MANDIR   ?= $(PREFIX)/share/man
CONFIG   ?= vigie.yaml
CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef -Wimplicit-fallthrough -Wvla
STD      := -std=c11 -D_POSIX_C_SOURCE=200809L
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

DEPS_OK  := $(shell pkg-config --exists $(PKGS) $(TEST_PKGS) 2>/dev/null && \
                    command -v rrdtool >/dev/null && [ -x /usr/sbin/nginx ] && echo yes)

.PHONY: all run check-once test check-asan valgrind lint deps clean help validate bench install uninstall fuzz faults demo

ifneq ($(DEPS_OK),yes)
ifeq ($(filter deps clean help,$(MAKECMDGOALS)),)
# Something is missing: install it, then run the goals that were asked for.
$(firstword $(MAKECMDGOALS) all):
	@echo "vigie: build dependencies missing, running 'make deps' first" >&2
	$(MAKE) deps
	$(MAKE) $(MAKECMDGOALS)
$(wordlist 2,99,$(MAKECMDGOALS)):
	@:
endif
else

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS))
TEST_LIBS  := $(shell pkg-config --libs $(TEST_PKGS))

ALL_CFLAGS := $(STD) $(WARN) $(WERROR) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LIB_SRC    := $(filter-out src/app/main.c,$(wildcard src/*/*.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/%.o)
# tests/ mirrors src/: unit/<layer>/ the module suites, e2e/ the binary and the daemon whole,
# faults/ the fault suites, harness/ the runner, the test server and their helpers.
TEST_DIRS  := tests/harness tests/faults tests/e2e $(wildcard tests/unit/*)
TEST_SRC   := $(filter-out tests/faults/fakedns.c,$(foreach d,$(TEST_DIRS),$(wildcard $(d)/*.c)))
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o)
# The loopback test server (build/testsrv): its own directory, so not in TEST_SRC.
TESTSRV_SRC := $(wildcard tests/harness/testsrv/*.c)
TESTSRV_OBJ := $(TESTSRV_SRC:%.c=$(BUILD)/%.o)

all: $(BUILD)/vigie

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -iquote src \
	    $(if $(filter tests/%,$<),-iquote tests/harness -iquote tests/faults $(TEST_CFLAGS)) -c $< -o $@

$(BUILD)/libvigie.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/vigie: $(BUILD)/src/app/main.o $(BUILD)/libvigie.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/testsrv: $(TESTSRV_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) -pthread

# The fault suites' getaddrinfo shim (LD_PRELOAD into vigie run): no sanitizer inside, it only
# forwards to the C library or sleeps.
$(BUILD)/tests/fakedns.so: tests/faults/fakedns.c
	@mkdir -p $(@D)
	$(CC) $(STD) $(WARN) $(WERROR) -O2 -g -fPIC -shared -o $@ $< -ldl

$(BUILD)/tests/runner: $(TEST_OBJ) $(BUILD)/libvigie.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

# The main job: the daemon on the shipped configuration, in the foreground, logging to stderr,
# until Ctrl-C (SIGINT) or SIGTERM.
run: $(BUILD)/vigie
	$(BUILD)/vigie run -c $(CONFIG)

# Every shipped probe checked once. Exit 1 (degraded) and 2 (down) describe the procedures, not a
# failure of the command.
check-once: $(BUILD)/vigie
	$(BUILD)/vigie check -c $(CONFIG); s=$$?; [ $$s -le 2 ]

validate: $(BUILD)/vigie
	$(BUILD)/vigie validate -c $(CONFIG)

# The demo (docs/SIMULATE.md): the shipped procedures simulated on 127.0.0.1 with a lockdown-like
# spike, the real daemon probing them for DEMO_DURATION, then the report, the dashboard and a
# summary in $(BUILD)/demo/ (open $(BUILD)/demo/graphs/demo.html). No network beyond loopback.
DEMO_DURATION ?= 3m
demo: $(BUILD)/vigie
	rm -rf $(BUILD)/demo
	$(BUILD)/vigie demo -c $(CONFIG) --out $(BUILD)/demo --duration $(DEMO_DURATION)

# Installs the binary, the configuration (paths pointed at the state directory) and the systemd
# unit, sysusers and tmpfiles entries. Honours PREFIX and DESTDIR.
install: $(BUILD)/vigie
	install -D -m 0755 $(BUILD)/vigie $(DESTDIR)$(PREFIX)/bin/vigie
	install -d $(DESTDIR)$(SYSCONFDIR)/vigie/probes.d
	sed -e 's|^rrd_dir: .*|rrd_dir: $(STATEDIR)/rrd|' -e 's|^graphs_dir: .*|graphs_dir: $(STATEDIR)/graphs|' \
	    -e 's|^\(  state_file: *\)state/|\1$(STATEDIR)/|' -e 's|^\(  spool_dir: *\)state/|\1$(STATEDIR)/|' \
	    vigie.yaml > $(DESTDIR)$(SYSCONFDIR)/vigie/vigie.yaml
	install -m 0644 probes.d/*.yaml $(DESTDIR)$(SYSCONFDIR)/vigie/probes.d/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	sed -e 's|/usr/local/bin/vigie|$(PREFIX)/bin/vigie|' -e 's|/etc/vigie|$(SYSCONFDIR)/vigie|g' \
	    systemd/vigie.service > $(DESTDIR)$(UNITDIR)/vigie.service
	install -m 0644 systemd/vigie.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/vigie.conf
	install -m 0644 systemd/vigie.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/vigie.conf
	install -D -m 0644 docs/man/vigie.8 $(DESTDIR)$(MANDIR)/man8/vigie.8
	install -D -m 0644 docs/man/vigie.yaml.5 $(DESTDIR)$(MANDIR)/man5/vigie.yaml.5
	install -D -m 0644 systemd/vigie.service.d/rrdcached.conf $(DESTDIR)$(PREFIX)/share/vigie/rrdcached.conf
	install -D -m 0644 docs/nginx-vigie.conf $(DESTDIR)$(PREFIX)/share/vigie/nginx-vigie.conf

# Removes what `install` put in place, except the configuration (edited by the operator) and
# the state (RRD files, alert state): remove those by hand if wanted.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vigie $(DESTDIR)$(UNITDIR)/vigie.service \
	    $(DESTDIR)$(PREFIX)/lib/sysusers.d/vigie.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/vigie.conf \
	    $(DESTDIR)$(MANDIR)/man8/vigie.8 $(DESTDIR)$(MANDIR)/man5/vigie.yaml.5 \
	    $(DESTDIR)$(PREFIX)/share/vigie/rrdcached.conf $(DESTDIR)$(PREFIX)/share/vigie/nginx-vigie.conf
	-rmdir $(DESTDIR)$(PREFIX)/share/vigie 2>/dev/null

# libFuzzer targets (tests/fuzz/): the configuration loader and the value parsers, with
# ASan/UBSan, each for FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus/<target>/ (new
# inputs go to build-fuzz/corpus-<target>/). A finding stops the run and leaves crash-* files.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := config units
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang CFLAGS="-g -O1 -fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    build-fuzz/libvigie.a
	set -e; for t in $(FUZZ_TARGETS); do \
	    clang $(STD) $(WARN) $(WERROR) -g -O1 -fsanitize=fuzzer $(FUZZ_SAN) -iquote src \
	        $(PKG_CFLAGS) tests/fuzz/fuzz_$$t.c build-fuzz/libvigie.a $(PKG_LIBS) \
	        -o build-fuzz/fuzz_$$t; \
	    mkdir -p build-fuzz/corpus-$$t; \
	done
	@# the targets run side by side (one core each), then each one's figures
	set -e; pids=; for t in $(FUZZ_TARGETS); do \
	    echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    (cd build-fuzz && TMPDIR=$${FUZZ_TMPDIR:-/dev/shm} ./fuzz_$$t \
	        -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	        corpus-$$t ../tests/fuzz/corpus/$$t >fuzz_$$t.log 2>&1; echo $$? >fuzz_$$t.rc) & \
	    pids="$$pids $$!"; \
	done; wait $$pids; \
	rc=0; for t in $(FUZZ_TARGETS); do \
	    echo "fuzz_$$t:"; \
	    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY)' \
	        build-fuzz/fuzz_$$t.log || true; \
	    r=$$(cat build-fuzz/fuzz_$$t.rc); \
	    if [ "$$r" -ne 0 ]; then tail -40 build-fuzz/fuzz_$$t.log; rc=$$r; fi; \
	done; exit $$rc

# The benchmark (docs/BENCH.md): a loopback nginx farm, vigie run against it, figures printed.
bench: $(BUILD)/vigie $(BUILD)/bench-bare
	VIGIE=$(BUILD)/vigie BENCH_BARE=$(BUILD)/bench-bare bash bench/run $(SCENARIOS)

# The bench's calibration: a bare libcurl multi loop on the same farm (bench/bare.c).
$(BUILD)/bench-bare: $(BUILD)/bench/bare.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Each test runs in its own process (Check's fork mode) with a timeout. tests/harness/run-suites
# runs the runner once per suite, TEST_JOBS suites at a time (they mostly wait on real daemons, servers and
# timers), each into $(BUILD)/tests/logs/<suite>.log, and prints every suite's summary, the
# failures and the total.
TEST_JOBS ?= 2
test: $(BUILD)/vigie $(BUILD)/testsrv $(BUILD)/tests/runner
	VIGIE_BIN=$(BUILD)/vigie VIGIE_TESTSRV=$(BUILD)/testsrv VIGIE_SRCDIR=$(CURDIR) \
	    tests/harness/run-suites $(BUILD)/tests/runner $(BUILD)/tests/logs $(TEST_JOBS) \
	    tests/harness/suites.h

# The fault suites (tests/faults/faults.h): the real daemon against misbehaving targets, disks,
# clocks and receivers; docs/RELIABILITY.md has the table. They mostly wait (a receiver down
# for two minutes...): all at once.
faults: $(BUILD)/vigie $(BUILD)/testsrv $(BUILD)/tests/runner $(BUILD)/tests/fakedns.so
	VIGIE_TESTS=faults VIGIE_BIN=$(BUILD)/vigie VIGIE_TESTSRV=$(BUILD)/testsrv \
	    VIGIE_FAKEDNS=$(BUILD)/tests/fakedns.so VIGIE_SRCDIR=$(CURDIR) \
	    tests/harness/run-suites $(BUILD)/tests/runner $(BUILD)/tests/faults-logs 3 \
	    tests/faults/faults.h

# LeakSanitizer's suppressions (tests/harness/lsan.supp: third-party leaks only) are in
# LSAN_OPTIONS, which the runner, every test it forks and every process they start (vigie, its renderer)
# inherit; the caller's LSAN_OPTIONS come after, and win.
check-asan:
	LSAN_OPTIONS="suppressions=$(CURDIR)/tests/harness/lsan.supp$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}" \
	    $(MAKE) BUILD=build-asan CFLAGS="-O1 -g $(SAN)" LDFLAGS="$(SAN)" \
	    VIGIE_TIMEOUT_SCALE=4 test

# The test suite under valgrind memcheck (docs/VALGRIND.md): the runner, every forked test, every
# vigie the tests start and the renderers it spawns; any memcheck error or definite/indirect leak
# fails. Slow (20-50x): suites run one at a time, VG_SUITES="units config" runs some.
valgrind:
	@command -v valgrind >/dev/null || { echo "valgrind is missing: make deps" >&2; exit 1; }
	$(MAKE) BUILD=build-vg CFLAGS="-O1 -g" build-vg/vigie build-vg/testsrv build-vg/tests/runner
	tests/harness/valgrind.sh build-vg $(VG_SUITES)

lint:
	clang-format --dry-run --Werror src/*/*.[ch] $(TEST_SRC) tests/*/*.h tests/faults/fakedns.c \
	    $(TESTSRV_SRC) $(wildcard tests/harness/testsrv/*.h) tests/fuzz/*.c bench/*.c
	cppcheck -q --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --std=c11 -Isrc src tests
	@! grep -nE '\<(sprintf|strcpy|strcat|strtok|atoi|gets|localtime|gmtime|ctime) *\(' \
	    src/*/*.[ch] tests/*/*.[ch] tests/unit/*/*.c tests/harness/testsrv/*.[ch] || \
	    { echo "lint: banned function" >&2; exit 1; }
	tests/lint/layers.sh

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BUILD)/src/app/main.d $(TESTSRV_OBJ:.o=.d)

endif

deps:
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
	    $(DEB_PKGS)

clean:
	rm -rf build build-asan build-vg

help:
	@echo "make deps        install the Debian packages (apt-get)"
	@echo "make             build $(BUILD)/vigie"
	@echo "make run         run the daemon on the shipped probes (vigie run -c $(CONFIG))"
	@echo "make check-once  check every shipped probe once (vigie check -c $(CONFIG))"
	@echo "make validate    validate the shipped configuration"
	@echo "make demo        3 minutes offline: the procedures simulated on loopback with a"
	@echo "                 lockdown-like spike, probed live; graphs, alerts, report"
	@echo "make test        build with -Werror and run the test suite"
	@echo "make check-asan  the test suite under AddressSanitizer + UBSan"
	@echo "make valgrind    the test suite under valgrind memcheck (slow); VG_SUITES=\"units\" runs some"
	@echo "make faults      the fault suites (daemon vs broken targets, disks, receivers)"
	@echo "make lint        clang-format check, cppcheck, banned functions, layers"
	@echo "make install     binary, /etc/vigie, systemd unit (PREFIX, DESTDIR)"
	@echo "make bench       the benchmark (docs/BENCH.md); SCENARIOS=\"1 2\" runs some"
