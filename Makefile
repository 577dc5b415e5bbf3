# stoat build. Everything under src/ goes into libstoat.a, which tests/, bench/
# and tests/fuzz/ link (they test the parts); the stoat command (cli/) links
# libstoat-api.a instead, the same code with only the stoat_* API left global,
# and util/ on its own: so the command is a user of the public headers, and the
# house's internals can neither be reached nor clash with a caller's names.
# `make SANITIZE=address,undefined` builds the same into build-san/.
# `make SENSOR=0` builds without the eBPF programs (mk/sensor.mk; automatic when
# clang, bpftool, libbpf or the kernel's BTF is missing). `make install` honours
# PREFIX and DESTDIR. A plain `make` installs the build dependencies only;
# `make test` also the test-only ones (scripts/install-deps.sh --test).

CC       ?= cc
PKGS     := yaml-0.1 libpcre2-8 libhs zlib libzstd sqlite3 libmicrohttpd libnats libcrypto
SANITIZE ?=
BUILD    ?= build
OPT      ?= -O2

ifneq ($(SANITIZE),)
BUILD    := build-san
OPT      := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SANLD    := -fsanitize=$(SANITIZE)
endif

DEPS_STAMP := $(BUILD)/.deps-ok
TEST_DEPS_STAMP := $(BUILD)/.test-deps-ok
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
# libmicrohttpd is opened by src/serve/mhd.c when a dashboard starts, by the
# SONAME its -dev package's libmicrohttpd.so names: not linked (see there)
MHD_SONAME = $(shell objdump -p "$$($(CC) -print-file-name=libmicrohttpd.so)" 2>/dev/null | awk '$$1 == "SONAME" {print $$2}')
# libnats likewise, by the first command that talks to NATS (src/bus/nats_lib.c)
NATS_SONAME = $(shell objdump -p "$$($(CC) -print-file-name=libnats.so)" 2>/dev/null | awk '$$1 == "SONAME" {print $$2}')
LDLIBS  += $(filter-out -lmicrohttpd -lnats,$(PKG_LIBS)) -lpthread -lm
LDFLAGS += $(SANLD)

LIB_SRC   := $(sort $(filter-out %.bpf.c,$(wildcard src/*/*.c src/*/*/*.c)))
CLI_SRC   := $(sort $(wildcard cli/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)

# Parts with build steps of their own (the eBPF sensor, the web front end) bring
# a fragment in mk/ rather than editing this file: it may append objects to
# LIB_OBJ, generated headers to GEN_HDR, libraries to LDLIBS, dirs to CLEAN_EXTRA.
GEN_HDR     :=
CLEAN_EXTRA :=
-include $(sort $(wildcard mk/*.mk))
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)
LIB       := $(BUILD)/libstoat.a
API_LIB   := $(BUILD)/libstoat-api.a
# What stays global in it: the public API (the bus and the fleet's centre
# too: include/stoat/bus.h, fleet.h).
API_PREFIXES := stoat_
UTIL_LIB  := $(BUILD)/libstoat-util.a
UTIL_OBJ  := $(filter $(BUILD)/src/util/%,$(LIB_OBJ))
STOAT     := $(BUILD)/stoat

# The version is written in VERSION only; the header adds `git describe`,
# and is rewritten only when that changes.
VERSION_HDR := $(BUILD)/gen/version.h
GEN_HDR     += $(VERSION_HDR)
CFLAGS      += -I$(BUILD)/gen
MAN_PAGE    := $(BUILD)/stoat.1

.DEFAULT_GOAL := all
.PHONY: all deps test-deps test test-unit bench fuzz demo clean install uninstall man FORCE
all: $(STOAT) $(MAN_PAGE)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(@D)
	@scripts/install-deps.sh
	@touch $@

test-deps: $(TEST_DEPS_STAMP)
$(TEST_DEPS_STAMP): scripts/install-deps.sh | $(DEPS_STAMP)
	@scripts/install-deps.sh --test
	@touch $@

$(VERSION_HDR): FORCE
	@mkdir -p $(@D)
	@scripts/gen-version.sh > $@.tmp && { cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@; }

# stoat(1) is written once, in docs/stoat.1.md; a small awk script makes troff of it
man: $(MAN_PAGE)
$(MAN_PAGE): docs/stoat.1.md scripts/md2man.awk VERSION
	@mkdir -p $(@D)
	awk -v version="$$(cat VERSION)" -f scripts/md2man.awk docs/stoat.1.md > $@.tmp && mv $@.tmp $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# One relocatable object in which every global but stoat_* becomes local
# (nats.h's functions that src/bus/nats_lib.c defines in the library's
# stead too: a program linking libstoat-api and libnats gets no clash).
$(API_LIB): $(LIB_OBJ) Makefile
	@rm -f $@ $(@:.a=.o)
	$(LD) -r -o $(@:.a=.o) $(LIB_OBJ)
	objcopy --wildcard $(API_PREFIXES:%=--keep-global-symbol='%*') $(@:.a=.o)
	ar rcs $@ $(@:.a=.o)

$(UTIL_LIB): $(UTIL_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/src/serve/mhd.o: CFLAGS += $(if $(MHD_SONAME),-DSERVE_MHD_SONAME='"$(MHD_SONAME)"')
$(BUILD)/src/bus/nats_lib.o: CFLAGS += $(if $(NATS_SONAME),-DBUS_NATS_SONAME='"$(NATS_SONAME)"')

# The command links the libraries it uses from their static archives where
# Debian ships them (the -dev packages scripts/install-deps.sh installs): a
# start-up maps and relocates 7 shared objects instead of 28 (with the
# dashboard's libmicrohttpd opened only by `stoat serve`, src/serve/mhd.c),
# and `stoat --version` costs 4 M instructions instead of 16 M, nearly all in
# the dynamic loader (callgrind, LD_DEBUG=statistics). libnats has no archive
# and brings libssl, libcrypto and protobuf-c: it is opened only by the
# commands that talk to NATS (src/bus/nats_lib.c), and libcrypto comes from
# its archive for SHA-256 alone (rulecache_sha256; the low-level functions
# share no state with the shared copy libnats may bring later): the loader's
# part of a start fell from 7 M cycles to 0.6 M. Tests, benchmarks, fuzzers
# and the sanitizer build keep the shared libraries. A library whose archive
# is missing is linked as before.
STOAT_STATIC := yaml pcre2-8 hs z zstd sqlite3 bpf elf crypt crypto
static_a = $(or $(filter /%,$(shell $(CC) -print-file-name=lib$(1).a)),-l$(1))
ifeq ($(SANITIZE),)
STOAT_LDLIBS = $(foreach l,$(LDLIBS),$(if $(filter $(l),$(STOAT_STATIC:%=-l%)),$(call static_a,$(l:-l%=%)),$(l))) \
               $(call static_a,elf) $(call static_a,z) $(call static_a,zstd) $(call static_a,stdc++) -lm
STOAT_LDFLAGS := -static-libgcc
else
STOAT_LDLIBS = $(LDLIBS)
endif

$(STOAT): $(CLI_OBJ) $(API_LIB) $(UTIL_LIB)
	$(CC) $(LDFLAGS) $(STOAT_LDFLAGS) -o $@ $(CLI_OBJ) $(API_LIB) $(UTIL_LIB) $(STOAT_LDLIBS)
	@[ "$(BUILD)" != build ] || ln -sf $(BUILD)/stoat stoat 2>/dev/null || true

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

# test_units refuses chosen pthread_create calls (a worker that cannot start)
$(BUILD)/tests/unit/test_units: LDFLAGS += -Wl,--wrap=pthread_create
# test_chains_logons notes the arrays chains.c grows
$(BUILD)/tests/unit/test_chains_logons: LDFLAGS += -Wl,--wrap=xgrow

$(BUILD)/bench/%: bench/%.c $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# The whole suite: unit tests, golden folders, SigmaHQ checks when ../shared is
# present, a bounded fuzz run and the sanitizer build. Prints `N passed, N failed`.
test: $(TEST_DEPS_STAMP) $(STOAT) $(MAN_PAGE) $(UNIT_BIN)
	@tests/run.sh

# Every test program runs, so a failing area does not hide the others.
test-unit: $(UNIT_BIN)
	@failed=; for t in $(UNIT_BIN); do $$t || failed="$$failed $${t##*/}"; done; \
	if [ -n "$$failed" ]; then echo "unit tests failed:$$failed"; exit 1; fi

bench: $(STOAT) $(BENCH_BIN)
	@bench/run.sh

# Fuzzers need clang's libFuzzer; each harness runs for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz: | $(DEPS_STAMP)
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

demo: $(STOAT)
	$(STOAT) hunt --format table --jewels config/crown-jewels.example.yml demo/

clean:
	rm -rf build build-san build-fuzz stoat $(CLEAN_EXTRA)

# Installed like any Unix tool: the binary finds its rules and mapping in
# ../share/stoat next to it (or STOAT_HOME, which the unit sets). The unit's
# paths are rewritten for PREFIX; the stoat user is created by
# systemd-sysusers from the sysusers.d file (or useradd; dist/README.md).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share/stoat
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/stoat
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL     ?= install

install: $(STOAT) $(MAN_PAGE)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	$(INSTALL) -m 0755 $(STOAT) $(DESTDIR)$(BINDIR)/stoat
	find data rules config -type f \( -name '*.yml' -o -name README.md \) \
		-exec $(INSTALL) -D -m 0644 {} $(DESTDIR)$(DATADIR)/{} \;
	$(INSTALL) -m 0644 $(MAN_PAGE) $(DESTDIR)$(MANDIR)/man1/stoat.1
	$(INSTALL) -m 0644 README.md LICENSE CHANGELOG.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 dist/README.md $(DESTDIR)$(DOCDIR)/stoat-watch.service.md
	sed -e 's|/usr/local/bin/stoat|$(BINDIR)/stoat|g' -e 's|/usr/local/share/stoat|$(DATADIR)|g' \
		dist/stoat-watch.service > $(DESTDIR)$(UNITDIR)/stoat-watch.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/stoat-watch.service
	$(INSTALL) -m 0644 dist/stoat.sysusers $(DESTDIR)$(SYSUSERSDIR)/stoat.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/stoat $(DESTDIR)$(MANDIR)/man1/stoat.1 \
		$(DESTDIR)$(UNITDIR)/stoat-watch.service $(DESTDIR)$(SYSUSERSDIR)/stoat.conf
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(DOCDIR)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
