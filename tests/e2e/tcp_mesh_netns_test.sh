#!/usr/bin/env bash
# TCP through the mesh, with real peers: a "pod" and a "peer" network namespace, the agent's
# iptables interception in the pod (every TCP port), the agent in bundle mode running Debian's nginx
# with nginx-original-dst's http and stream modules (the mesh front) and an APISIX stand-in that
# renders APISIX's HTTP and stream subsystems from the agent's config.yaml and serves the agent's
# routes and stream routes as APISIX matches them (tests/bundle/). The xDS (tests/tcp_mesh/xds) is
# an Istio-shaped sidecar: TCP services on a VIP and without one, a 50/50 TCP split, server-first
# services, ports carrying both HTTP and TCP, HTTP services, virtualOutbound and virtualInbound.
#   1. TCP services reached through the mesh: bytes both ways, half-close, a server-first protocol
#      (on a TCP port at once; on a port that also carries HTTP after the detection timeout),
#      weighted clusters splitting connections, inbound TCP to the application.
#   2. HTTP in the same run: routed by APISIX's rules (a route's header added), outbound and inbound.
#   3. The outbound policy: ALLOW_ANY passes unknown destinations through (IPv4 and IPv6);
#      REGISTRY_ONLY — the xDS file edited while everything runs, APISIX not restarted — closes them.
#   4. No loop: a connection made straight to a capture port is closed.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULES=$(dirname "$AGENT_BIN")

require_data_path_peers "$MODULES"
netns_setup tcp
install -m 644 "$MODULES/ngx_http_original_dst_module.so" "$MODULES/ngx_stream_original_dst_module.so" "$work/"
mkdir -p "$work/standin" "$work/xds" && cp "$HERE/bundle/apisix_standin.py" "$HERE/bundle/standin_router.lua" "$work/standin/"
cp "$HERE/tcp_mesh/xds/"*.json "$work/xds/"
chmod -R a+rX "$work/standin"
PEER="$HERE/tcp_mesh/tcp_peer.py"
# Service VIPs (10.96.0.0/16) route to the peer, as a cluster network would; the interception
# redirects before they leave the pod.
ip -n "$pod" route add 10.96.0.0/16 via 10.77.0.2

serve_in() { # serve_in NS NAME PORT [first]
  ip netns exec "$1" python3 "$PEER" serve "$2" "$3" ${4:-} >/dev/null 2>&1 &
  PIDS="${PIDS:-} $!"
}
serve_in "$peer" echo-a 7001
serve_in "$peer" echo-b 7002
serve_in "$peer" mysql 3306 first
serve_in "$peer" external 8888
serve_in "$pod" pod-db 5432 first
mkdir -p "$work/apps/logs" "$work/peerhttp/logs"
app() { echo "server { listen $1; listen [::]:$1; location / { return 200 \"$2 $1 route=\$http_x_route host=\$host\\n\"; } }"; }
for spec in "$pod apps $(app 8080 app)" "$peer peerhttp $(app 80 svc-b)"; do
  set -- $spec
  printf '%s\n' "daemon off;" "pid $work/$2/logs/nginx.pid;" "error_log $work/$2/logs/error.log;" \
    "events {} http { access_log off; ${*:3} }" >"$work/$2/nginx.conf"
  ip netns exec "$1" nginx -p "$work/$2" -c "$work/$2/nginx.conf" >/dev/null 2>&1 &
  PIDS="${PIDS:-} $!"
done
wait_for 5 ip netns exec "$peer" bash -c 'exec 3<>/dev/tcp/10.77.0.2/7002' || { echo "the peers did not start"; exit 1; }

check "iptables interception applies" ip netns exec "$pod" "$AGENT_BIN" iptables --inbound-ports "*" \
  --outbound-ports "*" --ipv6 on

home="$work/apisix"
mkdir -p "$home/conf" && chmod -R 755 "$home"
ip netns exec "$pod" "$AGENT_BIN" sidecar --run-mode bundle --xds-watch-files "$work/xds" \
  --apisix-bin-path "$work/standin/apisix_standin.py" --apisix-openresty-path "$(command -v nginx)" \
  --apisix-home-path "$home" --drain-duration 0 --original-dst-module "$work/ngx_http_original_dst_module.so" \
  --protocol-detection-timeout-ms 300 \
  --grpc-listen 127.0.0.1:2379 --health-listen 127.0.0.1:15021 >"$work/agent.log" 2>&1 &
AGENT=$!
PIDS="${PIDS:-} $AGENT"
wait_for 20 grep -qs "APISIX serves on port 9080" "$work/agent.log" || { cat "$work/agent.log"; exit 1; }
check "the agent says the mesh front is on" grep -q "mesh front on" "$work/agent.log"
check "config.yaml turns on APISIX's stream proxy behind the front" \
  grep -q "proxy_mode: http&stream" "$home/conf/config.yaml"
check "the front's table is written" grep -q "^outbound 10.96.0.7:7000 tcp$" "$home/mesh-front/table"
# The front's private hops are unix sockets only APISIX's workers (nobody) can reach: a forged
# PROXY header from any other process could otherwise name any destination.
for socket in http-outbound http-inbound passthrough; do
  check "another user cannot reach the front's $socket socket (permission denied)" bash -c "ip netns exec $pod \
    setpriv --reuid=1000 --regid=1000 --clear-groups /usr/bin/python3 -c \
    'import socket; socket.socket(socket.AF_UNIX).connect(\"$home/mesh-front/$socket.sock\")' 2>&1 | grep -q PermissionError"
  check "... APISIX's workers can" ip netns exec "$pod" setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c \
    "import socket; socket.socket(socket.AF_UNIX).connect('$home/mesh-front/$socket.sock')"
done
check "no tcp_proxy chain is left out as \"only HTTP\"" bash -c "! grep -q 'only HTTP connection managers are translated' $work/agent.log"

call() { ip netns exec "$pod" python3 "$PEER" call "$@" 2>&1; }
peer_call() { ip netns exec "$peer" python3 "$PEER" call "$@" 2>&1; }
expect() { # expect NAME WANT COMMAND...: the command prints exactly WANT
  local name=$1 want=$2; shift 2
  local got; got=$("$@")
  if [ "$got" = "$want" ]; then check "$name" true; else check "$name (got: $(printf %q "$got"))" false; fi
}
nl=$'\n'
closed() { # closed NAME CALL...: the connection is closed before any byte of a server arrives
  local name=$1; shift
  local got; got=$("$@")
  case "$got" in ""|"["*"Error]") check "$name" true ;; *) check "$name (got: $(printf %q "$got"))" false ;; esac
}

# 1. TCP.
expect "TCP on a VIP: bytes both ways, then half-close: the answer after the client's FIN still arrives" \
  "echo-a: ping${nl}echo-a: bye" call 10.96.0.7 7000 ping
expect "a server-first protocol on a TCP port: the greeting comes without a client byte" \
  "mysql: hello${nl}mysql: ping${nl}mysql: bye" call 10.96.0.99 3306
start=$(date +%s%N)
expect "a server-first protocol on a port that also carries HTTP: TCP after the detection timeout" \
  "mysql: hello${nl}mysql: ping${nl}mysql: bye" call 10.96.0.11 3307
waited=$(( ($(date +%s%N) - start) / 1000000 ))
check "... which took the detection timeout (300 ms), not a hang (${waited} ms)" test "$waited" -ge 250 -a "$waited" -lt 4000
expect "TCP on a port that also carries HTTP: not HTTP, so proxied as TCP" \
  "echo-a: SELECT 1${nl}echo-a: bye" call 10.96.0.10 9000 "SELECT 1"
a=0; b=0
for _ in $(seq 40); do
  case "$(call 10.96.0.8 7000 x)" in echo-a:*) a=$((a + 1)) ;; echo-b:*) b=$((b + 1)) ;; esac
done
check "weighted clusters 50/50 split connections (echo-a $a, echo-b $b of 40)" test $((a + b)) -eq 40 -a "$a" -ge 10 -a "$b" -ge 10
expect "inbound TCP reaches the application's port (server-first)" \
  "pod-db: hello${nl}pod-db: ping${nl}pod-db: bye" peer_call 10.77.0.1 5432

# 2. HTTP beside it.
http_get() { ip netns exec "$1" curl -s -m 5 "${@:2}" 2>&1 || true; }
expect "HTTP on port 80: APISIX's route by Host (its header added)" \
  "svc-b 80 route=svc-b host=svc-b" http_get "$pod" http://10.77.0.2:80/ -H 'Host: svc-b'
expect "HTTP on a port that also carries TCP: sniffed and routed by APISIX" \
  "svc-b 80 route=svc-b-9000 host=10.96.0.10" http_get "$pod" http://10.96.0.10:9000/
expect "HTTP for a host the mesh does not know on port 80: ALLOW_ANY passes it through" \
  "svc-b 80 route= host=api.example.com" http_get "$pod" http://10.77.0.2:80/ -H 'Host: api.example.com'
expect "inbound HTTP reaches the application" "app 8080 route= host=10.77.0.1" http_get "$peer" http://10.77.0.1:8080/

# 3. The outbound policy.
expect "ALLOW_ANY: TCP to a destination no listener claims passes through" \
  "external: ping${nl}external: bye" call 10.77.0.2 8888 ping
expect "ALLOW_ANY over IPv6" "external: ping${nl}external: bye" call fd77::2 8888 ping
closed "the loop guard (virtualOutbound-blackhole, port 15001) closes" call 10.77.0.2 15001 ping
# 4. Straight to the capture port: no original destination, closed (no loop).
closed "a connection made straight to the capture port is closed" call 127.0.0.1 9080 ping

# REGISTRY_ONLY: virtualOutbound's catch-all now goes to BlackHoleCluster. The file changes under
# the running agent; the front re-reads its table; APISIX is not restarted.
# APISIX's own nginx master (its pid file): "the newest nginx master" could be another test's.
apisix_master() { wait_for 5 test -s "$home/logs/nginx.pid" && cat "$home/logs/nginx.pid"; }
nginx_pid=$(apisix_master)
check "APISIX's nginx master is known (its pid file: $nginx_pid)" test -n "$nginx_pid"

python3 - "$work/xds/listeners.json" <<'PY'
import json, sys
path = sys.argv[1]
doc = json.load(open(path))
for listener in doc["resources"]:
    if listener["name"] == "virtualOutbound":
        for chain in listener["filterChains"]:
            if chain["name"] == "virtualOutbound-catchall-tcp":
                chain["filters"][0]["typedConfig"]["cluster"] = "BlackHoleCluster"
doc["versionInfo"] = "2"
json.dump(doc, open(path + ".new", "w"))
PY
mv "$work/xds/listeners.json.new" "$work/xds/listeners.json"
wait_for 10 grep -q "^outbound \*:\* blackhole$" "$home/mesh-front/table" || cat "$home/mesh-front/table"
sleep 1.5  # each worker checks the table at most once a second
closed "REGISTRY_ONLY: TCP to an unknown destination is closed" call 10.77.0.2 8888 ping
expect "... while the mesh's own TCP services still work" "echo-a: ping${nl}echo-a: bye" call 10.96.0.7 7000 ping
check "... and APISIX was not restarted" test "$(apisix_master)" = "$nginx_pid"

# A table that does not parse is refused; the last good one stays in force.
cp "$home/mesh-front/table" "$work/good.table"
printf 'outbound 10.96.0.7:7000 teleport\n' >"$home/mesh-front/table"
sleep 1.5
expect "a broken table is refused: the previous one stays in force" "echo-a: ping${nl}echo-a: bye" call 10.96.0.7 7000 ping
check "... with the line and the reason in nginx's error log" grep -q 'mesh_front_table .*line 1: the action is' "$work/agent.log"
cp "$work/good.table" "$home/mesh-front/table"

kill -TERM "$AGENT"; wait_for 15 bash -c "! kill -0 $AGENT 2>/dev/null"
check "cleanup-iptables" ip netns exec "$pod" "$AGENT_BIN" cleanup-iptables --ipv6 on
finish
