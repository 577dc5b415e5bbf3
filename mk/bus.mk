# The fleet host tests' helper program (tests/fleet/fleetcheck.c), built like a unit test.
FLEETCHECK := $(BUILD)/tests/fleet/fleetcheck
$(FLEETCHECK): tests/fleet/fleetcheck.c $(BUILD)/libstoat.a | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
.PHONY: fleetcheck
fleetcheck: $(FLEETCHECK)

# The host side's figures (publish rate, spool write and drain): bench/fleet.sh.
.PHONY: bench-fleet
bench-fleet: $(BUILD)/stoat $(FLEETCHECK) $(BUILD)/bench/bench_spool
	@bench/fleet.sh
