# Clearance - plain Makefile, pkg-config for every library.
#
#   make            build everything into build/
#   make test       the whole suite: deps, build, unit (+ASan/UBSan, valgrind),
#                   integration against real PostgreSQL, nginx, oidc-provider
#   make unit       Check unit tests only
#   make sanitize   unit tests built with -fsanitize=address,undefined
#   make memcheck   unit tests under valgrind
#   make integration  the integration suite (starts and stops its own stack)

B ?= build
PKGS := libcurl jansson libpq openssl
# gcc on purpose (Debian's default; valgrind 3.19 cannot read clang 14's
# DWARF 5), whatever `cc` points to.  `make CC=clang` still works.
ifeq ($(origin CC),default)
CC := gcc
endif
OPT ?= -O2 -g
SAN ?=
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-D_FORTIFY_SOURCE=2 -fvisibility=hidden -pthread
ifneq ($(SAN),)
OPT := -O1 -g -fno-omit-frame-pointer
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = $(CFLAGS_BASE) $(OPT) $(SANFLAGS) -Icommon/include $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lfcgi -lpthread -lm
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

COMMON_SRC := $(wildcard common/src/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/obj/%.o)
LIBCLR := $(B)/lib/libclearance.a

SERVICES := registrar introspect access ctl
svc_src = $(filter-out services/$(1)/main.c,$(wildcard services/$(1)/*.c))
svc_obj = $(patsubst %.c,$(B)/obj/%.o,$(call svc_src,$(1)))
SVC_LIBS := $(foreach s,$(SERVICES),$(B)/lib/lib$(s).a)
BINS := $(foreach s,$(SERVICES),$(B)/bin/clearance-$(s))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_HELPER_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
TEST_HELPER_OBJ := $(TEST_HELPER_SRC:%.c=$(B)/obj/%.o)

.PHONY: all test unit sanitize memcheck integration deps bench run up down clean format-check \
	install uninstall
all: $(LIBCLR) $(BINS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBCLR): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

define svc_rules
$(B)/lib/lib$(1).a: $(call svc_obj,$(1))
	@mkdir -p $$(dir $$@)
	rm -f $$@ && ar rcs $$@ $$^
$(B)/bin/clearance-$(1): $(B)/obj/services/$(1)/main.o $(B)/lib/lib$(1).a $(LIBCLR)
	@mkdir -p $$(dir $$@)
	$(CC) $(CFLAGS_ALL) -o $$@ $$^ $(LDLIBS_ALL)
endef
$(foreach s,$(SERVICES),$(eval $(call svc_rules,$(s))))

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TEST_HELPER_OBJ) $(SVC_LIBS) $(LIBCLR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TEST_HELPER_OBJ) -Wl,--start-group $(SVC_LIBS) $(LIBCLR) -Wl,--end-group $(LDLIBS_ALL) $(CHECK_LIBS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

sanitize:
	$(MAKE) B=build/asan SAN=1 unit

memcheck: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
	  CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	    --suppressions=tests/valgrind.supp $$t || fail=1; done; exit $$fail

deps:
	bash tests/stack/deps.sh test

integration: all
	bash tests/stack/integration.sh

test:
	bash tests/stack/test.sh

# The local stack (deploy/run/run.sh): `run` in the foreground (Ctrl-C stops
# it), `up`/`down` in the background.  Data is kept in var/.
run:
	bash deploy/run/run.sh run

up:
	bash deploy/run/run.sh up

down:
	bash deploy/run/run.sh down

# make install [PREFIX=/usr/local] [DESTDIR=...]: the programs, migrations,
# mail templates, the portal's static files, systemd units (socket-activated
# FastCGI, a dedicated user) and example nginx/env files.  The programs find
# migrations and mail templates at <program dir>/../share/clearance/ by
# default, so DATADIR always follows PREFIX.  Nothing is started or enabled.
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
SBINDIR = $(PREFIX)/sbin
DATADIR = $(PREFIX)/share/clearance
SYSCONFDIR ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
UNITS := $(notdir $(wildcard deploy/systemd/*.service deploy/systemd/*.socket))
PORTAL_DIR := services/portal
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' \
	-e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@SYSUSERSDIR@|$(SYSUSERSDIR)|g'
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sql \
	  $(DESTDIR)$(DATADIR)/mail $(DESTDIR)$(DATADIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR) \
	  $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(B)/bin/clearance-ctl $(DESTDIR)$(BINDIR)/
	install -m 755 $(B)/bin/clearance-registrar $(B)/bin/clearance-introspect \
	  $(B)/bin/clearance-access $(DESTDIR)$(SBINDIR)/
	install -m 644 sql/*.sql $(DESTDIR)$(DATADIR)/sql/
	install -m 644 deploy/mail/*.txt $(DESTDIR)$(DATADIR)/mail/
	if [ -d $(PORTAL_DIR) ]; then rm -rf $(DESTDIR)$(DATADIR)/portal && \
	  cp -R $(PORTAL_DIR) $(DESTDIR)$(DATADIR)/portal && \
	  chmod -R u=rwX,go=rX $(DESTDIR)$(DATADIR)/portal; fi
	for u in $(UNITS); do $(SUBST) deploy/systemd/$$u >$(DESTDIR)$(SYSTEMDUNITDIR)/$$u && \
	  chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; done
	$(SUBST) deploy/systemd/clearance.sysusers >$(DESTDIR)$(SYSUSERSDIR)/clearance.conf
	$(SUBST) deploy/systemd/clearance.env >$(DESTDIR)$(DATADIR)/examples/clearance.env
	install -m 644 deploy/nginx/clearance.conf $(DESTDIR)$(DATADIR)/examples/nginx-clearance.conf
	install -m 644 deploy/nginx/gateway.conf $(DESTDIR)$(DATADIR)/examples/nginx-gateway.conf
	chmod 644 $(DESTDIR)$(SYSUSERSDIR)/clearance.conf $(DESTDIR)$(DATADIR)/examples/clearance.env

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/clearance-ctl $(foreach s,registrar introspect access,$(DESTDIR)$(SBINDIR)/clearance-$(s))
	rm -f $(foreach u,$(UNITS),$(DESTDIR)$(SYSTEMDUNITDIR)/$(u)) $(DESTDIR)$(SYSUSERSDIR)/clearance.conf
	rm -rf $(DESTDIR)$(DATADIR)

# Gateway benchmark (not part of `make test`): see tests/bench/bench.sh.
bench:
	bash tests/stack/deps.sh bench
	$(MAKE) -j2 $(B)/bin/clearance-introspect $(B)/bin/clearance-ctl
	bash tests/bench/bench.sh

# libFuzzer smoke run of the parsers (tests/fuzz/): each target for
# FUZZ_SECONDS, starting from the committed seeds in tests/fuzz/corpus/<t>/
# (read-only; new inputs go to build/fuzz/corpus/<t>/).  clang builds the
# library again with the fuzzer's coverage hooks and ASan/UBSan.
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := fuzz_jwt fuzz_jwks fuzz_b64url fuzz_http_in
FUZZ_B := build/fuzz
.PHONY: fuzz fuzz-build
fuzz-build:
	$(MAKE) B=$(FUZZ_B) CC=clang SAN=1 CFLAGS=-fsanitize=fuzzer-no-link $(FUZZ_B)/lib/libclearance.a
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "clang $$t"; \
	  clang $(CFLAGS_BASE) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -Icommon/include $(PKG_CFLAGS) \
	    -o $(FUZZ_B)/$$t tests/fuzz/$$t.c $(FUZZ_B)/lib/libclearance.a $(LDLIBS_ALL); done
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_B)/corpus/$$t $(FUZZ_B)/artifacts; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  if UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_B)/$$t -max_total_time=$(FUZZ_SECONDS) \
	    -max_len=9000 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_B)/artifacts/$$t- \
	    $(FUZZ_B)/corpus/$$t tests/fuzz/corpus/$$t >$(FUZZ_B)/$$t.log 2>&1; then \
	    grep -aE 'stat::number_of_executed_units|DONE' $(FUZZ_B)/$$t.log || true; \
	  else tail -n 40 $(FUZZ_B)/$$t.log; \
	    echo "fuzz: $$t failed, input in $(FUZZ_B)/artifacts/"; exit 1; fi; \
	done

# The committed .clang-format is the layout; CI fails on any drift.
FORMAT_FILES = $(wildcard common/src/*.[ch] common/include/clearance/*.h services/*/*.[ch] \
	tests/unit/*.[ch] tests/fuzz/*.[ch] tests/bench/*.c)
format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
