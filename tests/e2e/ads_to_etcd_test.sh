#!/usr/bin/env bash
# xds-v3-grpc end to end, SotW and Delta: a management server (tests/xds/ads_file_server.cc, with
# istiod's request handling) serves a directory of xDS files and pushes what changes on SIGHUP; the
# agent subscribes and translates; an HTTP watcher (curl, as lua-resty-etcd) must see exactly the
# expected APISIX events, one revision per push, for each scenario: endpoint-only push, route
# change, cluster removal, a bad resource (NACK, nothing lost), a server restart (nothing visible).
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
SERVER_BIN=$2
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} ${SERVER_PID:-} ${WATCH_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export ETCDCTL_API=3
b64() { printf '%s' "$1" | base64 -w0; }

start_server() {  # start_server DIR LOG [PORT]
  "$SERVER_BIN" "$1" ${3:-} >"$2" 2>&1 &
  SERVER_PID=$!
  wait_for 10 grep -qs "listening on" "$2" || { cat "$2"; exit 1; }
  ADS=$(sed -n 's/listening on //p' "$2")
}
revision() { curl -s "http://$ENDPOINT/v3/kv/range" -d "{\"key\":\"$(b64 /apisix/routes)\"}" | jq -r .header.revision; }
# start_watch: an HTTP watch on /apisix/ from the next revision, into $work/watch.
start_watch() {
  curl -sN "http://$ENDPOINT/v3/watch" \
    -d "{\"create_request\":{\"key\":\"$(b64 /apisix/)\",\"range_end\":\"$(b64 /apisix0)\",\"start_revision\":$(( $(revision) + 1 ))}}" \
    >"$work/watch" &
  WATCH_PID=$!
  wait_for 5 grep -qs '"created":true' "$work/watch"
}
# events: "REVISION TYPE KEY" per event seen by the watcher so far.
events() {
  jq -r '.result as $r | ($r.events // [])[] | "\(.kv.mod_revision // $r.header.revision) \(.type // "PUT") \(.kv.key | @base64d)"' \
    "$work/watch" 2>/dev/null
}
push() {  # push: SIGHUP the server, wait until it says it pushed
  local n; n=$(grep -c "pushed version" "$SERVER_LOG" || true)
  kill -HUP "$SERVER_PID"
  wait_for 5 bash -c "[ \$(grep -c 'pushed version' '$SERVER_LOG') -gt $n ]"
}

run() {
  local protocol=$1 dir="$work/$1"
  mkdir -p "$dir"; cp "$EXAMPLES"/*.json "$dir/"
  SERVER_LOG="$work/$protocol-server.log"; LOG="$work/$protocol-agent.log"
  start_server "$dir" "$SERVER_LOG"
  POD_NAME=details-v1-abc POD_NAMESPACE=default INSTANCE_IP=10.244.0.12 \
    "$AGENT_BIN" sidecar --provisioner xds-v3-grpc --xds-config-source "grpc://$ADS" --xds-protocol "$protocol" \
    --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$LOG" 2>&1 &
  AGENT_PID=$!
  wait_for 20 grep -qs "ready in" "$LOG" || { cat "$LOG"; exit 1; }
  ENDPOINT=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$LOG" | head -1)

  check "$protocol: the node id follows the pod environment" \
    grep -q "as sidecar~10.244.0.12~details-v1-abc.default~default.svc.cluster.local" "$LOG"
  check "$protocol: ready after the first complete round (5 routes, 3 upstreams)" \
    test "$(line_of "$LOG" '5 routes, 3 upstreams')" -lt "$(line_of "$LOG" 'ready in')"
  routes=$(timeout 10 etcdctl --endpoints="$ENDPOINT" get --prefix /apisix/routes/ --keys-only | grep -c . || true)
  check "$protocol: etcdctl sees them (placeholder + 5 routes: $routes)" test "$routes" -eq 6
  nodes=$(timeout 10 etcdctl --endpoints="$ENDPOINT" get --prefix /apisix/upstreams/ --print-value-only | grep -o '"host":"10.244.0.1[12]"' | wc -l)
  check "$protocol: the EDS endpoints came by name (2 healthy reviews nodes)" test "$nodes" -eq 2
  start_watch
  local r0; r0=$(revision)

  # Endpoint-only push: one upstream changes, at the next revision, and nothing else.
  jq '(.resources[] | select(.clusterName | startswith("outbound|9080||ratings")) | .endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address) = "10.244.0.22"' \
    "$EXAMPLES/endpoints.json" >"$dir/endpoints.json.new" && mv "$dir/endpoints.json.new" "$dir/endpoints.json"
  push
  check "$protocol: endpoint push → exactly one event" wait_for 5 test "$(events | wc -l)" -eq 1
  set -- $(events)
  check "$protocol: revision $1 = $((r0 + 1)), $2 /apisix/upstreams/…" \
    bash -c "[ '$1' = '$((r0 + 1))' ] && [ '$2' = PUT ] && [[ '$3' == /apisix/upstreams/* ]]"
  check "$protocol: the upstream now holds 10.244.0.22" \
    bash -c "etcdctl --endpoints=$ENDPOINT get '$3' --print-value-only | grep -q '\"host\":\"10.244.0.22\"'"

  # Route change: one route changes at the next revision.
  jq '(.resources[0].virtualHosts[] | select(.name | startswith("ratings")) | .routes[0].match.path) = "/ratings/v2"' \
    "$EXAMPLES/routes.json" >"$dir/routes.json.new" && mv "$dir/routes.json.new" "$dir/routes.json"
  push
  check "$protocol: route change → one more event" wait_for 5 test "$(events | wc -l)" -eq 2
  set -- $(events | tail -1)
  check "$protocol: a PUT of a route at r0+2 with the new path" \
    bash -c "[ '$1' = '$((r0 + 2))' ] && [ '$2' = PUT ] && [[ '$3' == /apisix/routes/* ]] && \
             etcdctl --endpoints=$ENDPOINT get '$3' --print-value-only | grep -q '/ratings/v2'"

  # Cluster removal: httpbin's cluster and its virtual host go; their upstream and route are deleted.
  jq 'del(.resources[] | select(.name == "outbound|80||httpbin.org"))' "$EXAMPLES/clusters.json" >"$dir/c.new"
  jq '(.resources[0].virtualHosts) |= map(select(.name != "allow_any")) |
      (.resources[0].virtualHosts[] | select(.name | startswith("ratings")) | .routes[0].match.path) = "/ratings/v2"' \
    "$EXAMPLES/routes.json" >"$dir/r.new"
  mv "$dir/c.new" "$dir/clusters.json"; mv "$dir/r.new" "$dir/routes.json"
  push
  check "$protocol: cluster removal → two DELETEs" wait_for 5 test "$(events | grep -c DELETE)" -eq 2
  check "$protocol: …of one route and one upstream, nothing else" \
    bash -c "[ \"\$(events_of '$work/watch' | tail -2 | awk '{print \$2, \$3}' | sed 's#/[^/]*\$##' | sort | tr '\n' ' ')\" = 'DELETE /apisix/routes DELETE /apisix/upstreams ' ]"
  local r1; r1=$(revision)

  # A bad resource (SIGUSR1: the server pushes its clusters plus a nameless one): NACKed with its
  # reason, the good ones kept, nothing visible to APISIX.
  kill -USR1 "$SERVER_PID"
  check "$protocol: the server got a NACK naming the bad resource" wait_for 5 grep -q "NACK .*Cluster.*has no name" "$SERVER_LOG"
  sleep 0.5
  check "$protocol: nothing changed for APISIX (revision $r1)" test "$(revision)" = "$r1"

  # Server restart on the same port: the agent reconnects; APISIX sees nothing.
  local port=${ADS##*:}
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  check "$protocol: the control plane going away is noticed" wait_for 10 grep -q "xds-v3-grpc: reconnecting" "$LOG"
  check "$protocol: the last good configuration is still served" test "$(revision)" = "$r1"
  start_server "$dir" "$SERVER_LOG.2" "$port"
  check "$protocol: the agent reconnects" wait_for 15 grep -q "stream 1 opened" "$SERVER_LOG.2"
  sleep 1
  check "$protocol: and nothing is visible to APISIX (revision $r1, $(events | wc -l) events)" \
    bash -c "[ '$(revision)' = '$r1' ] && [ \$(wc -l < <(events_of '$work/watch')) -eq 4 ]"
  kill "$WATCH_PID" 2>/dev/null; WATCH_PID=""
  kill -TERM "$AGENT_PID"
  check "$protocol: SIGTERM stops the agent" wait "$AGENT_PID"
  AGENT_PID=""
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
line_of() { grep -n "$2" "$1" | head -1 | cut -d: -f1; }
events_of() {
  jq -r '.result as $r | ($r.events // [])[] | "\(.kv.mod_revision // $r.header.revision) \(.type // "PUT") \(.kv.key | @base64d)"' "$1"
}
export -f events_of
run sotw
run delta
finish
