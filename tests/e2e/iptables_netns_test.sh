#!/usr/bin/env bash
# Traffic interception with real iptables and ip6tables: two network namespaces made by the test (a
# "pod" and a "peer" joined by a veth pair, IPv4 and IPv6). After `iptables`, the pod's outbound connections reach APISIX's
# 9080 and inbound ones 9081 with the original destination recoverable there (SO_ORIGINAL_DST);
# excluded ports, ssh, the agent's own ports and the proxy user's traffic are left alone; a re-run
# changes nothing; `cleanup-iptables` restores the nat table exactly and is safe to run twice.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
SERVER_BIN=$2

netns_setup am

serve() {  # serve NS NAME PORT...
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$SERVER_BIN" "$name" "$@" >"$work/$name.log" 2>&1 &
  PIDS="${PIDS:-} $!"
  wait_for 5 grep -qs ready "$work/$name.log" || { cat "$work/$name.log"; exit 1; }
}
serve "$pod" apisix 9080 9081
serve "$pod" app 8000 7000 22 15021
serve "$peer" peer 80 15010
# fetch NS IP PORT [as-user]: the line the server at IP:PORT (or whoever got the connection) sends.
fetch() {
  local run=(ip netns exec "$1")
  [ -n "${4:-}" ] && run+=(setpriv --reuid="$4" --regid="$4" --clear-groups)
  "${run[@]}" timeout 5 bash -c "exec 3<>/dev/tcp/${2}/$3 && cat <&3" 2>/dev/null
}
# who NS IP PORT [as-user]: only "<server> <port>" (SO_ORIGINAL_DST needs conntrack, absent where
# no nat rules were ever loaded, as in the peer namespace).
who() { fetch "$@" | cut -d' ' -f1,2; }
nat() { ip netns exec "$pod" iptables-save -t nat | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }

check "before: outbound goes straight to the peer" test "$(who "$pod" 10.77.0.2 80)" = "peer 80"
nat >"$work/before"

flags=(--inbound-ports "*" --inbound-exclude-ports 7000 --outbound-ports "*" --outbound-exclude-ports 15010)
nat6() { ip netns exec "$pod" ip6tables-save -t nat | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'; }
nat6 >"$work/before6"
check "iptables applies" ip netns exec "$pod" "$AGENT_BIN" iptables "${flags[@]}" --ipv6 off
nat >"$work/after"
check "a re-run changes nothing" bash -c "ip netns exec $pod '$AGENT_BIN' iptables ${flags[*]@Q} --ipv6 off >/dev/null && \
  diff <(ip netns exec $pod iptables-save -t nat | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//') '$work/after'"
check "outbound reaches 9080, original destination recoverable" \
  test "$(fetch "$pod" 10.77.0.2 80)" = "apisix 9080 10.77.0.2:80"
check "an excluded outbound port is not captured" test "$(who "$pod" 10.77.0.2 15010)" = "peer 15010"
check "the proxy user's traffic is not captured" test "$(who "$pod" 10.77.0.2 80 65534)" = "peer 80"
check "inbound reaches 9081, original destination recoverable" \
  test "$(fetch "$peer" 10.77.0.1 8000)" = "apisix 9081 10.77.0.1:8000"
check "an excluded inbound port is not captured" test "$(fetch "$peer" 10.77.0.1 7000)" = "app 7000 10.77.0.1:7000"
check "ssh (22) is not captured" test "$(fetch "$peer" 10.77.0.1 22)" = "app 22 10.77.0.1:22"
check "the agent's health port is not captured by default" test "$(fetch "$peer" 10.77.0.1 15021)" = "app 15021 10.77.0.1:15021"

# IPv6: the same rules through ip6tables (the pod has a global IPv6 address: --ipv6 auto sees it).
check "iptables applies to IPv6 as well (auto-detected)" \
  bash -c "ip netns exec $pod '$AGENT_BIN' iptables ${flags[*]@Q} --ipv6 auto | grep -q '^ip6tables: '"
check "IPv6 outbound reaches 9080, original destination recoverable" \
  test "$(fetch "$pod" fd77::2 80)" = "apisix 9080 [fd77::2]:80"
check "IPv6 inbound reaches 9081, original destination recoverable" \
  test "$(fetch "$peer" fd77::1 8000)" = "apisix 9081 [fd77::1]:8000"
check "IPv6: the proxy user's traffic is not captured" test "$(who "$pod" fd77::2 80 65534)" = "peer 80"
check "cleanup-iptables removes what iptables added" ip netns exec "$pod" "$AGENT_BIN" cleanup-iptables --ipv6 on
check "the IPv6 nat table is as before" diff "$work/before6" <(nat6)
check "the nat table is as before" diff "$work/before" <(nat)
check "outbound goes straight to the peer again" test "$(who "$pod" 10.77.0.2 80)" = "peer 80"
out=$(ip netns exec "$pod" "$AGENT_BIN" cleanup-iptables --ipv6 off)
check "cleanup-iptables twice is harmless" grep -q "nothing of apisix-mesh-agent's to remove" <<<"$out"

# The checkout may be unreadable to nobody (a clone in a mktemp directory is 0700): run a copy,
# with copies of the libraries the build made (found through the binary's RUNPATH otherwise).
mkdir -p "$work/lib" && chmod 755 "$work/lib"
install -m 755 "$AGENT_BIN" "$work/agent"
ldd "$AGENT_BIN" | awk '$3 ~ /^\// && $3 !~ /^\/(usr|lib)/ {print $3}' | xargs -r -I{} install -m 644 {} "$work/lib/"
rc=0; err=$(ip netns exec "$pod" setpriv --reuid=65534 --regid=65534 --clear-groups \
  env LD_LIBRARY_PATH="$work/lib" "$work/agent" iptables --outbound-ports "*" 2>&1) || rc=$?
check "without privileges: a clear error (rc=$rc)" bash -c "[ $rc -eq 1 ] && grep -q 'needs root or CAP_NET_ADMIN' <<<'$err'"
rc=0; err=$("$AGENT_BIN" iptables --outbound-ports "80,http" --dry-run 2>&1) || rc=$?
check "a malformed port list is named (rc=$rc)" bash -c "[ $rc -eq 2 ] && grep -q '\"http\" is not a port' <<<'$err'"
check "the nat table is still as before" diff "$work/before" <(nat)
finish
