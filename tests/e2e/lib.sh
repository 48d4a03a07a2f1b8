# Helpers for end-to-end tests: bounded waits, assertions, and an agent started on a free port.
set -euo pipefail

FAILURES=0
PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILURES=$((FAILURES + 1)); echo "FAIL - $*"; }
check() { # check "description" command...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
# unused_port [COUNT]: a port P, with P..P+COUNT-1 all unused now, for a server the test starts on a
# fixed port. Below the system's ephemeral range: concurrent tests' outgoing connections take their
# ports from that range, and one holding P kept a server from binding it (bundle_mode's APISIX,
# under the full suite).
unused_port() {
  local count=${1:-1} low high p i
  read -r low high </proc/sys/net/ipv4/ip_local_port_range
  while :; do
    p=$((10000 + RANDOM % (low - 10000 - count)))
    for ((i = 0; i < count; i++)); do
      [ -n "$(ss -Htan "( sport = :$((p + i)) )")" ] && continue 2
    done
    echo "$p"
    return
  done
}
# wait_for SECONDS command...: retries every 0.1 s until the command succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}
finish() {
  echo "$PASSES passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ]
}

# start_agent AGENT_BIN WATCH_PATH LOG: sets AGENT_PID and ENDPOINT (127.0.0.1:<free port>).
start_agent() {
  local bin=$1 watch=$2 log=$3
  "$bin" sidecar --xds-watch-files "$watch" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --log-level debug >"$log" 2>&1 &
  AGENT_PID=$!
  wait_for 20 grep -qs "ready in" "$log" || { cat "$log"; echo "agent did not become ready"; exit 1; }
  ENDPOINT=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -1)
}

# count_frames FILE: FILE holds a chunked body as `curl --raw` saw it. Prints the number of chunks
# if every chunk is exactly one "<json>\n" message, 0 otherwise.
count_frames() {
  local LC_ALL=C line msg size n=0
  while IFS= read -r line; do
    line=${line%$'\r'}
    [[ $line =~ ^[0-9a-f]+$ ]] || { echo 0; return; }
    size=$((16#$line))
    [ "$size" -eq 0 ] && break
    IFS= read -r msg || { echo 0; return; }
    [ $((${#msg} + 1)) -eq "$size" ] && [ "${msg:0:1}" = "{" ] || { echo 0; return; }
    IFS= read -r line  # the CRLF closing the chunk
    n=$((n + 1))
  done <"$1"
  echo "$n"
}

skip() { echo "SKIP: $*"; exit 77; }

# require_data_path_peers MODULES_DIR: skips (77) unless what the stand-in data path needs is
# here: nginx-original-dst built beside the agent, Debian's nginx with its lua and stream modules,
# python3-yaml and lua-cjson (scripts/setup --test installs them all).
require_data_path_peers() {
  local modules=$1
  [ -f "$modules/ngx_http_original_dst_module.so" ] && [ -f "$modules/ngx_stream_original_dst_module.so" ] ||
    skip "nginx-original-dst was not built (needs nginx-dev)"
  command -v nginx >/dev/null || skip "nginx is not installed (scripts/setup --test installs it)"
  [ -f /usr/lib/nginx/modules/ngx_http_lua_module.so ] || skip "libnginx-mod-http-lua is not installed"
  [ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || skip "libnginx-mod-stream is not installed"
  python3 -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"
  dpkg-query -W -f='${Status}' lua-cjson 2>/dev/null | grep -q "install ok installed" || skip "lua-cjson is not installed"
}
# netns_setup TAG: a "pod" and a "peer" network namespace ($pod, $peer) joined by a veth pair —
# pod 10.77.0.1 and fd77::1, peer 10.77.0.2 and fd77::2, all links up — and $work (mode 755: nginx
# workers and the proxy user read from it). At exit the processes in $PIDS, both namespaces and
# $work are removed. Skips (exit 77, with the reason) where namespaces or iptables are unavailable.
netns_setup() {
  local tag=$1
  [ "$(id -u)" -eq 0 ] || skip "needs root to make network namespaces"
  command -v iptables-restore >/dev/null || skip "iptables is not installed (scripts/setup --test installs it)"
  pod=${tag}pod$$; peer=${tag}peer$$
  ip netns add "$pod" 2>/dev/null || skip "cannot create network namespaces here (ip netns add failed)"
  work=$(mktemp -d)
  trap netns_cleanup EXIT
  ip netns exec "$pod" iptables -t nat -S >/dev/null 2>&1 || skip "iptables cannot program a network namespace here"
  local link=${tag}$$
  ip netns add "$peer"
  ip link add "${link}p" type veth peer name "${link}q"
  ip link set "${link}p" netns "$pod"; ip link set "${link}q" netns "$peer"
  ip -n "$pod" addr add 10.77.0.1/24 dev "${link}p"; ip -n "$peer" addr add 10.77.0.2/24 dev "${link}q"
  ip -n "$pod" addr add fd77::1/64 dev "${link}p" nodad; ip -n "$peer" addr add fd77::2/64 dev "${link}q" nodad
  for ns in "$pod" "$peer"; do ip -n "$ns" link set lo up; done
  ip -n "$pod" link set "${link}p" up; ip -n "$peer" link set "${link}q" up
  chmod 755 "$work"
}
# Runs under set -e from the EXIT trap, also after a skip before the peer existed: nothing in it
# may fail, or a skip (77) would be reported as a failure.
netns_cleanup() {
  if [ -n "${PIDS:-}" ]; then kill $PIDS 2>/dev/null || true; fi
  wait 2>/dev/null || true
  ip netns del "$pod" 2>/dev/null || true
  ip netns del "$peer" 2>/dev/null || true
  rm -rf "$work"
}
