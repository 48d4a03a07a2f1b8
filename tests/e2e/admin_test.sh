#!/usr/bin/env bash
# The admin endpoint with real peers: an istiod-like ADS server (tests/xds/ads_file_server.cc), the
# agent with --admin-listen and --log-format json, curl, etcdctl-free HTTP etcd requests, and
# Python's prometheus_client parser (Debian's python3-prometheus-client).
#   - /stats/prometheus parses, exports every metric docs/operations.md lists, and moves when the
#     agent is driven (an etcd request, an ADS push);
#   - /config_dump reflects an ADS push (new endpoint, version, source, arrival) and a file edit
#     (xds-v3-file: the file named as source), filters, and redacts TLS private keys;
#   - /syncz shows a NACK with its reason; `status` prints the state and its exit code says it;
#   - POST /logging changes the level at run time; every log line is one JSON object;
#   - a peer that is not on loopback is refused.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
SERVER_BIN=$2
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
DOCS="$(cd "$(dirname "$0")/../../docs" && pwd)"
/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null || skip "python3-prometheus-client is not installed"
command -v jq >/dev/null || skip "jq is not installed"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} ${SERVER_PID:-} ${FILE_AGENT:-} ${HTTP_WATCH:-} ${GRPC_WATCH:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/ads" && cp "$EXAMPLES"/*.json "$work/ads/"
# A cluster whose TLS context carries a private key inline: it must never be shown.
jq '.resources += [{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"tls-secret","type":"STATIC",
     "connectTimeout":"1s","transportSocket":{"name":"envoy.transport_sockets.tls","typedConfig":{
     "@type":"type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext","commonTlsContext":{
     "tlsCertificates":[{"certificateChain":{"inlineString":"PUBLIC-CERT"},"privateKey":{"inlineString":"SECRET-KEY-MATERIAL"}}]}}}}]' \
  "$EXAMPLES/clusters.json" >"$work/ads/clusters.json"
"$SERVER_BIN" "$work/ads" >"$work/server.log" 2>&1 &
SERVER_PID=$!
wait_for 10 grep -qs "listening on" "$work/server.log" || { cat "$work/server.log"; exit 1; }
ADS=$(sed -n 's/listening on //p' "$work/server.log")
"$AGENT_BIN" sidecar --provisioner xds-v3-grpc --xds-config-source "grpc://$ADS" --grpc-listen 127.0.0.1:0 \
  --health-listen "" --admin-listen 0.0.0.0:0 --log-format json >"$work/agent.log" 2>&1 &
AGENT_PID=$!
wait_for 20 grep -qs "ready in" "$work/agent.log" || { cat "$work/agent.log"; exit 1; }
ADMIN_PORT=$(sed -n 's#.*admin endpoint on http://[0-9.]*:\([0-9]*\).*#\1#p' "$work/agent.log" | head -1)
ADMIN="127.0.0.1:$ADMIN_PORT"
ETCD=$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/agent.log" | head -1)
check "the admin endpoint is up ($ADMIN)" curl -sf "http://$ADMIN/" -o /dev/null

scrape() { curl -sf "http://$ADMIN/stats/prometheus" >"$work/$1.prom"; }
# value FILE NAME LABELS: a sample's value, parsed by prometheus_client.
value() {
  /usr/bin/python3 - "$@" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name, labels = sys.argv[1], sys.argv[2], dict(kv.split("=", 1) for kv in sys.argv[3:])
for family in text_string_to_metric_families(open(path).read()):
    for s in family.samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            print(s.value)
            sys.exit(0)
print("absent")
PY
}
scrape one
check "the Prometheus text parses with prometheus_client's parser" /usr/bin/python3 -c "
import sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(open('$work/one.prom').read()))
assert len(families) >= 15, len(families)"
documented=$(grep -oE '^\| `[a-z_]+` \| (gauge|counter|histogram)' "$DOCS/operations.md" | sed 's/^| `\([a-z_]*\)`.*/\1/')
check "docs/operations.md lists the metrics ($(wc -w <<<"$documented"))" test "$(wc -w <<<"$documented")" -ge 18
for name in $documented; do
  check "exported: $name" grep -q "^# TYPE $name " "$work/one.prom"
done
check "the same metrics of /metrics" diff <(grep '^# TYPE' "$work/one.prom") <(curl -sf "http://$ADMIN/metrics" | grep '^# TYPE')

# Drive it: two watchers as APISIX (HTTP /v3/watch) and an etcd client (gRPC) hold them, an etcd
# request over HTTP, an endpoint push.
b64() { printf '%s' "$1" | base64 -w0; }
curl -sN "http://$ETCD/v3/watch" -d "{\"create_request\":{\"key\":\"$(b64 /apisix/)\",\"range_end\":\"$(b64 /apisix0)\"}}" \
  >"$work/http-watch.out" 2>&1 &
HTTP_WATCH=$!
etcdctl --endpoints="$ETCD" watch --prefix /apisix/upstreams/ >"$work/grpc-watch.out" 2>&1 &
GRPC_WATCH=$!
check "/syncz lists both watchers, by protocol" wait_for 5 bash -c \
  "curl -sf 'http://$ADMIN/syncz' | jq -e '.etcd.watchers.http == 1 and .etcd.watchers.grpc == 1' >/dev/null"
scrape one
curl -sf "http://$ETCD/v3/kv/range" -d "{\"key\":\"$(b64 /apisix/routes/)\",\"range_end\":\"$(b64 /apisix/routes0)\"}" >/dev/null
jq '(.resources[] | select(.clusterName | startswith("outbound|9080||ratings")) | .endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address) = "10.244.0.22"' \
  "$EXAMPLES/endpoints.json" >"$work/ads/e.new" && mv "$work/ads/e.new" "$work/ads/endpoints.json"
n=$(grep -c "pushed version" "$work/server.log" || true)
kill -HUP "$SERVER_PID"
wait_for 5 bash -c "[ \$(grep -c 'pushed version' '$work/server.log') -gt $n ]"
wait_for 5 bash -c "curl -sf 'http://$ADMIN/config_dump?resource=cluster_load_assignments&name=ratings' | grep -q 10.244.0.22"
scrape two
moved() { # moved NAME LABELS...: the sample grew between the two scrapes (or appeared: a label set's first use)
  local a b; a=$(value "$work/one.prom" "$@"); b=$(value "$work/${LATER:-two}.prom" "$@")
  check "moves: $* ($a → $b)" /usr/bin/python3 -c "
import sys
a, b = '$a', '$b'
sys.exit(0 if b != 'absent' and (a == 'absent' or float(b) > float(a)) else 1)"
}
moved apisix_mesh_agent_xds_responses_total type=ClusterLoadAssignment
moved apisix_mesh_agent_xds_acks_total type=ClusterLoadAssignment
moved apisix_mesh_agent_xds_applies_total
moved apisix_mesh_agent_store_revision
moved apisix_mesh_agent_xds_apply_seconds_count
moved apisix_mesh_agent_etcd_request_duration_seconds_count method=Range protocol=http
moved apisix_mesh_agent_etcd_requests_total method=Range protocol=http code=OK
check "the watchers got the push (HTTP: the new endpoint; gRPC: etcdctl printed it)" \
  wait_for 5 bash -c "grep -q '$(b64 /apisix/upstreams/ | cut -c1-12)' '$work/http-watch.out' && grep -q 10.244.0.22 '$work/grpc-watch.out'"
scrape three
LATER=three moved apisix_mesh_agent_etcd_watch_events_sent_total protocol=http
LATER=three moved apisix_mesh_agent_etcd_watch_events_sent_total protocol=grpc
LATER=three moved apisix_mesh_agent_etcd_watch_bytes_sent_total protocol=http
LATER=three moved apisix_mesh_agent_etcd_watch_responses_sent_total protocol=grpc
check "watchers by protocol: 1 http, 1 grpc" \
  test "$(value "$work/three.prom" apisix_mesh_agent_etcd_watchers protocol=http) $(value "$work/three.prom" apisix_mesh_agent_etcd_watchers protocol=grpc)" = "1.0 1.0"
check "the lag gauge says every watcher is in sync" \
  test "$(value "$work/three.prom" apisix_mesh_agent_etcd_watch_lag_revisions)" = "0.0"
curl -sf "http://$ADMIN/syncz" >"$work/syncz-watch.json"
check "/syncz: each watcher has been sent the current revision, with its peer and range" \
  jq -e '.etcd.revision as $r | [.etcd.watch_streams[] | .peer as $p | .watchers[] | select(.in_sync and .sent_revision == $r and ($p | startswith("ipv4:127.0.0.1:")))] | length == 2' \
  "$work/syncz-watch.json"
check "/syncz: the HTTP watcher's range is APISIX's prefix" \
  jq -e '[.etcd.watch_streams[] | select(.protocol == "http") | .watchers[0].key] == ["/apisix/"]' "$work/syncz-watch.json"
rc=0; "$AGENT_BIN" status --admin-listen "$ADMIN" >"$work/status0.txt" 2>&1 || rc=$?
check "status shows the watchers" grep -qE '^etcd .*watchers: 1 http, 1 grpc; 0 behind' "$work/status0.txt"
kill "$HTTP_WATCH" "$GRPC_WATCH" 2>/dev/null || true
wait "$HTTP_WATCH" "$GRPC_WATCH" 2>/dev/null || true
HTTP_WATCH=""; GRPC_WATCH=""
check "a closed watch leaves the registry" wait_for 5 bash -c \
  "curl -sf 'http://$ADMIN/syncz' | jq -e '.etcd.watchers.http == 0 and .etcd.watchers.grpc == 0 and (.etcd.watch_streams | length) == 0' >/dev/null"

# /config_dump.
curl -sf "http://$ADMIN/config_dump?resource=cluster_load_assignments&name=ratings" >"$work/cla.json"
check "the dump shows the pushed endpoint, with its version, source and arrival" \
  jq -e '.xds.cluster_load_assignments[0] | (.resource | tostring | contains("10.244.0.22")) and (.version | length > 0)
         and (.source | startswith("ads ")) and (.arrived | length > 0)' "$work/cla.json"
curl -sf "http://$ADMIN/config_dump?resource=cluster_load_assignments" >"$work/clas.json"
check "each resource has the version and time of its own last change (the push re-sent the others unchanged)" \
  jq -e '[.xds.cluster_load_assignments[] | select(.name | startswith("outbound|9080||ratings")) | .version] as $pushed
         | [.xds.cluster_load_assignments[] | select(.name | startswith("outbound|9080||ratings") | not) | .version] as $others
         | ($pushed | length) == 1 and ($others | length) > 0 and all($others[]; . != $pushed[0])' "$work/clas.json"
curl -sf "http://$ADMIN/config_dump" >"$work/dump.json"
check "APISIX objects with key, mod_revision and their xDS source" \
  jq -e '[.apisix.routes[] | select(.mod_revision > 0 and (.source | startswith("xds route configuration")))] | length == 5' \
  "$work/dump.json"
check "what was left out is listed" jq -e '.skipped | length > 0' "$work/dump.json"
check "a TLS private key is never shown" bash -c "! grep -q SECRET-KEY-MATERIAL '$work/dump.json'"
check "... its field stays, redacted" bash -c "grep -q '\"\[redacted\]\"' '$work/dump.json'"
check "an unknown section is refused (400)" \
  test "$(curl -s -o /dev/null -w '%{http_code}' "http://$ADMIN/config_dump?resource=nope")" = 400
check "... naming the accepted ones" bash -c "curl -s 'http://$ADMIN/config_dump?resource=nope' | grep -q 'listeners, route_configurations'"
check "the same state gives the same dump" \
  bash -c "diff <(curl -sf 'http://$ADMIN/config_dump' | jq -S 'del(.xds)') <(jq -S 'del(.xds)' '$work/dump.json')"

# A NACK: the server adds a nameless cluster.
kill -USR1 "$SERVER_PID"
wait_for 5 grep -q "NACK" "$work/server.log"
curl -sf "http://$ADMIN/syncz" >"$work/syncz.json"
check "/syncz shows the NACK with its reason and time" \
  jq -e '.xds.types[] | select(.type | endswith("Cluster")) | (.nacks >= 1) and (.last_nack.error_detail | contains("has no name")) and (.last_nack.time | length > 0)' \
  "$work/syncz.json"
check "/syncz: connected, the etcd revision, the translation" \
  jq -e '.xds.connected and .etcd.revision > 0 and .translation.routes == 5' "$work/syncz.json"
rc=0; "$AGENT_BIN" status --admin-listen "$ADMIN" >"$work/status.txt" 2>&1 || rc=$?
check "status says the clusters were NACKed (exit $rc = 3)" bash -c "[ $rc -eq 3 ] && grep -qE '^Cluster .*NACKED: .*has no name' '$work/status.txt'"
check "status shows the control plane and the other types synced" \
  bash -c "grep -q 'connected' '$work/status.txt' && grep -qE '^RouteConfiguration .*SYNCED' '$work/status.txt'"
rc=0; "$AGENT_BIN" status --admin-listen 127.0.0.1:1 >"$work/status2.txt" 2>&1 || rc=$?
check "status without an agent: exit 1, naming the address" bash -c "[ $rc -eq 1 ] && grep -q '127.0.0.1:1' '$work/status2.txt'"

# Logging.
check "GET /logging: info" bash -c "curl -sf 'http://$ADMIN/logging' | grep -q 'level: info'"
check "POST /logging?level=debug" bash -c "curl -sf -X POST 'http://$ADMIN/logging?level=debug' | grep -q 'level: debug'"
check "a bad level is refused (400)" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$ADMIN/logging?level=loud")" = 400
curl -sf "http://$ADMIN/syncz" >/dev/null
check "debug lines now appear (the admin logs its requests at debug)" \
  wait_for 5 grep -q '"level":"debug","logger":"admin","message":"GET /syncz"' "$work/agent.log"
check "every log line is one JSON object with time, level, logger and message" \
  jq -se 'all(.[]; has("time") and has("level") and has("logger") and has("message"))' "$work/agent.log"
check "the component is the logger" jq -se 'any(.[]; .logger == "xds-v3-grpc")' "$work/agent.log"
check "the NACK's line carries its fields: type, version, nonce, error detail" \
  jq -se 'any(.[]; .fields.event == "nack" and (.fields.type | endswith("Cluster")) and (.fields.version | length > 0)
               and (.fields.nonce | length > 0) and (.fields.error_detail | contains("has no name")))' "$work/agent.log"
check "each apply's line carries the revision it produced" \
  jq -se '[.[] | select(.fields.event == "applied") | .fields.revision | numbers] | length >= 2' "$work/agent.log"
# A real change to push (the server pushes only types whose resources changed).
jq '(.resources[] | select(.clusterName | startswith("outbound|9080||ratings")) | .endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address) = "10.244.0.23"' \
  "$EXAMPLES/endpoints.json" >"$work/ads/e.new" && mv "$work/ads/e.new" "$work/ads/endpoints.json"
kill -HUP "$SERVER_PID"
check "ACKs are logged at debug with type, version and nonce" wait_for 5 bash -c \
  "jq -se 'any(.[]; .level == \"debug\" and .fields.event == \"ack\" and (.fields.nonce | length > 0))' '$work/agent.log' >/dev/null"

# Only loopback peers by default (this agent listens on every address but was not told to allow
# others; the host's own address is not loopback).
host_ip=$(hostname -I 2>/dev/null | awk '{print $1}')
if [ -n "$host_ip" ]; then
  check "a peer that is not on loopback gets 403 ($host_ip)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' "http://$host_ip:$ADMIN_PORT/syncz")" = 403
fi
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""

# xds-v3-file: the dump names the file, and follows an edit.
mkdir -p "$work/files" && cp "$EXAMPLES"/*.json "$work/files/"
"$AGENT_BIN" sidecar --xds-watch-files "$work/files" --grpc-listen 127.0.0.1:0 --health-listen "" \
  --admin-listen 127.0.0.1:0 >"$work/file-agent.log" 2>&1 &
FILE_AGENT=$!
wait_for 10 grep -qs "admin endpoint on" "$work/file-agent.log" || { cat "$work/file-agent.log"; exit 1; }
FADMIN=$(sed -n 's#.*admin endpoint on http://\([0-9.:]*\) .*#\1#p' "$work/file-agent.log" | head -1)
check "file source: each resource names its file" \
  bash -c "curl -sf 'http://$FADMIN/config_dump?resource=clusters' | jq -e '.xds.clusters | all(.source == \"$work/files/clusters.json\")'"
jq '(.resources[] | select(.clusterName | startswith("outbound|9080||ratings")) | .endpoints[0].lbEndpoints[0].endpoint.address.socketAddress.address) = "10.244.0.33"' \
  "$EXAMPLES/endpoints.json" >"$work/files/e.new" && mv "$work/files/e.new" "$work/files/endpoints.json"
check "file source: the dump follows an edit" \
  wait_for 5 bash -c "curl -sf 'http://$FADMIN/config_dump?resource=cluster_load_assignments&name=ratings' | grep -q 10.244.0.33"
check "... and so do the upstreams served" \
  wait_for 5 bash -c "curl -sf 'http://$FADMIN/config_dump?resource=upstreams&name=ratings' | grep -q 10.244.0.33"
curl -sf "http://$FADMIN/syncz" >"$work/file-syncz.json"
curl -sf "http://$FADMIN/config_dump" >"$work/file-dump.json"
check "file source: /syncz lists the files and counts what the dump holds, per type" \
  jq -e --slurpfile d "$work/file-dump.json" '.xds.provisioner == "xds-v3-file" and (.xds.files | length) == 4
     and ([.xds.types[] | .resources] == [($d[0].xds.clusters | length), ($d[0].xds.cluster_load_assignments | length),
                                           ($d[0].xds.listeners | length), ($d[0].xds.route_configurations | length)])' \
  "$work/file-syncz.json"
curl -sf "http://$FADMIN/stats/prometheus" >"$work/file.prom"
check "file source: the resources gauge says the same" \
  test "$(value "$work/file.prom" apisix_mesh_agent_xds_resources type=Cluster)" = "$(jq '.xds.clusters | length' "$work/file-dump.json").0"
kill -TERM "$FILE_AGENT"; wait "$FILE_AGENT" 2>/dev/null || true; FILE_AGENT=""
finish
