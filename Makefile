# fastprom - one Makefile for the library, CLI, FastCGI worker, tests and
# benchmarks.
#
#   make            build/libfastprom.{so,a}, build/fastprom, build/fastprom-fcgi
#   make check      deps + build + every test (unit, ASan/UBSan, fuzz smoke,
#                   integration with real nginx / Prometheus / gunicorn / uvicorn)
#   make run        the demo stack on 127.0.0.1 (nginx, worker, writers, Prometheus)
#   make bench      benchmarks: figures and ratios against prometheus_client
#   make fuzz       the reader fuzzer, long
#   make install    PREFIX=/usr/local DESTDIR=
#   make deps       installs the Debian packages the project uses (root)
#   make SANITIZE=1 <target>   the same with ASan+UBSan, in build-asan/

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)

PYTHON := /usr/bin/python3
CC ?= cc
CLANG ?= clang

SOVERSION := 0
VERSION := $(shell sed -n 's/^\#define FASTPROM_VERSION "\(.*\)"/\1/p' include/fastprom.h)

SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
OPT := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
else
BUILD ?= build
OPT := -O2 -g
LDSAN :=
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc
CFLAGS += -std=c11 $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread
# The compiler lists the headers each object includes (build/**/*.d): editing
# a header rebuilds exactly what uses it. -MP keeps a deleted header from
# breaking the build.
DEPFLAGS := -MMD -MP
LDFLAGS += $(LDSAN) -pthread

# The library needs libm alone (pthreads come with -pthread); jansson is for the
# programs on it (CLI, worker, fastprom-nginxlog) and the tests that parse JSON.
LIB_LIBS := -lm
JSON_LIBS := -ljansson
FCGI_LIBS := -lfcgi -ljansson -lz -lm
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lrt -lm)

LIB_SRCS := $(wildcard src/*.c)
LIB_OBJS := $(patsubst src/%.c,$(BUILD)/obj/lib/%.o,$(LIB_SRCS))
CLI_SRCS := $(wildcard src/cli/*.c)
CLI_OBJS := $(patsubst src/cli/%.c,$(BUILD)/obj/cli/%.o,$(CLI_SRCS))
FCGI_SRCS := $(wildcard fcgi/*.c)
FCGI_OBJS := $(patsubst fcgi/%.c,$(BUILD)/obj/fcgi/%.o,$(FCGI_SRCS))
# What the daemons (fastprom-fcgi, fastprom-nginxlog) share: the privilege
# drop, stale socket files, log lines, configuration files (src/service).
SERVICE_SRCS := $(wildcard src/service/*.c)
SERVICE_OBJS := $(patsubst src/service/%.c,$(BUILD)/obj/service/%.o,$(SERVICE_SRCS))
FCGI_OBJS += $(SERVICE_OBJS)
# Everything of the worker but main(), for its unit tests.
FCGI_LIB_OBJS := $(filter-out $(BUILD)/obj/fcgi/main.o,$(FCGI_OBJS))
DEMO_SRCS := $(wildcard src/demo/*.c)
DEMO_OBJS := $(patsubst src/demo/%.c,$(BUILD)/obj/demo/%.o,$(DEMO_SRCS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_SUPPORT := $(wildcard tests/support/*.c)
SUPPORT_OBJS := $(patsubst tests/support/%.c,$(BUILD)/obj/support/%.o,$(TEST_SUPPORT))
TEST_OBJS := $(patsubst tests/%.c,$(BUILD)/obj/tests/%.o,$(TEST_SRCS))
BENCH_SRCS := $(wildcard tests/bench/bench_*.c)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

SO := $(BUILD)/libfastprom.so
SONAME := libfastprom.so.$(SOVERSION)
A := $(BUILD)/libfastprom.a
CLI := $(BUILD)/fastprom
FCGI := $(BUILD)/fastprom-fcgi
DEMO := $(BUILD)/fastprom-demo

.PHONY: all check unit check-cycles check-format check-tools check-fcgi check-python check-deploy fuzz fuzz-smoke \
        run bench install uninstall clean deps test-bins bench-bins

all: $(SO) $(A) $(CLI) $(FCGI) $(DEMO)

# ---- the Python extension: fastprom._native ----------------------------------
# libfastprom linked in statically with its symbols hidden: the package's one
# binding, found by fastprom/__init__.py in $(BUILD)/python/fastprom or, once
# installed, next to the package.
PY_INCLUDE := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_EXT_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PYEXT_SRCS := $(wildcard src/python/native/*.c)
PYEXT := $(BUILD)/python/fastprom/_native$(PY_EXT_SUFFIX)

$(PYEXT): $(PYEXT_SRCS) src/python/native/native.h include/fastprom.h $(A)
	@mkdir -p $(@D)
	@test -f $(PY_INCLUDE)/Python.h || { echo "make: $(PY_INCLUDE)/Python.h is missing: install python3-dev (make deps)"; exit 1; }
	$(CC) $(CPPFLAGS) -I$(PY_INCLUDE) $(CFLAGS) -fno-strict-aliasing -shared -o $@ $(PYEXT_SRCS) $(A) \
	  $(LDFLAGS) -Wl,--exclude-libs,ALL $(LIB_LIBS)

all: $(PYEXT)

$(BUILD)/obj/lib/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/cli/%.o: src/cli/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/demo/%.o: src/demo/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/fcgi/%.o: fcgi/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(SO): $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined $(LDFLAGS) -o $@.$(VERSION) $^ \
	  -Wl,--push-state,--no-as-needed $(LIB_LIBS) -Wl,--pop-state
	ln -sf libfastprom.so.$(VERSION) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(A): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# The CLI and the worker link the static library: one file to install, and
# internal helpers (formatting, validation) stay hidden.
$(CLI): $(CLI_OBJS) $(A)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(A) $(LIB_LIBS) $(JSON_LIBS)

$(FCGI): $(FCGI_OBJS) $(A)
	$(CC) $(LDFLAGS) -o $@ $(FCGI_OBJS) $(A) $(FCGI_LIBS)

# The demo writer of `make run`: forks processes that behave like web workers.
$(DEMO): $(DEMO_OBJS) $(A)
	$(CC) $(LDFLAGS) -o $@ $(DEMO_OBJS) $(A) $(LIB_LIBS)

# ---- unit tests (check) ---------------------------------------------------

TEST_CFLAGS = $(CPPFLAGS) -Itests/support $(CFLAGS) $(DEPFLAGS) -Wno-missing-prototypes

$(BUILD)/obj/support/%.o: tests/support/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests/test_fcgi_%.o: tests/test_fcgi_%.c
	@mkdir -p $(@D)
	$(CC) $(TEST_CFLAGS) -Ifcgi -c $< -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(SUPPORT_OBJS) $(A)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUPPORT_OBJS) $(A) $(LDFLAGS) $(LIB_LIBS) $(JSON_LIBS) $(CHECK_LIBS)

# The worker's own modules (tests/test_fcgi_*.c) link its objects too.
$(BUILD)/tests/test_fcgi_%: $(BUILD)/obj/tests/test_fcgi_%.o $(SUPPORT_OBJS) $(FCGI_LIB_OBJS) $(A)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUPPORT_OBJS) $(FCGI_LIB_OBJS) $(A) $(LDFLAGS) $(FCGI_LIBS) $(CHECK_LIBS)

# Objects made on the way to a test binary stay for the next incremental build.
.SECONDARY: $(TEST_OBJS) $(SUPPORT_OBJS)

test-bins: $(TEST_BINS) $(CLI)

# Each test binary runs alone so a crash names its module; CK_FORK=yes keeps
# one test's crash from hiding the others.
unit: test-bins
	@set -e; for t in $(TEST_BINS); do \
	  echo "== $$t"; CK_FORK=yes FASTPROM_TEST_BUILD=$(BUILD) $$t; \
	done

# ---- fuzzing ---------------------------------------------------------------

# The library instrumented for libFuzzer, one object per source like the
# normal build, under $(BUILD)/fuzz.
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_BIN := $(FUZZ_DIR)/fuzz_reader
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Isrc -fsanitize=fuzzer-no-link $(FUZZ_SAN) -pthread
FUZZ_OBJS := $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS)) $(FUZZ_DIR)/obj/fuzz_reader.o

$(FUZZ_DIR)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FUZZ_DIR)/obj/fuzz_reader.o: tests/fuzz/fuzz_reader.c
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(FUZZ_BIN): $(FUZZ_OBJS)
	$(CLANG) -fsanitize=fuzzer $(FUZZ_SAN) -pthread -o $@ $^ $(LIB_LIBS) $(JSON_LIBS)

fuzz-smoke: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_BIN) -runs=20000 -max_len=65536 -seed=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus tests/fuzz/corpus

fuzz: $(FUZZ_BIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_BIN) -max_total_time=$${FUZZ_SECONDS:-600} -max_len=65536 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/corpus tests/fuzz/corpus

# ---- the whole suite -------------------------------------------------------

check: deps
	$(MAKE) check-format
	$(MAKE) all
	$(MAKE) check-cycles
	$(MAKE) unit
	$(MAKE) SANITIZE=1 unit
	$(MAKE) fuzz-smoke
	$(MAKE) check-tools
	$(MAKE) check-fcgi
	$(MAKE) check-python
	$(MAKE) check-node
	$(MAKE) check-deploy
	$(MAKE) check-nginxlog
	@echo "make check: all passed"

# No module of src/ may depend on another that depends back on it, by
# #include or by call (the library's object files).
check-cycles: $(LIB_OBJS)
	$(PYTHON) tests/tools/include_cycles.py --objects $(BUILD)/obj/lib

# Every C file in git (new ones too: untracked files git does not ignore)
# against .clang-format; outside a git checkout, the source directories.
FORMAT_SRCS = $(wildcard $(shell git ls-files --cached --others --exclude-standard -- '*.[ch]' 2>/dev/null || \
  find src include fcgi tests -name node_modules -prune -o -name '*.[ch]' -print))

check-format:
	@clang-format --dry-run -Werror $(FORMAT_SRCS) || \
	  { echo "make check-format: run clang-format -i on the files above (style: .clang-format)"; exit 1; }
	@echo "make check-format: $(words $(FORMAT_SRCS)) files formatted as .clang-format says"

# The exposition checked by the tools that consume it: promtool and
# prometheus_client's text and OpenMetrics parsers.
check-tools: all
	$(PYTHON) tests/integration/test_exposition_tools.py

check-fcgi: all
	$(PYTHON) tests/integration/run.py fcgi

check-python: all
	$(PYTHON) tests/integration/run.py python

check-deploy: all
	$(PYTHON) tests/integration/run.py deploy

# ---- benchmarks --------------------------------------------------------------

$(BUILD)/bench/%: tests/bench/%.c $(A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(DEPFLAGS) -O2 -Wno-missing-prototypes -o $@ $< $(A) $(LDFLAGS) $(LIB_LIBS)

bench-bins: $(BENCH_BINS)

bench: all bench-bins
	$(PYTHON) tests/bench/run.py

# ---- the demo stack ----------------------------------------------------------

run: deps all
	$(PYTHON) deploy/stack/stack.py run

# ---- install -----------------------------------------------------------------

install: all
	$(PYTHON) deploy/install.py install --prefix=$(PREFIX) --destdir="$(DESTDIR)" --build=$(BUILD) \
	  --libdir=$(LIBDIR) --bindir=$(BINDIR) --sbindir=$(SBINDIR) --includedir=$(INCLUDEDIR) \
	  --mandir=$(MANDIR) --sysconfdir=$(SYSCONFDIR) --version=$(VERSION)

uninstall:
	$(PYTHON) deploy/install.py uninstall --prefix=$(PREFIX) --destdir="$(DESTDIR)" --build=$(BUILD) \
	  --libdir=$(LIBDIR) --bindir=$(BINDIR) --sbindir=$(SBINDIR) --includedir=$(INCLUDEDIR) \
	  --mandir=$(MANDIR) --sysconfdir=$(SYSCONFDIR) --version=$(VERSION)

clean:
	rm -rf build build-asan build-node18 build-node18-asan

# ---- fastprom-nginxlog: nginx's access log into the segment ---------------------

NGINXLOG_SRCS := $(wildcard src/nginxlog/*.c)
NGINXLOG_OBJS := $(patsubst src/nginxlog/%.c,$(BUILD)/obj/nginxlog/%.o,$(NGINXLOG_SRCS))
NGINXLOG_OBJS += $(SERVICE_OBJS)
NGINXLOG_LIB_OBJS := $(filter-out $(BUILD)/obj/nginxlog/main.o,$(NGINXLOG_OBJS))
NGINXLOG := $(BUILD)/fastprom-nginxlog
NGINXLOG_FUZZ := $(FUZZ_DIR)/fuzz_nginxlog_line

all: $(NGINXLOG)

$(BUILD)/obj/service/%.o: src/service/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(BUILD)/obj/nginxlog/%.o: src/nginxlog/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(NGINXLOG): $(NGINXLOG_OBJS) $(A)
	$(CC) $(LDFLAGS) -o $@ $(NGINXLOG_OBJS) $(A) $(LIB_LIBS) $(JSON_LIBS)

$(BUILD)/tests/test_nginxlog_%: $(BUILD)/obj/tests/test_nginxlog_%.o $(SUPPORT_OBJS) $(NGINXLOG_LIB_OBJS) $(A)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(SUPPORT_OBJS) $(NGINXLOG_LIB_OBJS) $(A) $(LDFLAGS) $(LIB_LIBS) $(JSON_LIBS) $(CHECK_LIBS)

$(BUILD)/bench/bench_nginxlog: tests/bench/bench_nginxlog.c $(NGINXLOG_LIB_OBJS) $(A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/support $(CFLAGS) $(DEPFLAGS) -O2 -Wno-missing-prototypes -o $@ $< $(NGINXLOG_LIB_OBJS) $(A) $(LDFLAGS) $(LIB_LIBS) $(JSON_LIBS)

# The parser, routes and configuration, with what the configuration reads files with.
# bench_nginxlog.py preloads it into nginx: a bigger syslog send buffer, as
# net.core.wmem_default would give, without changing the host's sysctl.
$(BUILD)/bench/sndbuf_preload.so: tests/bench/sndbuf_preload.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $< -ldl

bench-bins: $(BUILD)/bench/sndbuf_preload.so

NGINXLOG_FUZZ_SRCS := tests/fuzz/fuzz_nginxlog_line.c src/nginxlog/line.c src/nginxlog/route.c src/nginxlog/config.c \
  src/service/textfile.c
$(NGINXLOG_FUZZ): $(NGINXLOG_FUZZ_SRCS) $(wildcard src/nginxlog/*.h src/service/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(NGINXLOG_FUZZ_SRCS) -ljansson

.PHONY: check-nginxlog fuzz-smoke-nginxlog fuzz-nginxlog
fuzz-smoke: fuzz-smoke-nginxlog
fuzz: fuzz-nginxlog

fuzz-smoke-nginxlog: $(NGINXLOG_FUZZ)
	@mkdir -p $(FUZZ_DIR)/nginxlog-corpus
	$(NGINXLOG_FUZZ) -runs=50000 -max_len=4096 -seed=1 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/nginxlog-corpus tests/fuzz/nginxlog-corpus

fuzz-nginxlog: $(NGINXLOG_FUZZ)
	@mkdir -p $(FUZZ_DIR)/nginxlog-corpus
	$(NGINXLOG_FUZZ) -max_total_time=$${FUZZ_SECONDS:-600} -max_len=16384 -artifact_prefix=$(FUZZ_DIR)/ $(FUZZ_DIR)/nginxlog-corpus tests/fuzz/nginxlog-corpus

check-nginxlog: all
	$(PYTHON) tests/integration/run.py nginxlog

# Header dependencies written by the compiler (DEPFLAGS), wherever the rules
# above put objects.
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---- Debian packages ---------------------------------------------------------

# Everything any target uses: build, tests with real servers, benchmarks.
DEB_PACKAGES := gcc make pkg-config libc6-dev libjansson-dev libfcgi-dev libfcgi-bin zlib1g-dev check \
  clang libclang-rt-14-dev clang-format nginx spawn-fcgi prometheus prometheus-pushgateway curl wrk systemd man-db strace \
  python3 python3-dev python3-prometheus-client python3-flask python3-fastapi python3-httpx python3-yaml \
  gunicorn uvicorn

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then \
	    echo "make deps: missing Debian packages:" $$missing; \
	    echo "make deps: run as root, or: sudo apt-get install" $$missing; exit 1; \
	  fi; \
	  echo "make deps: installing" $$missing; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get -o DPkg::Lock::Timeout=900 update -qq >/dev/null && apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $$missing >/dev/null \
	    || { echo "make deps: apt-get install failed for:" $$missing; exit 1; }; \
	fi
	@$(MAKE) --no-print-directory node-deps

# ---- Node.js package (src/node) ------------------------------------------------
#
# The N-API addon, compiled with cc against the installed Node's headers (no
# node-gyp, no download), libfastprom linked in: $(BUILD)/node/fastprom.node,
# which src/node/lib/native.js finds from a checkout. `make install` puts the
# package and the addon in $(LIBDIR)/node_modules/fastprom (deploy/install.py).

NODE ?= node
# The first directory with node_api.h: Node's own installs (NodeSource,
# nodejs.org tarballs) and Debian's libnode-dev all put it in
# /usr/include/node (Debian also in /usr/include/nodejs/src). Keyed on the
# header, not the directory, so an empty leftover directory is not taken.
NODE_INCLUDE ?= $(patsubst %/node_api.h,%,$(firstword $(wildcard \
  /usr/include/node/node_api.h /usr/local/include/node/node_api.h /usr/include/nodejs/src/node_api.h)))
NODE_ADDON := $(BUILD)/node/fastprom.node
NODE_ADDON_OBJS := $(patsubst src/node/addon/%.c,$(BUILD)/obj/node/%.o,$(wildcard src/node/addon/*.c))
NODE_MODULES_STAMP := src/node/node_modules/.package-lock.json

# Node itself only when missing (this machine's Node 20 stays); npm and the
# headers likewise, each on its own (Debian's nodejs comes without npm;
# NodeSource's bundles npm and its headers, and conflicts with Debian's npm).
# Debian 12's nodejs is 18.x: `make check-node18` tests the package with it.
DEB_PACKAGES += $(if $(shell command -v node),,nodejs) $(if $(shell command -v npm),,npm) $(if $(NODE_INCLUDE),,libnode-dev)

.PHONY: node node-deps check-node check-node18
# Without Node's headers (before `make deps`) the C parts still build.
all: $(if $(NODE_INCLUDE),node)
node: $(NODE_ADDON)

$(BUILD)/obj/node/%.o: src/node/addon/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -I$(NODE_INCLUDE) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(NODE_ADDON): $(NODE_ADDON_OBJS) $(A)
	@mkdir -p $(@D)
	$(CC) -shared $(LDFLAGS) -Wl,--exclude-libs,ALL -o $@ $(NODE_ADDON_OBJS) $(A) $(LIB_LIBS)

# prom-client, express and fastify for the tests and benchmarks, exactly as
# package-lock.json pins them; no dependency install scripts run.
node-deps: $(NODE_MODULES_STAMP)
$(NODE_MODULES_STAMP): src/node/package-lock.json src/node/package.json
	cd src/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

# The addon under ASan+UBSan too: libasan preloaded into node (leak checks off:
# node itself does not free at exit), the API, parity and thread tests.
NODE_ASAN_TESTS := test/core.test.js test/parity.test.js test/threads.test.js
NODE_ASAN_BUILD ?= build-asan

check-node: all node-deps
	cd src/node && FASTPROM_TEST_BUILD=$(abspath $(BUILD)) FASTPROM_NODE_ADDON=$(abspath $(NODE_ADDON)) \
	  $(NODE) --test test/*.test.js
	$(MAKE) SANITIZE=1 BUILD=$(NODE_ASAN_BUILD) node
	cd src/node && LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
	  FASTPROM_NODE_ADDON=$(abspath $(NODE_ASAN_BUILD))/node/fastprom.node $(NODE) --test $(NODE_ASAN_TESTS)
	FASTPROM_TEST_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/integration/run.py node

# check-node with Debian 12's Node 18 (what `make deps` installs where node is
# missing) as node and its libnode-dev headers, without installing it: see
# tests/tools/debian_node18.sh (root; downloads ~22 MB once). Builds in
# build-node18*/; not part of `make check`. npm stays this machine's (its
# node_modules are plain JS), so node-deps runs first, outside.
check-node18: node-deps
	tests/tools/debian_node18.sh $(MAKE) BUILD=build-node18 NODE_ASAN_BUILD=build-node18-asan check-node

# tests/bench/bench_node.py compares with prom-client in the same run.
bench: node-deps
