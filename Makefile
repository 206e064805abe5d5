# sluice: build, test and run.  See README.md.

CC       ?= cc
BUILD    ?= build
PREFIX   ?= /usr/local/sluice/

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter
# OPT, LTO and SAN are the knobs (sanitize and fuzz builds set them); CFLAGS is derived.
OPT      ?= -O2 -g
# Link-time optimisation of build/sluice (gcc): the small helpers every request calls across
# files (pool, buffers, lists, timers) are inlined; ~5% fewer instructions and CPU time per
# proxied request (bench/instructions.sh, bench/proxy.sh).  The objects keep their plain code
# too (fat), so the unit tests link them without the LTO step.  LTO= builds without it, as
# clang builds do (CC=clang, sanitize, fuzz).
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n1)),)
LTO      ?= -flto=auto -ffat-lto-objects
endif
# Hardening, as Debian builds its packages (its nginx among them): a stack protector on
# functions with arrays, glibc's checked copies and formats where sizes are known, and a
# read-only GOT bound at start.  It costs about 3% more instructions per proxied request
# (bench/instructions.sh: 9,189 -> 9,463 on /ka), under 1% of the CPU time.  HARDEN= and
# HARDEN_LD= build without it; the sanitizer and fuzz builds do (ASan checks more, and
# _FORTIFY_SOURCE's checked calls hide what ASan intercepts).
HARDEN   ?= -fstack-protector-strong -D_FORTIFY_SOURCE=2
HARDEN_LD ?= -Wl,-z,relro -Wl,-z,now
SAN      ?=
# src/http and its folders (modules, upstream, proxy, ...): one layer, headers found by name
HTTP_INC := -Isrc/http $(patsubst %/,-I%,$(sort $(dir $(wildcard src/http/*/*.h))))
CFLAGS   := $(OPT) $(LTO) $(HARDEN) $(SAN) -std=gnu11 $(WARN) -D_GNU_SOURCE -DSL_PREFIX='"$(PREFIX)"' \
            -DSL_COMPILER='"$(shell $(CC) --version | head -n1)"' \
            -Isrc -Isrc/core -Isrc/os -Isrc/event $(HTTP_INC) -MMD -MP
LDLIBS   += -lpcre2-8 -lz -lssl -lcrypto -lcrypt
LDFLAGS  ?=
# an archive of LTO objects needs the plugin-aware ar for its index
ifeq ($(origin AR),default)
AR       := $(if $(LTO),gcc-ar,ar)
endif

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  := $(sort $(wildcard src/core/*.c src/os/*.c src/event/*.c src/http/*.c src/http/*/*.c))
MAIN_SRC := src/sluice.c src/sl_modules.c
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(BUILD)/%.o)

UNIT_SRC := $(sort $(wildcard tests/unit/*/*.c tests/unit/*/*/*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all test unit unit-bins integration sanitize run clean deps format-check layers socket-calls \
        fuzz fuzz-bins install

all: $(BUILD)/sluice

$(BUILD)/sluice: $(MAIN_OBJ) $(BUILD)/libsluice.a
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(LDFLAGS) $(HARDEN_LD) -o $@ $(MAIN_OBJ) $(BUILD)/libsluice.a $(LDLIBS)

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	@$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

# Unit tests link the library plus the module list, so config tests see the real modules.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsluice.a $(BUILD)/src/sl_modules.o
	@mkdir -p $(dir $@)
	@echo "  TEST    $@"
	@$(CC) $(filter-out $(LTO),$(CFLAGS)) $(LDFLAGS) -Itests/unit -o $@ $< $(BUILD)/src/sl_modules.o \
	    $(BUILD)/libsluice.a $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh

test: deps
	$(MAKE) all unit-bins
	$(MAKE) layers socket-calls format-check
	$(MAKE) unit
	$(MAKE) integration

unit-bins: $(UNIT_BIN)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: $(BUILD)/sluice
	SLUICE_BINARY=$(abspath $(BUILD)/sluice) prove -j2 -I tests/t/lib tests/t/

layers:
	@scripts/check-layers.sh

# No socket call above the connection layer (src/http reads and writes through c->io); the
# script's self-test first, so a check that has gone blind fails too.
socket-calls:
	@scripts/check-socket-calls.sh --self-test
	@scripts/check-socket-calls.sh

format-check:
	@scripts/check-format.sh

# Same tests, separate build directory, ASan + UBSan.
sanitize: deps
	$(MAKE) BUILD=build-san CC=clang OPT="-O1 -g" LTO= HARDEN= HARDEN_LD= SAN="$(SAN_FLAGS)" \
	    LDFLAGS="-fsanitize=address,undefined" all unit integration

# libFuzzer targets (tests/fuzz/fuzz_*.c), built with clang into build-fuzz; `make fuzz`
# runs each for FUZZ_SECONDS on a scratch copy of its corpus.
FUZZ_SECONDS ?= 20
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SAN  := -fsanitize=address,undefined

fuzz: deps
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g" LTO= HARDEN= HARDEN_LD= SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" \
	    build-fuzz/libsluice.a build-fuzz/src/sl_modules.o
	$(MAKE) fuzz-bins
	@set -e; for f in $(FUZZ_BIN); do \
	    name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name#fuzz_}; \
	    scratch=$$(mktemp -d); \
	    echo "== $$f ($(FUZZ_SECONDS)s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 $$scratch $$corpus \
	        > $$scratch.log 2>&1 || { tail -50 $$scratch.log; rm -rf $$scratch $$scratch.log; exit 1; }; \
	    tail -1 $$scratch.log; rm -rf $$scratch $$scratch.log; \
	done

fuzz-bins: $(FUZZ_BIN)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libsluice.a
	clang -std=gnu11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) \
	    -Isrc/core -Isrc/os -Isrc/event $(HTTP_INC) -o $@ $< build-fuzz/src/sl_modules.o \
	    build-fuzz/libsluice.a $(LDLIBS)

run: deps all html/large.txt
	@mkdir -p logs
	$(BUILD)/sluice -p $(CURDIR)/ -c conf/sluice.conf -g 'daemon off;'

# the demo's large file (32 MiB of numbered lines), made here rather than committed
html/large.txt:
	@seq -w 1 4194304 | sed 's/$$/ sluice/' | head -c 33554432 > $@

# nginx's layout under PREFIX: sbin/, conf/ (a sluice.conf already there is kept; the
# shipped one is also installed as sluice.conf.default), logs/, html/, the manual page and
# contrib/ (systemd unit, logrotate).  DESTDIR stages the whole tree elsewhere (packaging).
# The temp paths are made by sluice itself at start, for its `user`.
MANDIR   ?= $(PREFIX)share/man
INSTALL  ?= install
SLUICE_BIN ?= $(BUILD)/sluice
install: $(SLUICE_BIN)
	$(INSTALL) -d $(DESTDIR)$(PREFIX)sbin $(DESTDIR)$(PREFIX)conf $(DESTDIR)$(PREFIX)logs \
	    $(DESTDIR)$(PREFIX)html $(DESTDIR)$(PREFIX)contrib $(DESTDIR)$(MANDIR)/man8
	$(INSTALL) -m 755 $(SLUICE_BIN) $(DESTDIR)$(PREFIX)sbin/sluice
	$(INSTALL) -m 644 conf/mime.types $(DESTDIR)$(PREFIX)conf/mime.types
	$(INSTALL) -m 644 conf/sluice.conf $(DESTDIR)$(PREFIX)conf/sluice.conf.default
	test -e $(DESTDIR)$(PREFIX)conf/sluice.conf \
	    || $(INSTALL) -m 644 conf/sluice.conf $(DESTDIR)$(PREFIX)conf/sluice.conf
	test -e $(DESTDIR)$(PREFIX)html/index.html \
	    || $(INSTALL) -m 644 html/index.html $(DESTDIR)$(PREFIX)html/index.html
	$(INSTALL) -m 644 contrib/sluice.8 $(DESTDIR)$(MANDIR)/man8/sluice.8
	$(INSTALL) -m 644 conf/sluice.service contrib/sluice.logrotate $(DESTDIR)$(PREFIX)contrib/

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_BIN:=.d)
