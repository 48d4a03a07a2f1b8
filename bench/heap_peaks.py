#!/usr/bin/env python3
"""Summarises a heaptrack peak flame-graph file (heaptrack_print -F FILE --flamegraph-cost-type peak):
the heap at its peak, and for each of the agent's functions the bytes live at that moment that were
allocated under it (inclusive). Used by scripts/bench for the report's heap profile."""
import collections
import re
import sys

inclusive = collections.Counter()
total = 0
with open(sys.argv[1]) as stacks:
    for line in stacks:
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            name = re.sub(r"\(.*", "", frame)
            if name not in seen:
                seen.add(name)
                inclusive[name] += int(count)
limit = int(sys.argv[2]) if len(sys.argv) > 2 else 20
print(f"{total / 1e6:8.1f} MB  peak heap (all allocations live at the peak)")
shown = 0
for name, count in inclusive.most_common():
    if "agent::" not in name or "RunSidecar" in name:
        continue
    print(f"{count / 1e6:8.1f} MB  {name[:140]}")
    shown += 1
    if shown == limit:
        break
