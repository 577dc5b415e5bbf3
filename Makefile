# stoat build. Everything under src/ goes into libstoat.a; cli/ is the stoat
# command; tests/, bench/ and tests/fuzz/ are programs linked against the library.
# `make SANITIZE=address,undefined` builds the same into build-san/.

CC       ?= cc
PKGS     := yaml-0.1 libpcre2-8 libhs zlib sqlite3 libmicrohttpd libnats libcrypto
SANITIZE ?=
BUILD    ?= build
OPT      ?= -O2

ifneq ($(SANITIZE),)
BUILD    := build-san
OPT      := -O1 -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SANLD    := -fsanitize=$(SANITIZE)
endif

DEPS_STAMP := $(BUILD)/.deps-ok
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
           -Iinclude -Isrc $(PKG_CFLAGS) -MMD -MP
LDLIBS  += $(PKG_LIBS) -lpthread -lm
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
STOAT     := $(BUILD)/stoat

.DEFAULT_GOAL := all
.PHONY: all deps test test-unit bench fuzz demo clean
all: $(STOAT)

deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(@D)
	@scripts/install-deps.sh
	@touch $@

$(BUILD)/%.o: %.c | $(DEPS_STAMP) $(GEN_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(STOAT): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)
	@ln -sf $(BUILD)/stoat stoat 2>/dev/null || true

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(LIB) | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

# The whole suite: unit tests, golden folders, SigmaHQ checks when ../shared is
# present, a bounded fuzz run and the sanitizer build. Prints `N passed, N failed`.
test: $(STOAT) $(UNIT_BIN)
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
	$(STOAT) hunt --jewels config/crown-jewels.example.yml demo/

clean:
	rm -rf build build-san build-fuzz stoat $(CLEAN_EXTRA)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
