#!/usr/bin/env bash
# Differential test: the same etcdctl (gRPC) and curl (HTTP gateway) sequence against a real etcd
# 3.4 and against the agent, outputs compared after normalising what legitimately differs:
# cluster_id, member_id, raft_term, lease IDs, and absolute revisions (compared as offsets from
# each server's revision when the sequence starts). Differences that remain are listed in
# docs/etcd-compatibility.md.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
command -v etcd >/dev/null || { echo "etcd (Debian etcd-server) is not installed: run scripts/setup --test"; exit 1; }

work=$(mktemp -d)
cleanup() {
  kill "${ETCD_PID:-}" "${AGENT_PID:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { # a port the kernel considers free right now
  python3 - 2>/dev/null <<'PY' || shuf -i 20000-60000 -n 1
import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}
etcd_port=$(free_port); peer_port=$(free_port)
etcd --name diff --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$peer_port" \
  --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" --initial-cluster "diff=http://127.0.0.1:$peer_port" \
  >"$work/etcd.log" 2>&1 &
ETCD_PID=$!
mkdir "$work/xds"
start_agent "$AGENT_BIN" "$work/xds" "$work/agent.log"
ETCD="127.0.0.1:$etcd_port"
AGENT="$ENDPOINT"
export ETCDCTL_API=3
wait_for 20 etcdctl --endpoints="$ETCD" endpoint health >/dev/null 2>&1 || { cat "$work/etcd.log"; exit 1; }

ectl() { local ep=$1; shift; timeout 10 etcdctl --endpoints="$ep" "$@" 2>&1 || true; }
rev_of() { ectl "$1" get /diff/nothing -w json | jq -r .header.revision; }
BASE_ETCD=$(rev_of "$ETCD")
BASE_AGENT=$(rev_of "$AGENT")

# normalize BASE: JSON (or text) on stdin → comparable form
normalize() {
  local base=$1 input
  input=$(cat)
  if jq -e . >/dev/null 2>&1 <<<"$input"; then
    jq -S --argjson base "$base" '
      def rev: if type == "number" then . - $base elif type == "string" and test("^[0-9]+$") then ((tonumber - $base) | tostring) else . end;
      walk(if type == "object" then
             del(.cluster_id, .member_id, .raft_term, .ID, .id, .ts, .target)
             | (if has("revision") and .revision != 0 and .revision != "0" then .revision |= rev else . end)
             | (if has("lease") then .lease = "LEASE" else . end)
             | (if has("create_revision") then .create_revision |= rev else . end)
             | (if has("mod_revision") then .mod_revision |= rev else . end)
             | (if has("compact_revision") then .compact_revision |= rev else . end)
           else . end)' <<<"$input"
  else
    # etcdctl's client-side retry log lines carry times and random target names: drop them.
    grep -v '^{"level":' <<<"$input" | perl -pe 's/compacted revision (\d+)/"compacted revision " . ($1 - '"$base"')/e; s/[0-9a-f]{16}/LEASE/g' || true
  fi
}

compare() { # compare "what" THEIRS OURS
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1"; diff <(echo "$2") <(echo "$3") | head -20 || true; fi
}

# same "what" ARGS...: runs etcdctl ARGS on both (REV+N in arguments is an offset from the base).
same() {
  local what=$1; shift
  local a=() b=() arg
  for arg in "$@"; do
    if [[ $arg =~ ^(.*)REV\+([0-9]+)(.*)$ ]]; then
      a+=("${BASH_REMATCH[1]}$((BASE_ETCD + BASH_REMATCH[2]))${BASH_REMATCH[3]}")
      b+=("${BASH_REMATCH[1]}$((BASE_AGENT + BASH_REMATCH[2]))${BASH_REMATCH[3]}")
    else
      a+=("$arg"); b+=("$arg")
    fi
  done
  local theirs ours
  theirs=$(ectl "$ETCD" "${a[@]}" | normalize "$BASE_ETCD")
  ours=$(ectl "$AGENT" "${b[@]}" | normalize "$BASE_AGENT")
  if [ "$theirs" = "$ours" ]; then
    pass "$what"
  else
    fail "$what"; diff <(echo "$theirs") <(echo "$ours") | head -20 || true
  fi
}

# KV over gRPC
same "put"                        put /diff/a 1 -w json
same "put another"                put /diff/b 2 -w json
same "put with prev-kv"           put /diff/a 3 --prev-kv -w json
same "get prefix"                 get /diff/ --prefix -w json
same "get keys-only, limit, sort desc" get /diff/ --prefix --keys-only --limit 1 --sort-by=KEY --order=DESCEND -w json
same "get sort by modify"         get /diff/ --prefix --sort-by=MODIFY --order=ASCEND -w json
same "get from key"               get /diff/b --from-key -w json
same "get at a past revision"     get /diff/a --rev=REV+1 -w json
same "get missing key"            get /diff/missing -w json
same "delete with prev-kv"        del /diff/b --prev-kv -w json
same "delete missing"             del /diff/missing -w json
# Txn: etcdctl reads compares, then success ops, then failure ops from stdin.
txn() { local ep=$1 base=$2; printf 'mod("/diff/a") = "%s"\n\nput /diff/c 4\n\nget /diff/a\n\n' "$((base + $3))" |
  timeout 10 etcdctl --endpoints="$ep" txn -w json 2>&1; }
t1=$(txn "$ETCD" "$BASE_ETCD" 3 | normalize "$BASE_ETCD"); t2=$(txn "$AGENT" "$BASE_AGENT" 3 | normalize "$BASE_AGENT")
check "txn, compare succeeds" test "$t1" = "$t2"
t1=$(txn "$ETCD" "$BASE_ETCD" 1 | normalize "$BASE_ETCD"); t2=$(txn "$AGENT" "$BASE_AGENT" 1 | normalize "$BASE_AGENT")
check "txn, compare fails" test "$t1" = "$t2"

# etcd's checkIntervals: duplicate puts, or a put inside a delete's range, anywhere in one branch
# (nested txns included) are refused before anything runs; a nested txn's two branches may share.
http_txn() { curl -sS --max-time 5 -X POST "http://$1/v3/kv/txn" -d "$2"; }
P() { printf '{"request_put":{"key":"%s","value":"eA=="}}' "$(printf %s "$1" | base64 -w0)"; }
D() { printf '{"request_delete_range":{"key":"%s","range_end":"%s"}}' "$(printf %s "$1" | base64 -w0)" "$(printf %s "$2" | base64 -w0)"; }
NUL=AA==  # "\0" as range_end
for shape in \
  "put+delete of one key|{\"success\":[$(P /diff/t1),$(D /diff/t1 '')]}" \
  "put, then the same put in a nested txn|{\"success\":[$(P /diff/t1),{\"request_txn\":{\"success\":[$(P /diff/t1)]}}]}" \
  "one key in a nested txn's two branches|{\"success\":[{\"request_txn\":{\"success\":[$(P /diff/t2)],\"failure\":[$(P /diff/t2)]}}]}" \
  "two nested txns putting one key|{\"success\":[{\"request_txn\":{\"success\":[$(P /diff/t3)]}},{\"request_txn\":{\"failure\":[$(P /diff/t3)]}}]}" \
  "a put inside a delete range|{\"success\":[$(D /diff/t4 /diff/t6),$(P /diff/t5)]}" \
  "a nested delete of an outer put|{\"success\":[$(P /diff/t7),{\"request_txn\":{\"success\":[$(D /diff/t7 '')]}}]}" \
  "a delete to \\0 and a put (etcd compares as strings)|{\"success\":[{\"request_delete_range\":{\"key\":\"$(printf /diff/t8 | base64 -w0)\",\"range_end\":\"$NUL\"}},$(P /diff/t9)]}"; do
  t1=$(http_txn "$ETCD" "${shape#*|}" | normalize "$BASE_ETCD"); t2=$(http_txn "$AGENT" "${shape#*|}" | normalize "$BASE_AGENT")
  compare "txn shape: ${shape%%|*}" "$t1" "$t2"
done

# Leases
lease_etcd=$(ectl "$ETCD" lease grant 60 | awk '{print $2}')
lease_agent=$(ectl "$AGENT" lease grant 60 | awk '{print $2}')
check "lease grant" test -n "$lease_etcd" -a -n "$lease_agent"
lease_cmp() { local what=$1; shift
  local theirs ours
  theirs=$(ectl "$ETCD" "${@//LEASE/$lease_etcd}" | normalize "$BASE_ETCD")
  ours=$(ectl "$AGENT" "${@//LEASE/$lease_agent}" | normalize "$BASE_AGENT")
  if [ "$theirs" = "$ours" ]; then pass "$what"; else fail "$what"; diff <(echo "$theirs") <(echo "$ours") | head || true; fi
}
lease_cmp "put with lease"        put /diff/l v --lease=LEASE -w json
lease_cmp "lease timetolive keys" lease timetolive LEASE --keys -w json
lease_cmp "lease keep-alive once" lease keep-alive --once LEASE -w json
lease_cmp "lease revoke"          lease revoke LEASE -w json
same "revoked lease's key is gone" get /diff/l -w json
lease_cmp "timetolive of a revoked lease" lease timetolive LEASE -w json
same "revoke unknown lease"       lease revoke 1234 -w json
# A TTL below etcd's minimum (2 s with its defaults), 0 included, is raised to it.
for ttl in 0 1; do
  t1=$(ectl "$ETCD" lease grant "$ttl" | sed 's/lease [0-9a-f]* //'); t2=$(ectl "$AGENT" lease grant "$ttl" | sed 's/lease [0-9a-f]* //')
  check "lease grant $ttl: $t1 / $t2" test "$t1" = "$t2"
done

# Watch history over gRPC: everything since the base, as events.
watch_events() { timeout 2 etcdctl --endpoints="$1" watch --prefix /diff/ --rev="$2" -w json 2>/dev/null |
  jq -c '.Events[]?' | normalize "$3"; }
compare "watch replay from the base (gRPC)" "$(watch_events "$ETCD" $((BASE_ETCD + 1)) "$BASE_ETCD")" \
  "$(watch_events "$AGENT" $((BASE_AGENT + 1)) "$BASE_AGENT")"

# The same over HTTP, exactly as lua-resty-etcd asks: a readdir and a watch from history.
b64() { printf '%s' "$1" | base64 -w0; }
http_range() { curl -sS --max-time 5 -X POST "http://$1/v3/kv/range" -d "{\"key\":\"$(b64 /diff/)\",\"range_end\":\"$(b64 /diff0)\"}"; }
check "HTTP readdir" test "$(http_range "$ETCD" | normalize "$BASE_ETCD")" = "$(http_range "$AGENT" | normalize "$BASE_AGENT")"
http_watch() { curl -sS -N --max-time 2 -X POST "http://$1/v3/watch" \
  -d "{\"create_request\":{\"key\":\"$(b64 /diff/)\",\"range_end\":\"$(b64 /diff0)\",\"start_revision\":$2}}" 2>/dev/null |
  jq -c '.result.events[]?' | normalize "$3"; }
compare "HTTP watch replay" "$(http_watch "$ETCD" $((BASE_ETCD + 1)) "$BASE_ETCD")" \
  "$(http_watch "$AGENT" $((BASE_AGENT + 1)) "$BASE_AGENT")"

# Compaction (etcd's first compaction may name revision 0)
compare "compact to 0 before any compaction" "$(curl -sS -X POST "http://$ETCD/v3/kv/compaction" -d '{"revision":"0"}' | normalize "$BASE_ETCD")" \
  "$(curl -sS -X POST "http://$AGENT/v3/kv/compaction" -d '{"revision":"0"}' | normalize "$BASE_AGENT")"
same "compact"                    compaction REV+4 -w json
same "get below the compaction"   get /diff/a --rev=REV+2 -w json
same "compact again"              compaction REV+4 -w json
check "HTTP watch from before the compaction: canceled with compact_revision" test \
  "$(curl -sS -N --max-time 2 -X POST "http://$ETCD/v3/watch" -d "{\"create_request\":{\"key\":\"$(b64 /diff/)\",\"range_end\":\"$(b64 /diff0)\",\"start_revision\":$((BASE_ETCD + 1))}}" 2>/dev/null | sed -n 2p | normalize "$BASE_ETCD")" = \
  "$(curl -sS -N --max-time 2 -X POST "http://$AGENT/v3/watch" -d "{\"create_request\":{\"key\":\"$(b64 /diff/)\",\"range_end\":\"$(b64 /diff0)\",\"start_revision\":$((BASE_AGENT + 1))}}" 2>/dev/null | sed -n 2p | normalize "$BASE_AGENT")"

# Errors
same "put without a key"          put "" v -w json
same "get a future revision"      get /diff/a --rev=REV+1000 -w json
finish
