# The fleet host tests' helper program (tests/fleet/fleetcheck.c), built like a unit test.
FLEETCHECK := $(BUILD)/tests/fleet/fleetcheck
$(FLEETCHECK): tests/fleet/fleetcheck.c $(BUILD)/libstoat.a | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
.PHONY: fleetcheck
fleetcheck: $(FLEETCHECK)

# The fleet's figures: the host side (publish rate, spool write and drain:
# bench/fleet.sh), then end to end through a three-node cluster
# (bench/fleet_centre.sh): the centre alone, publishing and draining at
# once, and the latency at a rate below saturation (FLEET_RATE per publisher).
.PHONY: bench-fleet
bench-fleet: $(BUILD)/stoat $(FLEETCHECK) $(BUILD)/bench/bench_spool $(BUILD)/bench/fleet_pub
	@bench/fleet.sh
	@STOAT=$(BUILD)/stoat FLEET_PHASED=1 bench/fleet_centre.sh
	@STOAT=$(BUILD)/stoat bench/fleet_centre.sh
	@STOAT=$(BUILD)/stoat FLEET_RATE=$${FLEET_RATE:-10000} bench/fleet_centre.sh
