#!/bin/sh
# The bus and fleet layers' face under stoat_* names (issue 12): renames, in
# every C source and header of the repository, the functions, types and
# constants that include/stoat/bus.h and include/stoat/fleet.h declare to
# stoat_bus_*, stoat_fleet_*, STOAT_BUS_* and STOAT_FLEET_*, so that the
# stoat command's archive keeps nothing global but stoat_* (the Makefile's
# API_PREFIXES). Word-bounded and idempotent: a name already renamed is
# left as it is, so the script may run again over a tree merged since.
#   scripts/face-rename.sh        (from the repository's top)
set -eu
cd "$(dirname "$0")/.."
BUS_FN='bus_close|bus_conn_wait|bus_connect|bus_ensure_streams|bus_fnv1a|bus_host_token|bus_js'
BUS_FN="$BUS_FN|bus_pub_alert_line|bus_pub_create|bus_pub_destroy|bus_pub_event_line|bus_pub_finish"
BUS_FN="$BUS_FN|bus_pub_stats|bus_read_partitions|bus_rules_fetch|bus_rules_watch_changed"
BUS_FN="$BUS_FN|bus_rules_watch_start|bus_rules_watch_stop|bus_shutdown"
BUS_TY='bus_opts|bus_conn|bus_diag_fn|bus_state|bus_setup_opts|bus_hb_extra|bus_pub_opts|bus_pub|bus_rules_watch'
FLEET='fleet_bundle_push|fleet_creds_make|fleet_run|fleet_setup_consumers|fleet_opts|fleet_stats|fleet_reload_fn'
BUS_K='STREAM_EVENTS|STREAM_ALERTS|STREAM_HEALTH|STREAM_FACTS|KV_RULES|KV_FLEET|VERSION_MAX|TOKEN_MAX|MAX_SERVERS'
BUS_K="$BUS_K|CONNECTING|CONNECTED|DISCONNECTED|CLOSED"
git ls-files -z '*.c' '*.h' | xargs -0 perl -pi -e "
    s/\\b(?:$BUS_FN|$BUS_TY|$FLEET)\\b/stoat_\$&/g;
    s/\\bstruct spool_stats\\b/struct stoat_bus_spool_stats/g;
    s/\\bBUS_(?:$BUS_K)\\b/STOAT_\$&/g;
    s/\\bFLEET_CONSUMER_(?:PREFIX|HEALTH|CROSS)\\b/STOAT_\$&/g;
"
# names grew by six characters: the files changed are laid out again
git diff --name-only -- '*.c' '*.h' | while read -r f; do clang-format -i "$f"; done
