#!/usr/bin/env bash
# The etcd sink against a real 3-member etcd cluster (Debian's etcd 3.4, on loopback), with
# etcdctl as the observer:
#   1. converge: the translation of 150 services lands whole, split under --max-txn-ops in an order
#      that never leaves a route without its upstream; the operator's keys, APISIX's placeholders
#      and another owner's keys are untouched; a previous run's stale key is removed; owned keys
#      deleted or changed by someone else are written back (the periodic check);
#   2. churn under faults: CHANGES xDS changes while members are killed and restarted, the
#      leadership moves and the cluster loses its quorum for moments: every committed change
#      reaches the cluster as its own transaction (or the documented split), in order, none lost
#      or repeated;
#   3. high availability: a second agent stands by, takes over when the writer is killed; a
#      frozen ex-writer (its lease expired) never writes again;
#   4. the whole cluster down: the writer reports not ready, keeps its state, converges after.
#   etcd_sink_test.sh AGENT XDS_SCALE_GEN
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
GEN=$2
CHECK="python3 $(dirname "$0")/etcd_sink_check.py"
CHANGES=${CHANGES:-1000}
command -v etcd >/dev/null || { echo "etcd (Debian etcd-server) is not installed: run scripts/setup --test"; exit 1; }
export ETCDCTL_API=3

work=$(mktemp -d)
declare -A MPID APID
cleanup() {
  kill -CONT "${APID[@]}" 2>/dev/null || true
  kill "${APID[@]}" "${MPID[@]}" "${CHURN_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
declare -A CPORT PPORT
for i in 1 2 3; do CPORT[$i]=$(free_port); PPORT[$i]=$(free_port); done
CLUSTER="m1=http://127.0.0.1:${PPORT[1]},m2=http://127.0.0.1:${PPORT[2]},m3=http://127.0.0.1:${PPORT[3]}"
EPS="http://127.0.0.1:${CPORT[1]},http://127.0.0.1:${CPORT[2]},http://127.0.0.1:${CPORT[3]}"
start_member() {
  local i=$1 state=${2:-new}
  etcd --name "m$i" --data-dir "$work/m$i" --listen-client-urls "http://127.0.0.1:${CPORT[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${CPORT[$i]}" --listen-peer-urls "http://127.0.0.1:${PPORT[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${PPORT[$i]}" --initial-cluster "$CLUSTER" \
    --initial-cluster-state "$state" --heartbeat-interval 50 --election-timeout 500 >>"$work/m$i.log" 2>&1 &
  MPID[$i]=$!
}
ectl() { timeout 10 etcdctl --endpoints="$EPS" "$@"; }
member_healthy() { timeout 5 etcdctl --endpoints="http://127.0.0.1:${CPORT[$1]}" endpoint health >/dev/null 2>&1; }
cluster_healthy() { member_healthy 1 && member_healthy 2 && member_healthy 3; }
revision() { ectl get /nothing -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])'; }
for i in 1 2 3; do start_member "$i"; done
wait_for 30 cluster_healthy || { tail -5 "$work"/m*.log; echo "the etcd cluster did not start"; exit 1; }

# What is under the prefix before the agent: APISIX's placeholder, an operator's route, another
# owner's upstream, and a key a previous run of this owner left behind.
ectl put /apisix/routes/ init_dir >/dev/null
ectl put /apisix/routes/operator-1 '{"id":"operator-1","uri":"/op","upstream":{"nodes":{"10.9.9.9:80":1},"type":"roundrobin"}}' >/dev/null
ectl put /apisix/upstreams/other '{"id":"other","labels":{"managed-by":"other-mesh"}}' >/dev/null
ectl put /apisix/routes/stale '{"id":"stale","uri":"/old","labels":{"managed-by":"apisix-mesh-agent"}}' >/dev/null

"$GEN" 150 "$work/xds" >/dev/null
# start_sink_agent NAME: an agent writing into the cluster (3 s lease); sets APID[NAME], and
# ADMIN_NAME / HEALTH_NAME / LOCAL_NAME to its admin, health and etcd addresses.
start_sink_agent() {
  local name=$1 ttl=${2:-3} log="$work/agent-$1.log"
  : >"$log"
  HOSTNAME="agent-$name" "$AGENT_BIN" sidecar --xds-watch-files "$work/xds" --grpc-listen 127.0.0.1:0 \
    --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --etcd-sink "$EPS" --etcd-sink-lease-ttl "$ttl" \
    --etcd-sink-timeout-ms 1000 --etcd-sink-resync 2 --log-level debug >"$log" 2>&1 &
  APID[$name]=$!
  wait_for 20 grep -qs "ready in" "$log" || { cat "$log"; echo "agent $name did not start"; exit 1; }
  wait_for 5 grep -qs "admin endpoint on" "$log"
  printf -v "ADMIN_$name" '%s' "$(sed -n 's/.*admin endpoint on http:\/\/\([0-9.:]*\).*/\1/p' "$log" | head -1)"
  printf -v "HEALTH_$name" '%s' "$(sed -n 's/.*health checks on http:\/\/\([0-9.:]*\)\/.*/\1/p' "$log" | head -1)"
  printf -v "LOCAL_$name" '%s' "$(sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$log" | head -1)"
}
syncz() { curl -s --max-time 5 "http://$1/syncz"; }
sink_field() { syncz "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['etcd_sink']['$2'])" 2>/dev/null; }
is_role() { [ "$(sink_field "$1" role)" = "$2" ]; }
in_sync() { [ "$(sink_field "$1" role)" = leader ] && [ "$(sink_field "$1" in_sync)" = True ]; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$1/healthz/ready")" = 200 ]; }
committed_revisions() { # the agent's commits (an apply that put or deleted something), from its log
  sed -n 's/.*applied xDS.* \([0-9]*\) puts, \([0-9]*\) deletes.*revision \([0-9]*\)$/\1 \2 \3/p' "$1" |
    awk '$1 + $2 > 0 { print $3 }'
}

echo "# 1. converge"
FROM=$(($(revision) + 1))
start_sink_agent a 8  # a lease that outlives the moments without quorum of part 2
check "the writer is ready once the cluster holds the translation" wait_for 30 ready "$HEALTH_a"
check "it is the elected writer, in sync" in_sync "$ADMIN_a"
check "the cluster holds exactly what the agent serves (labelled as its own)" \
  $CHECK state "$LOCAL_a" "$EPS" /apisix apisix-mesh-agent
check "every revision of the initial sync is servable and one transaction (split at 128 operations)" \
  $CHECK history "$EPS" /apisix apisix-mesh-agent "$FROM"
split=$({ $CHECK history "$EPS" /apisix apisix-mesh-agent "$FROM" || true; } | sed -n 's/.*(\([0-9]*\) split).*/\1/p')
check "the 300-object initial sync was split (--max-txn-ops 128)" [ "${split:-0}" -ge 1 ]
check "the operator's route is untouched" \
  bash -c "[ \"\$(ETCDCTL_API=3 etcdctl --endpoints=$EPS get /apisix/routes/operator-1 --print-value-only)\" = '{\"id\":\"operator-1\",\"uri\":\"/op\",\"upstream\":{\"nodes\":{\"10.9.9.9:80\":1},\"type\":\"roundrobin\"}}' ]"
check "APISIX's placeholder is untouched" [ "$(ectl get /apisix/routes/ --print-value-only)" = init_dir ]
check "another owner's upstream is untouched" [ -n "$(ectl get /apisix/upstreams/other --print-value-only)" ]
check "the previous run's stale key is removed" [ -z "$(ectl get /apisix/routes/stale --print-value-only)" ]
# Drift behind the writer's back: an owned route deleted, an owned upstream overwritten. The
# periodic check (--etcd-sink-resync 2) finds both and writes them back.
victim=$(ectl get --prefix /apisix/routes/ --keys-only | grep -v -e operator-1 -e '^/apisix/routes/$' | grep . | sed -n 1p)
upstream=$(ectl get --prefix /apisix/upstreams/ --keys-only | grep -v -e other -e '^/apisix/upstreams/$' | grep . | sed -n 1p)
ectl del "$victim" >/dev/null
ectl put "$upstream" '{"id":"tampered","labels":{"managed-by":"apisix-mesh-agent"}}' >/dev/null
check "an owned key deleted and one overwritten by someone else are written back" \
  wait_for 15 $CHECK state "$LOCAL_a" "$EPS" /apisix apisix-mesh-agent

echo "# 2. $CHANGES changes while members restart and the leadership moves"
FROM=$(($(revision) + 1))
START_LINE=$(wc -l <"$work/agent-a.log")
python3 - "$work/xds/endpoints.json" "$CHANGES" <<'PY' &
import json, os, sys, time
path, n = sys.argv[1], int(sys.argv[2])
doc = json.load(open(path))
for i in range(n):
    cla = doc["resources"][i % len(doc["resources"])]
    cla["endpoints"][0]["lbEndpoints"][0]["endpoint"]["address"]["socketAddress"]["portValue"] = 20000 + i
    with open(path + ".tmp", "w") as f:
        json.dump(doc, f)
    os.rename(path + ".tmp", path)
    time.sleep(0.05)
PY
CHURN_PID=$!
leader_member() {
  for i in 1 2 3; do
    if timeout 5 etcdctl --endpoints="http://127.0.0.1:${CPORT[$i]}" endpoint status -w json 2>/dev/null |
      python3 -c 'import json,sys; s=json.load(sys.stdin)[0]["Status"]; sys.exit(0 if s["header"]["member_id"]==s["leader"] else 1)'; then
      echo "$i"; return 0
    fi
  done
  return 1
}
member_in_use() { # the member the writer sends its requests to
  local ep i
  ep=$(sink_field "$ADMIN_a" endpoint)
  for i in 1 2 3; do [ "$ep" = "http://127.0.0.1:${CPORT[$i]}" ] && { echo "$i"; return 0; }; done
  return 1
}
restart_member() {
  kill -9 "${MPID[$1]}"; wait "${MPID[$1]}" 2>/dev/null || true
  sleep 1
  start_member "$1" existing
  wait_for 20 member_healthy "$1"
}
faults=0
round=0
while kill -0 "$CHURN_PID" 2>/dev/null; do
  # Kill the member the writer talks to (it fails over mid-write), or the raft leader (an
  # election), and bring it back; then move the leadership by hand.
  round=$((round + 1))
  if [ $((round % 2)) -eq 1 ]; then m=$(member_in_use) || m=; else m=$(leader_member) || m=; fi
  if [ -n "$m" ]; then
    restart_member "$m"
    faults=$((faults + 1))
  fi
  sleep 0.5
  if [ $((round % 3)) -eq 0 ]; then
    # Two of three members frozen: no quorum for 2 s. Requests time out everywhere; a transaction
    # may commit after its answer was lost — the marker tells the writer which.
    kill -STOP "${MPID[$((round % 3 + 1))]}" "${MPID[$(((round + 1) % 3 + 1))]}"
    sleep 2
    kill -CONT "${MPID[1]}" "${MPID[2]}" "${MPID[3]}"
    wait_for 20 cluster_healthy
    faults=$((faults + 1))
  fi
  if l=$(leader_member); then
    to=$(( l % 3 + 1 ))
    id=$(timeout 5 etcdctl --endpoints="http://127.0.0.1:${CPORT[$to]}" endpoint status -w json |
      python3 -c 'import json,sys; print("%x" % json.load(sys.stdin)[0]["Status"]["header"]["member_id"])')
    timeout 10 etcdctl --endpoints="http://127.0.0.1:${CPORT[$l]}" move-leader "$id" >/dev/null 2>&1 && faults=$((faults + 1))
  fi
  sleep 1
done
wait "$CHURN_PID" || true
CHURN_PID=
echo "  $faults member kills, leader moves and quorum losses during the churn; the writer resumed $(sink_field "$ADMIN_a" resumes) times" \
  "from its marker and ran $(sink_field "$ADMIN_a" repairs) diffs (repairs and checks)"
check "faults were injected during the churn" [ "$faults" -ge 2 ]
check "the writer is back in sync" wait_for 30 in_sync "$ADMIN_a"
sleep 1  # the last file change applied
tail -n +"$((START_LINE + 1))" "$work/agent-a.log" >"$work/churn.log"
committed_revisions "$work/churn.log" >"$work/committed"
echo "  the agent committed $(wc -l <"$work/committed") changes"
check "the agent committed most of the changes (the file watch may merge a few)" [ "$(wc -l <"$work/committed")" -ge $((CHANGES / 2)) ]
check "every committed change reached the cluster whole, in order, once" \
  $CHECK history "$EPS" /apisix apisix-mesh-agent "$FROM" "$work/committed"
check "the cluster holds exactly what the agent serves" $CHECK state "$LOCAL_a" "$EPS" /apisix apisix-mesh-agent

echo "# 3. a standby takes over"
start_sink_agent b
check "the second agent stands by (and is ready)" wait_for 10 is_role "$ADMIN_b" standby
check "a standby is ready" ready "$HEALTH_b"
kill -9 "${APID[a]}"; wait "${APID[a]}" 2>/dev/null || true
killed=$SECONDS
check "the standby takes over within the writer's lease TTL (8 s) and a little" wait_for 13 in_sync "$ADMIN_b"
echo "  took over after $((SECONDS - killed)) s"
$CHECK set-route-prefix "$work/xds/routes.json" /taken-over
check "a change after the takeover reaches the cluster" \
  wait_for 10 bash -c "ETCDCTL_API=3 etcdctl --endpoints=$EPS get --prefix /apisix/routes/ --print-value-only | grep -q taken-over"
check "the cluster holds exactly what the new writer serves" $CHECK state "$LOCAL_b" "$EPS" /apisix apisix-mesh-agent

echo "# 4. a frozen ex-writer does not write"
start_sink_agent c
check "a third agent stands by" wait_for 10 is_role "$ADMIN_c" standby
FROM=$(($(revision) + 1))
kill -STOP "${APID[b]}"
check "the standby takes over from the frozen writer" wait_for 10 in_sync "$ADMIN_c"
$CHECK set-route-prefix "$work/xds/routes.json" /after-the-freeze
kill -CONT "${APID[b]}"
check "the new writer writes the change" \
  wait_for 10 bash -c "ETCDCTL_API=3 etcdctl --endpoints=$EPS get --prefix /apisix/routes/ --print-value-only | grep -q after-the-freeze"
check "the thawed ex-writer steps down" wait_for 10 bash -c "! grep -q '\"role\": *\"leader\"' <(curl -s http://$ADMIN_b/syncz)"
sleep 2
writers=$($CHECK writers "$EPS" /apisix apisix-mesh-agent "$FROM")
check "only the new writer wrote after the freeze (writers: $writers)" [ "$writers" = agent-c ]
check "the cluster holds exactly what the writer serves" $CHECK state "$LOCAL_c" "$EPS" /apisix apisix-mesh-agent

echo "# 5. a writer the cluster no longer elects is refused"
# As if the writer's lease had expired at the cluster (a partition) before its keep-alives told
# it: its election key goes, the standby (b, thawed) takes over, and the ex-writer (c), which
# still believes it writes, tries to write the next change: the transaction's guard refuses it.
kill -9 "${APID[b]}"; wait "${APID[b]}" 2>/dev/null || true
start_sink_agent b
check "a standby again" wait_for 10 is_role "$ADMIN_b" standby
leader_key=$(ectl get --prefix /apisix/mesh-agent/apisix-mesh-agent/election/ -w json |
  python3 -c 'import base64,json,sys; kvs=json.load(sys.stdin)["kvs"]; print(base64.b64decode(min(kvs, key=lambda k: int(k["create_revision"]))["key"]).decode())')
FROM=$(($(revision) + 1))
ectl del "$leader_key" >/dev/null
check "the standby takes over at once" wait_for 5 in_sync "$ADMIN_b"
$CHECK set-route-prefix "$work/xds/routes.json" /guarded
check "the ex-writer's transaction is refused by its guard" \
  wait_for 10 grep -q "the election moved on" "$work/agent-c.log"
check "the new writer writes the change" \
  wait_for 10 bash -c "ETCDCTL_API=3 etcdctl --endpoints=$EPS get --prefix /apisix/routes/ --print-value-only | grep -q guarded"
writers=$($CHECK writers "$EPS" /apisix apisix-mesh-agent "$FROM")
check "only the new writer wrote since (writers: $writers)" [ "$writers" = agent-b ]
check "the ex-writer stands by again" wait_for 10 is_role "$ADMIN_c" standby
check "the cluster holds exactly what the writer serves" $CHECK state "$LOCAL_b" "$EPS" /apisix apisix-mesh-agent

echo "# 6. the whole cluster down"
kill "${APID[c]}"; wait "${APID[c]}" 2>/dev/null || true
HEALTH_c=$HEALTH_b; ADMIN_c=$ADMIN_b; LOCAL_c=$LOCAL_b
for i in 1 2 3; do kill -9 "${MPID[$i]}"; done
wait "${MPID[1]}" "${MPID[2]}" "${MPID[3]}" 2>/dev/null || true
$CHECK set-route-prefix "$work/xds/routes.json" /while-down
check "the writer reports not ready while the cluster is down" wait_for 15 bash -c "! curl -sf -o /dev/null http://$HEALTH_c/healthz/ready"
sleep 5  # longer than the lease: the session is lost and is made again
for i in 1 2 3; do start_member "$i" existing; done
wait_for 30 cluster_healthy || { tail -5 "$work"/m*.log; echo "the etcd cluster did not come back"; }
check "the writer converges once the cluster is back" wait_for 30 in_sync "$ADMIN_c"
check "the change made while it was down is there" \
  bash -c "ETCDCTL_API=3 etcdctl --endpoints=$EPS get --prefix /apisix/routes/ --print-value-only | grep -q while-down"
check "the cluster holds exactly what the writer serves" $CHECK state "$LOCAL_c" "$EPS" /apisix apisix-mesh-agent
check "no agent crashed" bash -c "! grep -l 'AddressSanitizer\|Segmentation\|terminate called' $work/agent-*.log"
finish
