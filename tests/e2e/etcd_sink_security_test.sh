#!/usr/bin/env bash
# The etcd sink against an etcd member that asks for everything a production cluster may: TLS with
# client certificates (--client-cert-auth), user/password auth with short-lived tokens
# (--auth-token-ttl 2), and request limits below the agent's defaults (--max-txn-ops 16,
# --max-request-bytes 32 KiB). The agent must converge anyway, say why when it cannot (a wrong
# password), renew its token, and leave out (naming it) an object larger than the cluster accepts.
#   etcd_sink_security_test.sh AGENT XDS_SCALE_GEN
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
GEN=$2
CHECK="python3 $(dirname "$0")/etcd_sink_check.py"
command -v etcd >/dev/null || { echo "etcd (Debian etcd-server) is not installed: run scripts/setup --test"; exit 1; }
command -v openssl >/dev/null || { echo "openssl is not installed: run scripts/setup --test"; exit 1; }
export ETCDCTL_API=3

work=$(mktemp -d)
cleanup() {
  kill "${ETCD_PID:-}" "${AGENT_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# A CA, the member's certificate (for 127.0.0.1) and a client certificate.
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=test-ca" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout member.key -out member.csr -subj "/CN=etcd" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >member.ext
openssl x509 -req -in member.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out member.pem -days 1 -extfile member.ext 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=mesh-agent" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 1 -extfile client.ext 2>/dev/null
cd - >/dev/null

port=$(free_port); peer=$(free_port)
EP="https://127.0.0.1:$port"
etcd --name sec --data-dir "$work/etcd" --listen-client-urls "$EP" --advertise-client-urls "$EP" \
  --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
  --initial-cluster "sec=http://127.0.0.1:$peer" --cert-file "$work/member.pem" --key-file "$work/member.key" \
  --client-cert-auth --trusted-ca-file "$work/ca.pem" --auth-token simple --auth-token-ttl 2 \
  --max-txn-ops 16 --max-request-bytes 32768 >"$work/etcd.log" 2>&1 &
ETCD_PID=$!
export ETCDCTL_CACERT="$work/ca.pem" ETCDCTL_CERT="$work/client.pem" ETCDCTL_KEY="$work/client.key"
ectl() { timeout 10 etcdctl --endpoints="$EP" "$@"; }
wait_for 20 ectl endpoint health >/dev/null 2>&1 || { cat "$work/etcd.log"; echo "etcd did not start"; exit 1; }
ectl user add root --new-user-password=secret >/dev/null
ectl auth enable >/dev/null
export ETCDCTL_USER=root:secret

"$GEN" 60 "$work/xds" >/dev/null
# One upstream far larger than 32 KiB: 2,000 endpoints in one ClusterLoadAssignment.
python3 - "$work/xds/endpoints.json" <<'PY'
import copy, json, sys
doc = json.load(open(sys.argv[1]))
lb = doc["resources"][0]["endpoints"][0]["lbEndpoints"]
proto = lb[0]
for i in range(2000):
    e = copy.deepcopy(proto)
    e["endpoint"]["address"]["socketAddress"]["address"] = "10.200.%d.%d" % (i // 250, i % 250 + 1)
    lb.append(e)
json.dump(doc, open(sys.argv[1], "w"))
PY

run_agent() { # run_agent PASSWORD LOG
  "$AGENT_BIN" sidecar --xds-watch-files "$work/xds" --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 \
    --admin-listen 127.0.0.1:0 --etcd-sink "$EP" --etcd-sink-cacert "$work/ca.pem" --etcd-sink-cert "$work/client.pem" \
    --etcd-sink-key "$work/client.key" --etcd-sink-user root --etcd-sink-password "$1" --etcd-sink-lease-ttl 30 \
    --log-level debug >"$2" 2>&1 &
  AGENT_PID=$!
  wait_for 20 grep -qs "admin endpoint on" "$2" || { cat "$2"; echo "the agent did not start"; exit 1; }
  ADMIN=$(sed -n 's/.*admin endpoint on http:\/\/\([0-9.:]*\).*/\1/p' "$2" | head -1)
  HEALTH=$(sed -n 's/.*health checks on http:\/\/\([0-9.:]*\)\/.*/\1/p' "$2" | head -1)
  LOCAL=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$2" | head -1)
}
sink_field() { curl -s --max-time 5 "http://$ADMIN/syncz" | python3 -c "import json,sys; print(json.load(sys.stdin)['etcd_sink']['$1'])" 2>/dev/null; }
in_sync() { [ "$(sink_field role)" = leader ] && [ "$(sink_field in_sync)" = True ]; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$HEALTH/healthz/ready")" = 200 ]; }

echo "# a wrong password"
run_agent wrong "$work/agent-wrong.log"
check "the agent says why it cannot write" wait_for 10 bash -c "curl -s http://$ADMIN/syncz | grep -q 'authentication failed'"
check "and is not ready" bash -c "! curl -sf -o /dev/null http://$HEALTH/healthz/ready"
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true

echo "# TLS with a client certificate, auth, and limits below the agent's defaults"
run_agent secret "$work/agent.log"
check "the agent converges through TLS and auth" wait_for 30 in_sync
check "it is ready" ready
check "its transactions were cut to the cluster's --max-txn-ops / --max-request-bytes" \
  grep -q "the cluster's limits are below" "$work/agent.log"
check "the upstream larger than the cluster accepts is left out, named" \
  grep -q "more than the cluster accepts in one request" "$work/agent.log"
check "and counted in /syncz" [ "$(sink_field too_large_to_write)" = 1 ]
check "everything else is in the cluster" bash -c "
  $CHECK state $LOCAL $EP /apisix apisix-mesh-agent | grep -q 'missing .* (1), extra \[\] (0), different \[\] (0)'"
sleep 5  # longer than --auth-token-ttl: the token has expired
$CHECK set-route-prefix "$work/xds/routes.json" /after-token-expiry
check "a change after the token expired is written (the agent authenticates again)" \
  wait_for 10 bash -c "ETCDCTL_API=3 etcdctl --endpoints=$EP get --prefix /apisix/routes/ --print-value-only | grep -q after-token-expiry"
check "the expired token was renewed" grep -q "invalid auth token; authenticating again" "$work/agent.log"
python3 - "$work/xds/endpoints.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
del doc["resources"][0]["endpoints"][0]["lbEndpoints"][3:]
json.dump(doc, open(sys.argv[1], "w"))
PY
check "once it is small enough, the large upstream is written too" wait_for 10 bash -c "$CHECK state $LOCAL $EP /apisix apisix-mesh-agent"
check "no agent crashed" bash -c "! grep -l 'AddressSanitizer\|Segmentation\|terminate called' $work/agent*.log"
finish
