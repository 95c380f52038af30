# ticketflow — build, test and run. `make help` lists the targets.
#
# Layout the rules follow (add files, not rules):
#   common/*.c                 → build/libticketflow.a
#   services/S/*.c             → build/libS.a (all but main.c and *_main.c)
#   services/S/main.c          → bin/ticketflow-S   (services/ticketctl → bin/ticketctl)
#   services/S/X_main.c        → bin/ticketflow-X
#   tests/test_*.c             → build/tests/test_* (Criterion), other tests/*.c → test support

CC       ?= gcc
PKGS     := libczmq libzmq msgpack libpq libmicrohttpd jansson libcurl libcrypto
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Icommon -Iproto -MMD -MP
CFLAGS   += $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   += $(addprefix -Iservices/,$(notdir $(patsubst %/,%,$(wildcard services/*/))))
LDLIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm

SERVICES      := $(notdir $(patsubst %/,%,$(wildcard services/*/)))
COMMON_OBJ    := $(patsubst %.c,build/%.o,$(wildcard common/*.c))
LIB_SRC        = $(filter-out services/$(1)/main.c services/$(1)/%_main.c,$(wildcard services/$(1)/*.c))
SERVICE_LIBS  := $(foreach s,$(SERVICES),$(if $(call LIB_SRC,$(s)),build/lib$(s).a))
MAIN_BINS     := $(foreach s,$(SERVICES),$(if $(wildcard services/$(s)/main.c),$(if $(filter ticketctl,$(s)),bin/ticketctl,bin/ticketflow-$(s))))
TOOL_MAINS    := $(wildcard services/*/*_main.c)
TOOL_BINS     := $(foreach m,$(TOOL_MAINS),bin/ticketflow-$(patsubst %_main.c,%,$(notdir $(m))))
TEST_SRC      := $(wildcard tests/test_*.c)
TEST_BINS     := $(patsubst tests/%.c,build/tests/%,$(TEST_SRC))
TEST_SUPPORT  := $(patsubst %.c,build/%.o,$(filter-out $(TEST_SRC) tests/fuzz_%.c,$(wildcard tests/*.c)))
ALL_LIBS      := $(SERVICE_LIBS) build/libticketflow.a

.SECONDARY:
.PHONY: all deps binaries models test test-only start stop status run bench fuzz clean help

all: deps
	@$(MAKE) --no-print-directory binaries

help:
	@echo "make          build everything into bin/ (installs missing Debian packages as root)"
	@echo "make test     build and run every test against a throw-away PostgreSQL"
	@echo "make start    start PostgreSQL (embedded unless DATABASE_URL is set) and all services"
	@echo "make stop     stop everything make start started"
	@echo "make status   one line per service and the embedded PostgreSQL; fails unless all run"
	@echo "make run      start, feed the demo tickets, follow them; Ctrl-C stops everything"
	@echo "make bench    load benchmark; prints numbers"
	@echo "make fuzz     fuzz the codec with libFuzzer (FUZZ_SECONDS, default 60)"

deps:
	@deploy/deps.sh

binaries: $(MAIN_BINS) $(TOOL_BINS) models

# the default classifier model of the manuals' taxonomy, and the third-level
# model of the sub-categories that have one, trained from deploy/taxonomy/
TRAIN_DATA := deploy/taxonomy/train.csv
models: build/models/default.model build/models/third_level.model

build/models/default.model: $(TRAIN_DATA) bin/ticketflow-train
	@mkdir -p build/models
	bin/ticketflow-train --data $(TRAIN_DATA) --label-column subcategory --out $@ > build/models/default.log

build/models/third_level.model: $(TRAIN_DATA) bin/ticketflow-train
	@mkdir -p build/models
	bin/ticketflow-train --data $(TRAIN_DATA) --label-column third_level --out $@ > build/models/third_level.log

build/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libticketflow.a: $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

define SERVICE_RULES
build/lib$(1).a: $(patsubst %.c,build/%.o,$(call LIB_SRC,$(1)))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach s,$(SERVICES),$(if $(call LIB_SRC,$(s)),$(eval $(call SERVICE_RULES,$(s)))))

bin/ticketctl: build/services/ticketctl/main.o $(ALL_LIBS)
	@mkdir -p bin
	$(CC) -o $@ $< $(ALL_LIBS) $(LDLIBS)

bin/ticketflow-%: build/services/%/main.o $(ALL_LIBS)
	@mkdir -p bin
	$(CC) -o $@ $< $(ALL_LIBS) $(LDLIBS)

define TOOL_RULE
bin/ticketflow-$(patsubst %_main.c,%,$(notdir $(1))): $(patsubst %.c,build/%.o,$(1)) $(ALL_LIBS)
	@mkdir -p bin
	$$(CC) -o $$@ $$< $(ALL_LIBS) $$(LDLIBS)
endef
$(foreach m,$(TOOL_MAINS),$(eval $(call TOOL_RULE,$(m))))

build/tests/%: build/tests/%.o $(TEST_SUPPORT) $(ALL_LIBS)
	@mkdir -p build/tests
	$(CC) -o $@ $< $(TEST_SUPPORT) $(ALL_LIBS) $(LDLIBS) -lcriterion

# test: build everything, then run every test binary against a throw-away
# PostgreSQL cluster in var/test-pg that tests/run.sh starts and stops.
test: deps
	@$(MAKE) --no-print-directory binaries $(TEST_BINS)
	@tests/run.sh $(TEST_BINS)

start: all
	@deploy/services.sh start

stop:
	@deploy/services.sh stop

status:
	@deploy/services.sh status

run: all
	@deploy/run.sh

bench: all
	@tests/bench.sh || echo "bench: did not finish (see above)"

FUZZ_SECONDS ?= 60
fuzz: deps
	@mkdir -p build/fuzz var/fuzz-corpus
	clang -std=c11 -g -O1 -D_GNU_SOURCE -Icommon -Iproto $(shell pkg-config --cflags $(PKGS)) \
	    -fsanitize=fuzzer,address,undefined tests/fuzz_codec.c common/tf_codec.c common/tf_utf8.c \
	    -o build/fuzz/fuzz_codec $(LDLIBS)
	build/fuzz/fuzz_codec -max_total_time=$(FUZZ_SECONDS) -max_len=4096 var/fuzz-corpus

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
