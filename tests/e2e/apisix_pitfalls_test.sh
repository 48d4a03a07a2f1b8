#!/usr/bin/env bash
# One check per pitfall of apisix-etcd-protocol.md §9 that concerns the agent, over HTTP exactly as
# lua-resty-etcd speaks (no Content-Type, keep-alive, chunked watch). Numbers are the pitfalls'.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$EXAMPLES" "$work/xds"
start_agent "$AGENT_BIN" "$work/xds" "$work/agent.log"
b64() { printf '%s' "$1" | base64 -w0; }
post() { curl -sS --max-time 5 -X POST "http://$ENDPOINT$1" -d "$2"; }
range() { post /v3/kv/range "{\"key\":\"$(b64 "$1")\",\"range_end\":\"$(b64 "$2")\"}"; }
watch_raw() { # watch_raw KEY END START SECONDS OUT: raw chunked body (curl --raw) and headers
  curl -sS -N --raw --max-time "$4" -D "$5.headers" -X POST "http://$ENDPOINT/v3/watch" \
    -d "{\"create_request\":{\"key\":\"$(b64 "$1")\",\"range_end\":\"$(b64 "$2")\",\"start_revision\":$3}}" >"$5" 2>/dev/null || true
}
rev() { range /apisix/x /apisix/y | jq -r .header.revision; }

# 1, 17: a watch from before history: created, then canceled with compact_revision (never events-less crash bait).
watch_raw /apisix/ /apisix0 1 1 "$work/w1"
lines=$(grep '^{' "$work/w1" | tr -d '\r')
check "#1 compacted start: created, then canceled + compact_revision" test \
  "$(jq -sc '[.[0].result.created, .[1].result.canceled, (.[1].result.compact_revision != null), (.[1].result.header | has("revision"))]' <<<"$lines")" = \
  "[true,true,true,false]"

# 3, 4: revisions only go up, also across restarts (the clock seed), and stay below 1e14 (20).
r=$(rev)
check "#3/#4/#20 revision is clock-seeded and < 1e14 ($r)" test "$r" -gt 1600000000000 -a "$r" -lt 100000000000000

# 5: large values and bursts: one message per chunk, each ending in \n, none split or merged.
start=$(( $(rev) + 1 ))
watch_raw /apisix/plugin_metadata/ /apisix/plugin_metadata0 "$start" 3 "$work/w5" &
watcher=$!
sleep 0.5
{ printf '{"key":"%s","value":"' "$(b64 /apisix/plugin_metadata/big)"; { printf '{"v":"'; head -c 100000 /dev/zero | tr '\0' a; printf '"}'; } | base64 -w0; printf '"}'; } >"$work/big.json"
curl -sS --max-time 5 -X POST "http://$ENDPOINT/v3/kv/put" --data-binary @"$work/big.json" >/dev/null
for i in 1 2 3 4 5; do post /v3/kv/put "{\"key\":\"$(b64 /apisix/plugin_metadata/p$i)\",\"value\":\"$(b64 '{}')\"}" >/dev/null; done
wait "$watcher" 2>/dev/null || true
check "#5 100 KB value and a burst: every chunk is exactly one '<json>\\n' message" test "$(count_frames "$work/w5")" -eq 7
# 6: never an event-less message after created (no progress unless asked).
check "#6 no event-less messages after created" test -z "$(grep '^{' "$work/w5" | tr -d '\r' | tail -n +2 | jq -c 'select(.result.events == null)')"
# 13, 22: HTTP/1.1 200, chunked, unbuffered through proxies.
check "#13/#22 watch: HTTP/1.1 200 chunked with X-Accel-Buffering: no" bash -c \
  "grep -q '^HTTP/1.1 200' '$work/w5.headers' && grep -qi '^Transfer-Encoding: chunked' '$work/w5.headers' && grep -qi '^X-Accel-Buffering: no' '$work/w5.headers'"

# 7: no in-stream error objects: a bad watch is refused before streaming with a 4xx unary error.
code=$(curl -sS -o "$work/w7" -w '%{http_code}' --max-time 5 -X POST "http://$ENDPOINT/v3/watch" -d '{"create_request":')
check "#7 malformed watch: $code with etcd's unary error shape, no stream" bash -c \
  "[ $code = 400 ] && jq -e '.error | type == \"string\"' '$work/w7' >/dev/null"

# 8, 9: every directory range starts with its placeholder; an empty directory is the placeholder only.
check "#8 placeholder is kvs[1] of /apisix/routes" test "$(range /apisix/routes /apisix/routet | jq -r '.kvs[0].key | @base64d')" = "/apisix/routes/"
check "#9 empty directory: the placeholder only" test "$(range /apisix/consumers /apisix/consumert | jq -c '[.count, (.kvs | length)]')" = '["1",1]'
check "#9 a missing key: no kvs member at all" test "$(range /apisix/nope /apisix/nopf | jq -c 'has("kvs")')" = false

# 10, 11: /version is an object with etcdcluster; every /v3 path APISIX uses is served.
check "#10 /version is a JSON object with etcdcluster" bash -c "curl -sS http://$ENDPOINT/version | jq -e '.etcdcluster' >/dev/null"
for path in /v3/kv/range /v3/kv/put /v3/kv/deleterange /v3/kv/txn /v3/lease/grant /v3/lease/keepalive /v3/kv/lease/timetolive; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://$ENDPOINT$path" -d '{}')
  check "#11 $path is served (HTTP $code, not 404/5xx)" test "$code" -lt 404 -o "$code" = 412
done

# 12: server-info's flow: grant, put with lease and prev_kv, keepalive with the ID as a string.
grant=$(post /v3/lease/grant '{"TTL":60,"ID":0}')
id=$(jq -r .ID <<<"$grant")
put=$(post /v3/kv/put "{\"value\":\"$(b64 '{"id":"x"}')\",\"key\":\"$(b64 /apisix/data_plane/server_info/x)\",\"prev_kv\":true,\"lease\":\"$id\"}")
check "#12 put with a lease: no 'error' in the body" bash -c "! grep -q error <<<'$put'"
ka=$(curl -sS --max-time 5 -D "$work/ka.headers" -X POST "http://$ENDPOINT/v3/lease/keepalive" -d "{\"ID\":\"$id\"}")
check "#12 keepalive answers one result line and ends" test "$(jq -r .result.TTL <<<"$ka")" = 60

# 14: routine conditions never answer 5xx.
worst=0
for body in '{}' 'not json' '{"key":"!!!"}' '{"key":"L2E=","revision":"99999999999999"}'; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -X POST "http://$ENDPOINT/v3/kv/range" -d "$body")
  [ "$code" -gt "$worst" ] && worst=$code
done
check "#14 bad or impossible requests answer 4xx, never 5xx (worst $worst)" test "$worst" -lt 500

# 18: DELETE events carry no value; created never carries events (also 19: header.revision > 0 everywhere).
start=$(( $(rev) + 1 ))
watch_raw /apisix/data_plane/ /apisix/data_plane0 "$start" 2 "$work/w18" &
watcher=$!
sleep 0.5
post /v3/kv/deleterange "{\"key\":\"$(b64 /apisix/data_plane/server_info/x)\"}" >/dev/null
wait "$watcher" 2>/dev/null || true
msgs=$(grep '^{' "$work/w18" | tr -d '\r')
check "#18 created carries no events key" test "$(head -1 <<<"$msgs" | jq -c '.result | has("events")')" = false
check "#18 DELETE event without a value" test "$(tail -1 <<<"$msgs" | jq -c '.result.events[0] | [.type, (.kv | has("value"))]')" = '["DELETE",false]'
check "#19 every message has header.revision > 0" test -z "$(jq -c 'select((.result.header.revision // "0" | tonumber) <= 0)' <<<"$msgs")"

# 21: two changes between two watches of a 2.x client both arrive (history replay).
from=$(( $(rev) + 1 ))
post /v3/kv/put "{\"key\":\"$(b64 /apisix/global_rules/1)\",\"value\":\"$(b64 '{"id":"1"}')\"}" >/dev/null
post /v3/kv/put "{\"key\":\"$(b64 /apisix/global_rules/2)\",\"value\":\"$(b64 '{"id":"2"}')\"}" >/dev/null
watch_raw /apisix/global_rules /apisix/global_rulet "$from" 1 "$work/w21"
check "#21 changes made between watches are replayed" test \
  "$(grep '^{' "$work/w21" | tr -d '\r' | jq -s '[.[].result.events[]?] | length')" -eq 2
finish
