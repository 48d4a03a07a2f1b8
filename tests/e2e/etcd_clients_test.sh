#!/usr/bin/env bash
# The agent as APISIX's own clients and operators' tools use it: etcdctl's cluster commands,
# APISIX's CLI start-up puts, writes to agent-owned keys, and revisions across restarts.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export ETCDCTL_API=3
b64() { printf '%s' "$1" | base64 -w0; }

start() {
  "$AGENT_BIN" sidecar --xds-watch-files "$EXAMPLES" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --revision-file "$work/revision" "$@" \
    >"$work/agent.log" 2>&1 &
  AGENT_PID=$!
  wait_for 20 grep -qs "ready in" "$work/agent.log" || { cat "$work/agent.log"; exit 1; }
  ENDPOINT=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/agent.log" | head -1)
}
ectl() { timeout 10 etcdctl --endpoints="$ENDPOINT" "$@"; }

start
check "endpoint health" bash -c "ETCDCTL_API=3 timeout 10 etcdctl --endpoints=$ENDPOINT endpoint health 2>&1 | grep -q 'is healthy'"
check "endpoint status" bash -c "ETCDCTL_API=3 timeout 10 etcdctl --endpoints=$ENDPOINT endpoint status -w json | jq -e '.[0].Status.version == \"3.5.0\"' >/dev/null"
check "member list" bash -c "ETCDCTL_API=3 timeout 10 etcdctl --endpoints=$ENDPOINT member list -w json | jq -e '.members | length == 1' >/dev/null"

# APISIX's CLI (init_etcd): one connection per put, hand-written JSON, fails on "error" in the body.
for dir in routes upstreams services ssls; do
  body=$(curl -sS --max-time 5 -H 'Connection: close, TE' -H 'TE: trailers' -X POST "http://$ENDPOINT/v3/kv/put" \
    -d "{\"value\":\"aW5pdF9kaXI=\", \"key\":\"$(b64 "/apisix/$dir/")\"}")
  check "APISIX CLI init_dir put of /apisix/$dir/ succeeds without 'error'" bash -c "! grep -q error <<<'$body' && jq -e .header.revision <<<'$body' >/dev/null"
done

route_key=$(ectl get --prefix /apisix/routes/ --keys-only | grep -v '/$' | grep . | head -1)
out=$(ectl put "$route_key" '{"uri":"/hijack"}' 2>&1 || true)
check "etcdctl put to an agent-owned key is refused, naming it" grep -q "is translated from xDS and read-only" <<<"$out"
out=$(ectl del --prefix /apisix/routes/ 2>&1 || true)
check "etcdctl delete over agent-owned keys is refused" grep -q "read-only" <<<"$out"
check "the owned route is unchanged" bash -c "ETCDCTL_API=3 timeout 10 etcdctl --endpoints=$ENDPOINT get $route_key --print-value-only | grep -q upstream_id"
check "a client's own key: put" bash -c "ETCDCTL_API=3 timeout 10 etcdctl --endpoints=$ENDPOINT put /apisix/plugins '[{\"name\":\"cors\"}]' | grep -q OK"
check "a client's own key: get" test "$(ectl get /apisix/plugins --print-value-only)" = '[{"name":"cors"}]'
check "a client's own key: delete" test "$(ectl del /apisix/plugins)" = 1

rev1=$(ectl get /x -w json | jq -r .header.revision)
check "revisions are clock-seeded, below 1e14 ($rev1)" test "$rev1" -gt 1600000000000 -a "$rev1" -lt 100000000000000
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || true
check "the last revision is saved on shutdown" test "$(cat "$work/revision")" = "$rev1"
# Restart immediately with the clock pushed into the saved file's future: the file must win.
echo $((rev1 + 5000000)) >"$work/revision"
start
rev2=$(ectl get /x -w json | jq -r .header.revision)
check "after a restart the revision never goes backwards ($rev1 -> $rev2)" test "$rev2" -gt $((rev1 + 5000000))
out=$(curl -sS -N --max-time 2 -X POST "http://$ENDPOINT/v3/watch" \
  -d "{\"create_request\":{\"key\":\"$(b64 /apisix/)\",\"range_end\":\"$(b64 /apisix0)\",\"start_revision\":$rev1}}" 2>/dev/null | sed -n 2p || true)
check "a watch from the previous life gets the compaction answer" bash -c "jq -e '.result.canceled and (.result.compact_revision | tonumber) > $rev1' <<<'$out' >/dev/null"
finish
