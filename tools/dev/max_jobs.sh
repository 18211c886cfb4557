#!/usr/bin/env bash
# How many compiler jobs mmcv's source build may run (the Makefile's default MAX_JOBS): one per
# core, but no more than one per 3 GB of available memory, and at least one.
# CORES and MEM_AVAILABLE_KB override what is read from the machine.
set -euo pipefail
cores=${CORES:-$(nproc 2>/dev/null || echo 2)}
available_kb=${MEM_AVAILABLE_KB:-$(awk '/MemAvailable/ {print $2}' /proc/meminfo 2>/dev/null || echo 6291456)}
by_memory=$(( available_kb / (3 * 1048576) ))
jobs=$(( cores < by_memory ? cores : by_memory ))
echo $(( jobs < 1 ? 1 : jobs ))
