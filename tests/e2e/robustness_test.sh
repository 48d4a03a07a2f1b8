#!/usr/bin/env bash
# Issue 12's probes 2, 3, 5 and 6 against the real binary:
#   2+3. etcdctl's watch on /foo, writes elsewhere, a compaction, then a put on /foo: the put
#      returns (it hung: the gRPC watch stream retired the watcher inside the store's notification)
#      and the idle watcher gets the event, as from etcd (it was canceled with compact_revision);
#   8. memory a client pinned with large values is given back once they are deleted;
#   7. revisions are never reused after a kill -9 (--revision-file);
#   9. /healthz/live answers within kubelet's 1 s while a large xDS change is applied;
#   5. a connection that sends "P" or "PR" and stalls must not burn a core (the one-port sniffer);
#   6. out of file descriptors, the etcd and health listeners back off instead of spinning, and
#      both answer again once descriptors are free (the health listener used to stop for good).
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
SCALE_GEN=$2
EXAMPLES="$(cd "$(dirname "$0")/../.." && pwd)/examples/xds"
work=$(mktemp -d)
cleanup() { [ -n "${PIDS:-}" ] && kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # user + system, in clock ticks

start_agent "$AGENT_BIN" "$EXAMPLES" "$work/agent.log"
PIDS="$AGENT_PID"
hz=$(getconf CLK_TCK)
for prefix in P PR; do
  before=$(cpu_ticks "$AGENT_PID")
  python3 - "$ENDPOINT" "$prefix" <<'PY'
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(sys.argv[2].encode())
time.sleep(2)
PY
  used=$(( $(cpu_ticks "$AGENT_PID") - before ))
  check "a connection stalled after \"$prefix\" costs no CPU (${used} ticks of $((2 * hz)) in 2 s)" test "$used" -lt $((hz / 2))
done
check "the agent still answers" curl -sf "http://$ENDPOINT/version" -o /dev/null

# Probe 8: 300 values of 750 KB written then deleted: the agent gives the memory back (history is
# bounded by --max-history-bytes, 32 MB, and freed large blocks return to the system).
python3 - "$ENDPOINT" <<'PY'
import base64, json, sys, urllib.request
def call(path, body):
    urllib.request.urlopen(urllib.request.Request("http://" + sys.argv[1] + path, data=json.dumps(body).encode()),
                           timeout=60).read()
key = lambda i: base64.b64encode(("/big/%d" % i).encode()).decode()
value = base64.b64encode(b"v" * 750 * 1024).decode()
for i in range(300):
    call("/v3/kv/put", {"key": key(i), "value": value})
for i in range(300):
    call("/v3/kv/deleterange", {"key": key(i)})
PY
rss_mb=$(( $(awk '/VmRSS/ {print $2}' "/proc/$AGENT_PID/status") / 1024 ))
if grep -qa __asan_init "$AGENT_BIN"; then  # gcc links ASan's runtime dynamically, clang statically
  echo "(RSS not checked: AddressSanitizer's allocator quarantines freed memory; ${rss_mb} MB)"
else
  check "after 225 MB of values are written and deleted, RSS is back to ${rss_mb} MB (< 120)" test "$rss_mb" -lt 120
fi

export ETCDCTL_API=3
ctl() { timeout 15 etcdctl --endpoints="$ENDPOINT" --dial-timeout=5s --command-timeout=10s "$@"; }
etcdctl --endpoints="$ENDPOINT" watch /foo >"$work/watch.out" 2>&1 &
WATCH=$!
PIDS="$PIDS $WATCH"
sleep 0.5
ctl put /bar 1 >/dev/null && ctl put /bar 2 >/dev/null
rev=$(ctl get /bar -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "etcdctl compact $rev" ctl compact "$rev"
check "a put on the idle watcher's key after the compaction returns" ctl put /foo x
check "writes keep working" ctl put /bar 3
check "the idle watcher gets the event, not a cancel" wait_for 5 grep -q '^x$' "$work/watch.out"
check "…and is not canceled" bash -c "! grep -qi 'compact' '$work/watch.out'"
kill "$WATCH" 2>/dev/null || true
check "SIGTERM still ends the agent" bash -c "kill -TERM $AGENT_PID && timeout 10 tail --pid=$AGENT_PID -f /dev/null"

# Probe 7: revisions ran ahead of the clock (a seeded file stands for 40,000 fast puts) and were
# used again after a kill -9, which skips the save at exit: APISIX then ignores updates.
echo 5000000000000 >"$work/revision"
revision_of() { timeout 15 etcdctl --endpoints="$1" get /k -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
start_crashable() {
  "$AGENT_BIN" sidecar --xds-watch-files "$EXAMPLES" --grpc-listen 127.0.0.1:0 --health-listen "" --admin-listen "" \
    --revision-file "$work/revision" >"$work/$1.log" 2>&1 &
  CRASHABLE=$!
  PIDS="$PIDS $CRASHABLE"
  wait_for 20 grep -qs "ready in" "$work/$1.log" || { cat "$work/$1.log"; exit 1; }
  CRASHABLE_AT=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/$1.log" | head -1)
}
start_crashable first
for i in 1 2 3; do timeout 15 etcdctl --endpoints="$CRASHABLE_AT" put /k "$i" >/dev/null; done
before_crash=$(revision_of "$CRASHABLE_AT")
kill -KILL "$CRASHABLE"
wait "$CRASHABLE" 2>/dev/null || true
start_crashable second
after_crash=$(revision_of "$CRASHABLE_AT")
check "after kill -9 the revision goes on from above ($before_crash → $after_crash)" test "$after_crash" -gt "$before_crash"
kill -TERM "$CRASHABLE"

# Probe 9: liveness is served by its own thread, not behind xDS work. 30,000 services, then every
# endpoint moved: /healthz/live is asked every 0.1 s with kubelet's 1 s timeout meanwhile.
mesh="$work/mesh"
"$SCALE_GEN" 30000 "$mesh" >/dev/null
"$AGENT_BIN" sidecar --xds-watch-files "$mesh" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  >"$work/big.log" 2>&1 &
BIG=$!
PIDS="$PIDS $BIG"
wait_for 120 grep -qs "ready in" "$work/big.log" || { cat "$work/big.log"; exit 1; }
big_health=$(sed -n 's/.*health checks on http:\/\/\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/big.log" | head -1)
applied() { grep -c "applied xDS" "$work/big.log" || true; }
before=$(applied)
"$SCALE_GEN" 30000 "$mesh.new" --endpoint-seed 7 >/dev/null
mv "$mesh.new/endpoints.json" "$mesh/endpoints.json"
probes=0 slow=0
until [ "$(applied)" -gt "$before" ] || [ $probes -ge 300 ]; do
  curl -sf -m 1 "http://$big_health/healthz/live" -o /dev/null || slow=$((slow + 1))
  probes=$((probes + 1))
  sleep 0.1
done
check "the large change was applied while probing ($probes probes)" test "$(applied)" -gt "$before"
check "every liveness probe answered within 1 s ($slow of $probes did not)" test "$slow" -eq 0
kill -TERM "$BIG"

# 64 descriptors: the agent's own use is about 20; 120 client connections exhaust them.
"$AGENT_BIN" sidecar --xds-watch-files "$EXAMPLES" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  >"$work/small.log" 2>&1 &
SMALL=$!
PIDS="$PIDS $SMALL"
prlimit --pid "$SMALL" --nofile=64:64
wait_for 20 grep -qs "ready in" "$work/small.log" || { cat "$work/small.log"; exit 1; }
etcd=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/small.log" | head -1)
health=$(sed -n 's/.*health checks on http:\/\/\(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/small.log" | head -1)
before=$(cpu_ticks "$SMALL")
python3 - "$etcd" "$health" <<'PY'
import socket, sys, time
held = []
for target in (sys.argv[1], sys.argv[2]):
    host, port = target.rsplit(":", 1)
    for _ in range(60):
        try:
            held.append(socket.create_connection((host, int(port)), timeout=1))
        except OSError:
            pass
time.sleep(3)  # the kernel's backlog completes connections the agent cannot accept
PY
used=$(( $(cpu_ticks "$SMALL") - before ))
check "out of descriptors: no spinning (${used} ticks in 3 s)" test "$used" -lt "$hz"
reports=$(grep -c "accept failed" "$work/small.log" || true)
check "out of descriptors: reported, not flooded ($reports lines)" test "$reports" -ge 1 -a "$reports" -le 10
check "afterwards the etcd API answers again" wait_for 5 curl -sf -m 1 "http://$etcd/version" -o /dev/null
check "afterwards /healthz/live answers again" wait_for 5 curl -sf -m 1 "http://$health/healthz/live" -o /dev/null
finish
