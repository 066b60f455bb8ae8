#!/bin/bash
# Where a process's CPU goes per connection, by kind (issue #18): kernel, JIT-compiled JS, V8's
# builtins (interpreter and inline caches), GC, the rest of V8, Node's C++, libuv, libc.
#
# Record a process (the forwarder, the Node pipe, HAProxy) under load, then categorise:
#   perf record -e cpu-clock -F 2000 -g -o fwd.data -p PID -- sleep 6 &   # while wrk runs 5 s
#   bench/perf-categories.sh fwd.data REQUESTS                            # wrk's request count
# cpu-clock is a software event, so this works on VMs without hardware counters. Samples are
# only taken while the process runs, so µs per connection = share × sampled time / connections.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 PERF_DATA CONNECTIONS" >&2
  exit 2
fi
data=$1
conns=$2
total_ns=$(perf report -i "$data" --stdio -g none 2>/dev/null | awk '/Event count/{print $NF}')
perf report -i "$data" --stdio -g none --no-children --sort dso,sym --percent-limit 0 2>/dev/null \
  | grep -v '^#' | grep -v '^$' \
  | awk -v total_ns="$total_ns" -v conns="$conns" '
{
  pct = $1; sub("%", "", pct); dso = $2; sym = ""
  for (i = 4; i <= NF; i++) sym = sym " " $i
  c = "other (node binary)"
  if (dso ~ /kernel/) c = "kernel"
  else if (dso ~ /JIT/) c = "JIT-compiled JS"
  else if (dso ~ /libc|libstdc|vdso|ld-linux/) c = "libc"
  else if (sym ~ /Scaveng|Marking|MarkCompact|Sweep|Heap::|GC|Evacuat|Remembered|SlotSet|MemoryAllocator|PageMetadata|MarkBit|Compactor|IteratePointers|Mark|Minor/) c = "GC"
  else if (sym ~ /Builtins_/) c = "V8 builtins"
  else if (sym ~ /uv_|uv__/) c = "libuv"
  else if (sym ~ /node::/) c = "Node C++"
  else if (sym ~ /v8::/) c = "V8 other"
  share[c] += pct
}
END {
  for (c in share) printf "%-22s %5.1f%%  %7.1f us per connection\n", c, share[c], share[c] / 100 * total_ns / 1000 / conns
}' | sort -t'%' -k2 -nr
