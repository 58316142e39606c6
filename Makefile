# salespipe — build, test, run, bench. `make` builds build/salespipe.
# Every C file under src/<module>/ is part of the program; src/cli/main.c is
# its entry point. Tests link the same objects (tests/unit/*.c).

VERSION    := 0.1.0
CC         ?= cc
BUILD      ?= build
OPT        ?= -O2
SAN        ?=
WARN       := -Wall -Wextra -Werror -Wshadow -Wvla -Wformat=2 -Wstrict-prototypes
CFLAGS     := -std=c11 -D_GNU_SOURCE -I/usr/include/postgresql -DSP_VERSION='"$(VERSION)"' $(OPT) -g $(WARN) \
              -pthread -MMD -MP $(SAN) $(EXTRA_CFLAGS)
LDFLAGS    := -pthread $(SAN)
LDLIBS     := -lpq -lcurl -lzstd -lsnappy -lz -lsqlite3 -lcrypto -ljansson -lexpat -lm

LIB_SRC    := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC   := tests/test_main.c $(wildcard tests/unit/*.c)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOLS      := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/%)
BENCH_SRC  := $(wildcard bench/*.c)
BENCHES    := $(BENCH_SRC:bench/%.c=$(BUILD)/bench_%)
# `make Q=` shows every command.
Q          ?= @
SANFLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

.PHONY: all deps deps-build run test test-fast unit san bench fuzz clean lint install uninstall
all: $(BUILD)/salespipe

$(BUILD)/salespipe: $(BUILD)/obj/src/cli/main.o $(LIB_OBJ)
	@echo "  LINK  $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/unit_tests: $(TEST_OBJ) $(LIB_OBJ)
	@echo "  LINK  $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(LIB_OBJ)
	@echo "  LINK  $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench_%: $(BUILD)/obj/bench/%.o $(LIB_OBJ)
	@echo "  LINK  $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

tools: $(TOOLS)
.PHONY: tools
# Keep objects built through pattern rules (tools, benches): no rebuilds, and
# no "rm …" line after the test summary.
.SECONDARY:

# Install missing Debian packages: build ones for `run`, test ones too for `test`.
deps-build:
	@scripts/deps.sh deps/build.txt

deps:
	@scripts/deps.sh deps/build.txt deps/test.txt

# The whole pipeline on embedded defaults with demo data.
run: deps-build all
	@scripts/run-demo.sh $(BUILD)/salespipe

# Everything: unit tests, the same under ASan+UBSan, CLI tests, interop.
test: deps
	@$(MAKE) --no-print-directory test-fast

test-fast: all $(BUILD)/unit_tests tools
	@$(MAKE) --no-print-directory BUILD=build/san OPT=-O1 SAN="$(SANFLAGS)" build/san/salespipe build/san/unit_tests tools
	@tests/run.sh

unit: $(BUILD)/unit_tests
	$(BUILD)/unit_tests $(T)

bench: deps all tools $(BENCHES)
	@bench/run.sh

# libFuzzer targets (clang). FUZZ_SECONDS bounds each run.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

# `make install PREFIX=/usr/local` (DESTDIR honoured, for packaging): the
# binary, its man page, bash completion, the systemd units (pointing at the
# installed binary; not enabled) and an example configuration beside where
# the unit reads the real one (never overwritten: it is not installed).
PREFIX     ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR     := $(PREFIX)/bin
MANDIR     := $(PREFIX)/share/man/man1
COMPDIR    := $(PREFIX)/share/bash-completion/completions
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     := $(PREFIX)/share/doc/salespipe
INSTALLED  := $(BINDIR)/salespipe $(MANDIR)/salespipe.1 $(COMPDIR)/salespipe \
              $(UNITDIR)/salespipe.service $(UNITDIR)/salespipe.timer \
              $(SYSCONFDIR)/salespipe/salespipe.env.example $(DOCDIR)/README.md $(DOCDIR)/operations.md

install: $(BUILD)/salespipe
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(COMPDIR) $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/salespipe $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/salespipe $(DESTDIR)$(BINDIR)/salespipe
	install -m 0644 docs/salespipe.1 $(DESTDIR)$(MANDIR)/salespipe.1
	install -m 0644 contrib/salespipe.bash $(DESTDIR)$(COMPDIR)/salespipe
	sed -e 's|/usr/local/bin/salespipe|$(BINDIR)/salespipe|' -e 's|/usr/share/doc/salespipe|$(DOCDIR)|' \
	  -e 's|/etc/salespipe/|$(SYSCONFDIR)/salespipe/|' deploy/systemd/salespipe.service \
	  > $(DESTDIR)$(UNITDIR)/salespipe.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/salespipe.service
	install -m 0644 deploy/systemd/salespipe.timer $(DESTDIR)$(UNITDIR)/salespipe.timer
	install -m 0644 .env.example $(DESTDIR)$(SYSCONFDIR)/salespipe/salespipe.env.example
	install -m 0644 README.md docs/operations.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	-rmdir $(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/salespipe 2>/dev/null

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Offline checks of the deployment files (infra/, docker-compose.yml, Dockerfile,
# .env.example) and shellcheck on every shell script; see scripts/lint.sh.
lint:
	@scripts/lint.sh
