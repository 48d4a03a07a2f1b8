#!/usr/bin/env bash
# The whole pipeline with real peers: xDS files → agent → etcdctl (gRPC) and curl (HTTP gateway,
# exactly as lua-resty-etcd uses it), including live edits, rename-into-place, deletion and a
# broken file.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}" ${AGENT_PID:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cp -r "$EXAMPLES" "$work/xds"
start_agent "$AGENT_BIN" "$work/xds" "$work/agent.log"
echo "agent at $ENDPOINT"
export ETCDCTL_API=3
ectl() { timeout 10 etcdctl --endpoints="$ENDPOINT" "$@"; }
b64() { printf '%s' "$1" | base64 -w0; }
range() { # range KEY RANGE_END -> JSON body of /v3/kv/range
  curl -sS --max-time 5 -X POST "http://$ENDPOINT/v3/kv/range" -d "{\"key\":\"$(b64 "$1")\",\"range_end\":\"$(b64 "$2")\"}"
}
route_count() { range /apisix/routes/ /apisix/routes0 | jq -r '.count // "0"'; }
upstream_nodes() { # upstream_nodes CLUSTER_NAME -> "host:port ..." from the served upstream
  range /apisix/upstreams/ /apisix/upstreams0 | jq -r --arg n "$1" \
    '.kvs[]? | .value | @base64d | select(startswith("{")) | fromjson | select(.name == $n) | [.nodes[] | "\(.host):\(.port)"] | join(" ")'
}

# --- reading, both protocols -------------------------------------------------------------------
version=$(curl -sS --max-time 5 "http://$ENDPOINT/version")
check "GET /version answers etcd's shape" test "$(jq -r .etcdcluster <<<"$version")" = "3.5.0"

keys=$(ectl get --prefix /apisix/routes --keys-only | grep -c . || true)
check "etcdctl get --prefix /apisix/routes: placeholder + 5 routes (got $keys)" test "$keys" -eq 6
check "etcdctl reads the placeholder value" test "$(ectl get /apisix/routes/ --print-value-only)" = "init_dir"
check "etcdctl get with limit" test "$(ectl get --prefix /apisix/ --keys-only --limit 2 | grep -c .)" -eq 2
check "etcdctl -w json: count of upstream keys" test "$(ectl get --prefix /apisix/upstreams/ --keys-only -w json | jq -r .count)" -eq 4

body=$(range /apisix/routes /apisix/routet)
check "HTTP range: count and sorted keys" test "$(jq -r .count <<<"$body")" = 6
check "HTTP range: placeholder first" test "$(jq -r '.kvs[0].key | @base64d' <<<"$body")" = "/apisix/routes/"
check "HTTP range: int64 as strings" test "$(jq -r '.header.revision | type' <<<"$body")" = "string"
missing=$(range /apisix/nothing /apisix/nothinh)
check "HTTP range: empty result has no kvs key" test "$(jq -c 'has("kvs")' <<<"$missing")" = "false"
reviews=$(upstream_nodes "outbound|9080||reviews.default.svc.cluster.local")
check "EDS nodes from the assignment, DRAINING skipped ($reviews)" test "$reviews" = "10.244.0.11:9080 10.244.0.12:9080"
curl -sS --max-time 5 "http://$ENDPOINT/metrics" >"$work/metrics.prom"
check "/metrics (the admin endpoint's registry, on the etcd port as etcd serves it): 5 translated routes" \
  grep -q '^apisix_mesh_agent_translated_objects{kind="route"} 5$' "$work/metrics.prom"
check "... skipped features by resource kind (the 2 Istio filters)" \
  grep -q '^apisix_mesh_agent_translation_skipped{resource="Listener"} 2$' "$work/metrics.prom"
check "... watchers by protocol" grep -q '^apisix_mesh_agent_etcd_watchers{protocol="http"} ' "$work/metrics.prom"
check "an unknown typed_config (istio.stats) is skipped with a debug log" grep -q "unknown type type.googleapis.com/stats.PluginConfig" "$work/agent.log"
check "an untranslated HTTP filter is reported once, naming listener, filter and type" test \
  "$(grep -c 'translation skipped Listener 0.0.0.0_9080: http_filter istio.stats: not translated (type.googleapis.com/stats.PluginConfig)' "$work/agent.log")" = 1

# --- watching -----------------------------------------------------------------------------------
rev=$(jq -r .header.revision <<<"$body")
start=$((rev + 1))
curl -sS -N --raw --max-time 60 -X POST "http://$ENDPOINT/v3/watch" \
  -d "{\"create_request\":{\"key\":\"$(b64 /apisix/)\",\"range_end\":\"$(b64 /apisix0)\",\"start_revision\":$start}}" \
  >"$work/http-watch.raw" 2>"$work/http-watch.err" &
pids+=($!)
ectl watch --prefix /apisix/upstreams/ -w json >"$work/grpc-watch.json" 2>&1 &
pids+=($!)
wait_for 10 grep -qs created "$work/http-watch.raw" || fail "HTTP watch created"
sleep 0.3  # let etcdctl's watch get created

# 1. An endpoint changes: one upstream PUT.
sed -i 's/10.244.0.21/10.244.0.99/' "$work/xds/endpoints.json"
export -f upstream_nodes range b64
export ENDPOINT
check "edited file: ratings upstream now has 10.244.0.99" wait_for 10 bash -c '[ "$(upstream_nodes "outbound|9080||ratings.default.svc.cluster.local")" = "10.244.0.99:9080" ]'

# 2. An editor's atomic save: write elsewhere, rename into place.
jq '.resources[0].virtualHosts[1].routes[0].match.path = "/ratings/v2"' "$work/xds/routes.json" >"$work/xds/.routes.json.tmp"
mv "$work/xds/.routes.json.tmp" "$work/xds/routes.json"
check "rename-into-place is picked up" wait_for 10 bash -c \
  'range /apisix/routes/ /apisix/routes0 | jq -r ".kvs[].value | @base64d" | grep -q "\"/ratings/v2\""'

# 3. A broken file: rejected with its path, the last good state stays.
before=$(route_count)
echo '{"resources": [ {"@type": ' >"$work/xds/routes.json"
check "broken file is reported with its path" wait_for 10 grep -q "xds file rejected: $work/xds/routes.json" "$work/agent.log"
check "broken file: routes still served ($before)" test "$(route_count)" = "$before"

# 4. Deleting a file withdraws what it contributed: without clusters, upstreams and routes go.
rm "$work/xds/clusters.json"
check "deleted clusters file: upstreams withdrawn" wait_for 10 bash -c \
  '[ "$(range /apisix/upstreams/ /apisix/upstreams0 | jq -r .count)" = 1 ]'
check "deleted clusters file: routes withdrawn (placeholder left)" test "$(route_count)" = 1

# --- what the watchers saw ----------------------------------------------------------------------
sleep 0.5
# --raw keeps the chunk framing: each chunk must be exactly one message ending in "\n".
frames_ok=$(count_frames "$work/http-watch.raw")
check "HTTP watch: one chunk per message, each '<json>\\n' ($frames_ok messages)" test "$frames_ok" -ge 4
grep '^{' "$work/http-watch.raw" | tr -d '\r' >"$work/http-watch.jsonl"
check "HTTP watch: created first, without events" \
  test "$(head -1 "$work/http-watch.jsonl" | jq -c '[.result.created, (.result | has("events"))]')" = "[true,false]"
revs=$(tail -n +2 "$work/http-watch.jsonl" | jq -r '.result.header.revision')
check "HTTP watch: header revisions strictly increase ($(echo $revs))" bash -c \
  'prev=0; for r in '"$(echo $revs)"'; do [ "$r" -gt "$prev" ] || exit 1; prev=$r; done'
check "HTTP watch: every event revision equals its header revision" test -z "$(tail -n +2 "$work/http-watch.jsonl" |
  jq -r '.result as $r | $r.events[] | select(.kv.mod_revision != $r.header.revision) | .kv.key')"
check "HTTP watch: DELETE events carry no value" test -z "$(jq -r '.result.events[]? | select(.type == "DELETE") | .kv.value // empty' "$work/http-watch.jsonl")"
check "HTTP watch: PUT events carry no type" test -z "$(jq -r '.result.events[]? | select(.kv.value) | .type // empty' "$work/http-watch.jsonl")"
deletes=$(jq -r '.result.events[]? | select(.type == "DELETE") | .kv.key | @base64d' "$work/http-watch.jsonl" | grep -c . || true)
check "HTTP watch: the deletions arrived (3 upstreams and the 5 routes using them; got $deletes)" test "$deletes" -eq 8
grpc_events=$(jq -s '[.[].Events // [] | length] | add' "$work/grpc-watch.json")
check "gRPC watch (etcdctl): 1 update + 3 deletes of upstreams ($grpc_events)" test "$grpc_events" -eq 4

check "after five more updates the same skipped filter was still reported only once" test \
  "$(grep -c 'http_filter istio.stats: not translated' "$work/agent.log")" = 1

# --- shutdown -----------------------------------------------------------------------------------
kill -TERM "$AGENT_PID"
check "SIGTERM: clean exit" wait "$AGENT_PID"
AGENT_PID=""
check "SIGTERM: logged" grep -q "stopped" "$work/agent.log"
finish
