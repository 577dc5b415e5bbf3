# The live kernel sensor (src/sensor). The BPF object is built against this
# machine's BTF (vmlinux.h is generated, never committed) and embedded in the
# library through a libbpf skeleton, so `stoat watch` ships as one binary.
SENSOR_GEN   := $(BUILD)/gen
SENSOR_VMH   := $(SENSOR_GEN)/vmlinux.h
SENSOR_BPFO  := $(SENSOR_GEN)/sensor.bpf.o
SENSOR_SKEL  := $(SENSOR_GEN)/sensor.skel.h
BPF_CLANG    ?= clang
BPFTOOL      ?= bpftool
BTF_VMLINUX  ?= /sys/kernel/btf/vmlinux

GEN_HDR     += $(SENSOR_SKEL)
CFLAGS      += -I$(SENSOR_GEN)
LDLIBS      += $(shell pkg-config --libs libbpf 2>/dev/null || echo -lbpf -lelf -lz)
CLEAN_EXTRA +=

$(SENSOR_VMH): | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file $(BTF_VMLINUX) format c > $@.tmp && mv $@.tmp $@

$(SENSOR_BPFO): src/sensor/sensor.bpf.c src/sensor/sensor_abi.h $(SENSOR_VMH)
	$(BPF_CLANG) -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(SENSOR_GEN) -Isrc/sensor \
		-Wall -Werror -c $< -o $@

$(SENSOR_SKEL): $(SENSOR_BPFO)
	$(BPFTOOL) gen skeleton $< name sensor_bpf > $@.tmp && mv $@.tmp $@

SENSOR_TEST_BIN := $(BUILD)/tests/sensor/sensor_probe
SENSOR_UNIT_BIN := $(BUILD)/tests/sensor/sensor_unit
$(BUILD)/tests/sensor/%: tests/sensor/%.c $(BUILD)/libstoat.a | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libstoat.a $(LDFLAGS) $(LDLIBS)

.PHONY: sensor sensor-test sensor-bench
sensor: $(BUILD)/libstoat.a $(SENSOR_TEST_BIN) $(SENSOR_UNIT_BIN) $(BUILD)/bench/sensor_bench

# Needs root (loads eBPF, creates a network namespace); prints `sensor: P passed, F failed`.
sensor-test: $(SENSOR_TEST_BIN) $(SENSOR_UNIT_BIN)
	@tests/sensor/run.sh $(SENSOR_TEST_BIN)

sensor-bench: $(BUILD)/bench/sensor_bench
	@bench/sensor_bench.sh $(BUILD)/bench/sensor_bench
