#!/usr/bin/env bash
# xds-v3-grpc end to end: a management server serves examples/xds over ADS; the agent subscribes,
# translates and serves the same routes and upstreams the file provisioner would.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
SERVER_BIN=$2
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} ${SERVER_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

"$SERVER_BIN" "$EXAMPLES" >"$work/server.log" 2>&1 &
SERVER_PID=$!
wait_for 10 grep -qs "listening on" "$work/server.log" || { cat "$work/server.log"; exit 1; }
ads=$(sed -n 's/listening on //p' "$work/server.log")

POD_NAME=details-v1-abc POD_NAMESPACE=default INSTANCE_IP=10.244.0.12 \
  "$AGENT_BIN" sidecar --provisioner xds-v3-grpc --xds-config-source "grpc://$ads" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
  >"$work/agent.log" 2>&1 &
AGENT_PID=$!
wait_for 20 grep -qs "ready in" "$work/agent.log" || { cat "$work/agent.log"; exit 1; }
ENDPOINT=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/agent.log" | head -1)
export ETCDCTL_API=3

check "the node id follows the pod environment" grep -q "as sidecar~10.244.0.12~details-v1-abc.default~default.svc.cluster.local" "$work/agent.log"
check "routes and upstreams arrive over ADS (5 routes, 3 upstreams)" wait_for 15 grep -q "5 routes, 3 upstreams" "$work/agent.log"
routes=$(timeout 10 etcdctl --endpoints="$ENDPOINT" get --prefix /apisix/routes/ --keys-only | grep -c . || true)
check "etcdctl sees them (placeholder + 5 routes: $routes)" test "$routes" -eq 6
nodes=$(timeout 10 etcdctl --endpoints="$ENDPOINT" get --prefix /apisix/upstreams/ --print-value-only | grep -o '"host":"10.244.0.1[12]"' | wc -l)
check "the EDS endpoints came by name (2 reviews nodes)" test "$nodes" -eq 2

kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
check "the control plane going away is noticed" wait_for 10 grep -q "xds-v3-grpc: reconnecting" "$work/agent.log"
check "the last good configuration is still served" test \
  "$(timeout 10 etcdctl --endpoints="$ENDPOINT" get --prefix /apisix/routes/ --keys-only | grep -c .)" -eq 6
kill -TERM "$AGENT_PID"
check "SIGTERM stops the agent while it is reconnecting" wait "$AGENT_PID"
AGENT_PID=""
finish
