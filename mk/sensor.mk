# The live kernel sensor (src/sensor). The BPF object is built against this
# machine's BTF (vmlinux.h is generated, never committed) and embedded in the
# library through a libbpf skeleton, so `stoat watch` ships as one binary.
#
# SENSOR=1 builds the eBPF programs, SENSOR=0 leaves them out: ebpf_none.c
# stands in for ebpf.c, nothing links libbpf, and `stoat watch` runs the
# fallback (proc connector and fanotify), saying why eBPF is missing. By
# default (SENSOR=auto) the eBPF part is built when clang, bpftool, libbpf
# and the kernel's BTF are all there, and left out, with the reason, when
# one is not. The BPF target architecture is this machine's (uname -m).
SENSOR       ?= auto
SENSOR_GEN   := $(BUILD)/gen
SENSOR_VMH   := $(SENSOR_GEN)/vmlinux.h
SENSOR_BPFO  := $(SENSOR_GEN)/sensor.bpf.o
SENSOR_SKEL  := $(SENSOR_GEN)/sensor.skel.h
BPF_CLANG    ?= clang
BPFTOOL      ?= bpftool
BTF_VMLINUX  ?= /sys/kernel/btf/vmlinux

# uname -m to the kernel's architecture names that bpf_tracing.h knows
BPF_ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/i.86/x86/' -e 's/aarch64.*/arm64/' \
                -e 's/armv.*/arm/' -e 's/riscv64/riscv/' -e 's/ppc64.*/powerpc/' -e 's/s390x/s390/' \
                -e 's/loongarch64/loongarch/' -e 's/mips.*/mips/')

ifeq ($(SENSOR),auto)
# each missing part says "and ..."; the first "and" is dropped
SENSOR_WHY := $(wordlist 2,999,$(strip \
    $(if $(shell command -v $(BPF_CLANG) 2>/dev/null),,and no $(BPF_CLANG) to compile the BPF programs) \
    $(if $(shell command -v $(BPFTOOL) 2>/dev/null),,and no $(BPFTOOL) for vmlinux.h and the skeleton) \
    $(if $(shell pkg-config --exists libbpf 2>/dev/null && echo y),,and no libbpf (libbpf-dev)) \
    $(if $(wildcard $(BTF_VMLINUX)),,and no kernel BTF at $(BTF_VMLINUX))))
SENSOR_EBPF := $(if $(SENSOR_WHY),0,1)
else ifeq ($(SENSOR),0)
SENSOR_WHY  := built with SENSOR=0
SENSOR_EBPF := 0
else
SENSOR_EBPF := 1
endif

ifeq ($(SENSOR_EBPF),1)
LIB_OBJ     := $(filter-out $(BUILD)/src/sensor/ebpf_none.o,$(LIB_OBJ))
GEN_HDR     += $(SENSOR_SKEL)
CFLAGS      += -I$(SENSOR_GEN)
LDLIBS      += $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
else
LIB_OBJ     := $(filter-out $(BUILD)/src/sensor/ebpf.o,$(LIB_OBJ))
# the reason, as a C string, for the mode line of stoat watch
$(BUILD)/src/sensor/ebpf_none.o: CFLAGS += -DSENSOR_NO_EBPF_WHY='"$(subst ",,$(subst ',,$(SENSOR_WHY)))"'
$(info stoat: building without the eBPF sensor ($(SENSOR_WHY)); stoat watch will use its fallback)
endif

$(SENSOR_VMH): | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@.tmp && mv $@.tmp $@

$(SENSOR_BPFO): src/sensor/sensor.bpf.c src/sensor/fileops.bpf.h src/sensor/sensor_abi.h $(SENSOR_VMH)
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -I$(SENSOR_GEN) -Isrc/sensor \
		-Wall -Werror -c $< -o $@

$(SENSOR_SKEL): $(SENSOR_BPFO)
	$(BPFTOOL) gen skeleton $< name sensor_bpf > $@.tmp && mv $@.tmp $@

SENSOR_TEST_BIN := $(BUILD)/tests/sensor/sensor_probe
SENSOR_UNIT_BIN := $(BUILD)/tests/sensor/sensor_unit
$(BUILD)/tests/sensor/%: tests/sensor/%.c $(BUILD)/libstoat.a | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libstoat.a $(LDFLAGS) $(LDLIBS)

.PHONY: sensor sensor-test sensor-bench print-sensor
sensor: $(BUILD)/libstoat.a $(SENSOR_TEST_BIN) $(SENSOR_UNIT_BIN) $(BUILD)/bench/sensor_bench

# what this build does with the sensor: "ebpf <arch>" or "none: <why>"
print-sensor:
	@echo "$(if $(filter 1,$(SENSOR_EBPF)),ebpf $(BPF_ARCH),none: $(SENSOR_WHY))"

# Needs root (loads eBPF, creates a network namespace); prints `sensor: P passed, F failed`.
sensor-test: $(SENSOR_TEST_BIN) $(SENSOR_UNIT_BIN)
	@tests/sensor/run.sh $(SENSOR_TEST_BIN)

sensor-bench: $(BUILD)/bench/sensor_bench
	@bench/sensor_bench.sh $(BUILD)/bench/sensor_bench
