#!/bin/sh
# Runs the benchmark programs; each prints its own figures. Keep runs short:
# the machines are shared (2 cores).
set -eu
cd "$(dirname "$0")/.."
# EVTX reader: MB/s and records/s on one thread, against evtxexport.
build/bench/bench_evtx -n 5
