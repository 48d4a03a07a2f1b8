#!/usr/bin/env bash
# Original destinations on stock nginx, with real peers: a "pod" and a "peer" network namespace
# joined by a veth pair (IPv4 and IPv6), the agent's own iptables interception in the pod, and
# Debian's nginx loading nginx-original-dst (built by the normal build, beside the agent).
#   1. The module's variables, in http and in stream: the original destination of redirected
#      connections, outbound and inbound, IPv4 and IPv6; empty for connections that were not.
#   2. The data path rendered by the agent in bundle mode (an APISIX stand-in: the agent's
#      config.yaml rendered into nginx.conf as APISIX's template does, the agent's routes evaluated
#      as APISIX does, tests/original_dst/): listener binding (a two-port application and an
#      inbound catch-all port each reach their own port), outbound routing by Host, ALLOW_ANY and
#      unknown ports passed through to the original destination (IPv4 and IPv6), a header cannot
#      move a connection elsewhere, a direct connection gets 502, and no loop (every request is one
#      line of APISIX's access log).
#      HTTP only (--mesh-front off): the capture ports are APISIX's HTTP ports, as where the stream
#      module is missing; the mesh front (TCP) is tcp_mesh_netns_test.sh.
#   3. Without the module (--original-dst-module none): nothing points at APISIX's capture ports,
#      pass-through routes are dropped with a warning, inbound shadowing is reported: no loop.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULES=$(dirname "$AGENT_BIN")

require_data_path_peers "$MODULES"
netns_setup od
# nginx's workers run as nobody: everything they read lives in world-readable directories ($work is).
install -m 644 "$MODULES/ngx_http_original_dst_module.so" "$MODULES/ngx_stream_original_dst_module.so" "$work/"
mkdir -p "$work/standin" && cp "$HERE/bundle/apisix_standin.py" "$HERE/bundle/standin_router.lua" "$work/standin/"
chmod -R a+rX "$work/standin"

# nginx_in NS NAME CONF: an nginx of its own (prefix $work/NAME) in a namespace; waits for its pid.
nginx_in() {
  local ns=$1 name=$2
  mkdir -p "$work/$name/logs"
  printf '%s\n' "daemon off;" "pid $work/$name/logs/nginx.pid;" "error_log $work/$name/logs/error.log;" "$3" \
    >"$work/$name/nginx.conf"
  ip netns exec "$ns" nginx -p "$work/$name" -c "$work/$name/nginx.conf" >"$work/$name/out.log" 2>&1 &
  PIDS="${PIDS:-} $!"
  wait_for 5 test -s "$work/$name/logs/nginx.pid" || { cat "$work/$name/out.log" "$work/$name/logs/error.log"; exit 1; }
}
stop_nginx() { kill -QUIT "$(cat "$work/$1/logs/nginx.pid")"; wait_for 5 bash -c "! kill -0 $(cat "$work/$1/logs/nginx.pid") 2>/dev/null"; }
# An application that says who it is and what it was asked.
app_server() { # app_server PORT NAME
  echo "server { listen $1; listen [::]:$1; location / { return 200 \"$2 $1 route=\$http_x_route host=\$host\\n\"; } }"
}
http_get() { # http_get NS URL [curl args...]: the body, or the status code when it is not 200
  local ns=$1 url=$2; shift 2
  ip netns exec "$ns" curl -s -m 5 -o "$work/body" -w '%{http_code}' "$@" "$url" >"$work/code" 2>/dev/null || true
  if [ "$(cat "$work/code")" = 200 ]; then cat "$work/body"; else echo "status $(cat "$work/code")"; fi
}

# The applications: the pod serves 8080 and 9090 (two ports with Istio inbound chains) and 7000
# (no chain: the inbound catch-all); the peer is svc-b on 80 and an address the mesh does not
# know on 8888.
nginx_in "$pod" apps "events {} http { access_log off; $(app_server 8080 app) $(app_server 9090 app) $(app_server 7000 app) }"
nginx_in "$peer" peer "events {} http { access_log off; $(app_server 80 svc-b) $(app_server 8888 external) }"

check "iptables interception applies" ip netns exec "$pod" "$AGENT_BIN" iptables --inbound-ports "*" \
  --outbound-ports "*" --ipv6 on

# 1. The module's variables.
vars='$original_dst|$original_dst_addr|$original_dst_port'
nginx_in "$pod" vars "load_module $work/ngx_http_original_dst_module.so;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
load_module $work/ngx_stream_original_dst_module.so;
events {}
http { access_log off; server { listen 9080; listen [::]:9080; location / { return 200 \"http $vars\\n\"; } } }
stream { server { listen 9081; listen [::]:9081; return \"stream $vars\\n\"; } }"
check "http, outbound IPv4: the original destination" \
  test "$(http_get "$pod" http://10.77.0.2:80/)" = "http 10.77.0.2:80|10.77.0.2|80"
check "http, outbound IPv6: in brackets with the port, bare without" \
  test "$(http_get "$pod" 'http://[fd77::2]:8888/')" = "http [fd77::2]:8888|fd77::2|8888"
check "http, a direct connection: empty" test "$(http_get "$pod" http://127.0.0.1:9080/)" = "http ||"
stream_get() { # stream_get NS IP PORT [as-user]
  local run=(ip netns exec "$1")
  [ -n "${4:-}" ] && run+=(setpriv --reuid="$4" --regid="$4" --clear-groups)
  "${run[@]}" timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3 && cat <&3" 2>/dev/null
}
check "stream, inbound IPv4: the original destination" \
  test "$(stream_get "$peer" 10.77.0.1 8080)" = "stream 10.77.0.1:8080|10.77.0.1|8080"
check "stream, inbound IPv6" test "$(stream_get "$peer" fd77::1 9090)" = "stream [fd77::1]:9090|fd77::1|9090"
# The proxy user's connections are not captured (as APISIX's own): a direct connection.
check "stream, a direct connection: empty" test "$(stream_get "$pod" 10.77.0.1 9081 65534)" = "stream ||"
stop_nginx vars

# 2. The agent in bundle mode, APISIX (the stand-in) loading the module the agent found.
run_agent() { # run_agent NAME ARGS...: bundle mode in the pod; waits until APISIX serves.
  local name=$1; shift
  mkdir -p "$work/$name/conf" && chmod -R 755 "$work/$name"
  ip netns exec "$pod" "$AGENT_BIN" sidecar --run-mode bundle --xds-watch-files "$HERE/original_dst/xds" \
    --apisix-bin-path "$work/standin/apisix_standin.py" --apisix-openresty-path "$(command -v nginx)" \
    --apisix-home-path "$work/$name" --drain-duration 0 \
    --grpc-listen 127.0.0.1:2379 --health-listen 127.0.0.1:15021 "$@" >"$work/$name.log" 2>&1 &
  AGENT=$!
  PIDS="${PIDS:-} $AGENT"
  wait_for 20 grep -qs "APISIX serves on port 9080" "$work/$name.log" || { cat "$work/$name.log"; exit 1; }
}
stop_agent() { kill -TERM "$AGENT"; wait_for 15 bash -c "! kill -0 $AGENT 2>/dev/null"; }
# Lines of APISIX's access log (the agent's stdout), once nginx's buffer (flush=3) has been written.
requests() { sleep 3.5; grep -cE '^908[01] ' "$work/$1.log" || true; }

run_agent with --original-dst-module "$work/ngx_http_original_dst_module.so" --mesh-front off
check "config.yaml loads the module" grep -q "load_module $work/ngx_http_original_dst_module.so;" "$work/with/conf/config.yaml"
before=$(requests with)
check "outbound by Host: svc-b's route (its header added)" \
  test "$(http_get "$pod" http://10.77.0.2:80/ -H 'Host: svc-b')" = "svc-b 80 route=svc-b host=svc-b"
check "outbound, a host the mesh does not know (ALLOW_ANY): passed through to the original destination" \
  test "$(http_get "$pod" http://10.77.0.2:80/ -H 'Host: api.example.com')" = "svc-b 80 route= host=api.example.com"
check "outbound, a port without a listener: the catch-all passes it through" \
  test "$(http_get "$pod" http://10.77.0.2:8888/)" = "external 8888 route= host=10.77.0.2"
check "outbound IPv6 pass-through" \
  test "$(http_get "$pod" 'http://[fd77::2]:8888/')" = "external 8888 route= host=[fd77::2]"
check "a Host header naming another destination changes nothing: the kernel's original destination is used" \
  test "$(http_get "$pod" http://10.77.0.2:8888/ -H 'Host: 10.77.0.2:80' -H 'X-Original-Dst: 10.77.0.2:80')" \
       = "external 8888 route= host=10.77.0.2"
check "inbound 8080 reaches the application's 8080" test "$(http_get "$peer" http://10.77.0.1:8080/)" = "app 8080 route= host=10.77.0.1"
check "inbound 9090 reaches 9090, not 8080 (no shadowing)" test "$(http_get "$peer" http://10.77.0.1:9090/)" = "app 9090 route= host=10.77.0.1"
check "inbound 7000 (no chain of its own): the inbound catch-all passes it through" \
  test "$(http_get "$peer" http://10.77.0.1:7000/)" = "app 7000 route= host=10.77.0.1"
check "inbound IPv6 to 9090" test "$(http_get "$peer" 'http://[fd77::1]:9090/')" = "app 9090 route= host=[fd77::1]"
check "a connection that was not redirected has no original destination: 502, not a loop" \
  test "$(http_get "$pod" http://127.0.0.1:9080/ -H 'Host: api.example.com')" = "status 502"
sleep 0.5  # the access log is written after the response
after=$(requests with)
check "no loop: each of the 10 requests is one line of APISIX's access log ($((after - before)))" test $((after - before)) -eq 10
stop_agent

# 3. Without the module: degraded, never looping.
run_agent without --original-dst-module none
check "the agent says what is degraded" grep -q "no original-destination module" "$work/without.log"
check "the pass-through routes are dropped, saying why" \
  grep -q "PassthroughCluster: type: passes traffic through to the original destination, which needs" "$work/without.log"
check "inbound shadowing is reported" grep -q "share APISIX's inbound port without original destinations" "$work/without.log"
check "no upstream points at APISIX's capture ports" \
  bash -c "! grep -qE '127\.0\.0\.1\",\"port\":908[01]|\"port\":908[01],\"host\":\"127' $work/without/conf/objects.json"
before=$(requests without)
check "outbound by Host still routes" \
  test "$(http_get "$pod" http://10.77.0.2:80/ -H 'Host: svc-b')" = "svc-b 80 route=svc-b host=svc-b"
check "an unknown host: 404 from APISIX, not a loop" \
  test "$(http_get "$pod" http://10.77.0.2:80/ -H 'Host: api.example.com')" = "status 404"
# Shadowing, as reported: the inbound routes of 8080 and 9090 match every inbound port alike; the
# direction is still bound ($server_port), so outbound traffic never reaches them.
check "inbound to 8080 reaches an application port (whichever inbound route APISIX tries first)" \
  grep -qE '^app (8080|9090) ' <(http_get "$peer" http://10.77.0.1:8080/)
sleep 0.5
after=$(requests without)
check "no loop: each of the 3 requests is one line of APISIX's access log ($((after - before)))" test $((after - before)) -eq 3
stop_agent
check "cleanup-iptables" ip netns exec "$pod" "$AGENT_BIN" cleanup-iptables --ipv6 on
finish
