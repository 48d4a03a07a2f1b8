#!/usr/bin/env bash
# Bundle mode with a stand-in APISIX (tests/bundle/fake_apisix.cc, playing both `apisix` and its
# nginx): init and init_etcd, then nginx's master in the foreground; the rendered config for both
# layouts, APISIX started only once the agent is ready, access and error logs forwarded apart (levels
# kept), USR1 passed on, crashes restarted, the drain on SIGTERM, graceful stop (and a kill when QUIT
# is ignored), giving up on repeated crashes, the user's config file kept as the operator's base and
# no backups piling up across restarts, and the health endpoints following all of it.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
FAKE_APISIX=$2
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

# run_bundle NAME ARGS...: starts the agent in bundle mode with its own APISIX home and state.
# (The mesh front needs real nginx: tcp_mesh_netns_test.sh; the fake APISIX listens where node_listen says.)
run_bundle() {
  local name=$1; shift
  HOME_DIR="$work/$name/apisix"; STATE="$work/$name/state"; LOG="$work/$name/agent.log"
  mkdir -p "$HOME_DIR/conf" "$STATE"
  APISIX_PORT=$(unused_port 2)
  FAKE_APISIX_STATE="$STATE" "$AGENT_BIN" sidecar --run-mode bundle --apisix-bin-path "$FAKE_APISIX" \
    --apisix-openresty-path "$FAKE_APISIX" --drain-duration "${DRAIN:-0}" \
    --apisix-home-path "$HOME_DIR" --apisix-port "$APISIX_PORT" --apisix-inbound-capture-port $((APISIX_PORT + 1)) \
    --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --mesh-front off "$@" >"$LOG" 2>&1 &
  AGENT_PID=$!
  wait_for 10 grep -qs "health checks on" "$LOG" || { cat "$LOG"; exit 1; }
  HEALTH=$(sed -n 's#.*health checks on http://\([0-9.:]*\)/.*#\1#p' "$LOG")
}
line_of() { grep -n "$1" "$LOG" | head -1 | cut -d: -f1; }
# yaml FILE EXPR: a value of the YAML document (d), as Python prints it.
yaml() { python3 -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
port_open() { timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
ready_status() { curl -s -o /dev/null -w '%{http_code}' "http://$HEALTH/healthz/ready"; }
ready_is() { test "$(ready_status)" = "$1"; }
stop_agent() { local rc=0; kill -TERM "$AGENT_PID"; wait "$AGENT_PID" || rc=$?; AGENT_PID=""; return $rc; }

# 1. APISIX 3.x, file provisioner, a user's config file in place.
echo "apisix: {node_listen: 1984}" >"$work/user-config.yaml"
mkdir -p "$work/three/apisix/conf"; cp "$work/user-config.yaml" "$work/three/apisix/conf/config.yaml"
run_bundle three --xds-watch-files "$EXAMPLES"
check "APISIX comes up" wait_for 10 grep -q "APISIX serves on port $APISIX_PORT" "$LOG"
check "APISIX started after the first configuration was served" \
  test "$(line_of 'ready in')" -lt "$(line_of 'started APISIX')"
agent_port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOG" | head -1)
check "3.x layout: etcd under deployment, pointing at the agent" \
  test "$(yaml "$STATE/config-seen.yaml" "d['deployment']['role'], d['deployment']['etcd']['host']")" = "('traditional', ['http://127.0.0.1:$agent_port'])"
check "node_listen is --apisix-port, then the inbound port" \
  test "$(yaml "$STATE/config-seen.yaml" "d['apisix']['node_listen']")" = "[$APISIX_PORT, $((APISIX_PORT + 1))]"
check "the translated plugins are enabled" test "$(yaml "$STATE/config-seen.yaml" "'traffic-split' in d['plugins']")" = True
check "the access log goes to stdout, the error log to stderr" test \
  "$(yaml "$STATE/config-seen.yaml" "d['nginx_config']['http']['access_log'], d['nginx_config']['error_log']")" = "('/dev/stdout', '/dev/stderr')"
check "the user's config file was moved aside, not overwritten" cmp -s "$work/user-config.yaml" "$HOME_DIR/conf/config.yaml.operator"
check "…and is the base of the render: its keys stay unless the agent owns them" \
  grep -q "apisix.node_listen: the operator's 1984 is replaced by \[$APISIX_PORT, $((APISIX_PORT + 1))\], which --apisix-port" "$LOG"
check "the move is reported" grep -q "was not written by the agent; moved it to" "$LOG"
check "init, then init_etcd, then nginx in the foreground" \
  test "$(awk '{print $1}' "$STATE/events" | head -3 | tr '\n' ' ')" = "init init_etcd start "
check "nginx is started as APISIX's entrypoint starts it" \
  grep -q "started APISIX: $FAKE_APISIX -p $HOME_DIR -c $HOME_DIR/conf/nginx.conf -g daemon off;" "$LOG"
check "error-log lines keep their level" wait_for 5 grep -qE "Z warn apisix: 2026/12/01 00:00:00 \[warn\] [0-9]+#0: fake apisix: serving on $APISIX_PORT" "$LOG"
check "…notices are info" grep -qE "Z info apisix: .*\[notice\] .*start worker processes" "$LOG"
check "the steps' own output reaches the log" grep -q "apisix: fake apisix: init done" "$LOG"
port_open "$APISIX_PORT"; port_open "$APISIX_PORT"
check "access-log lines reach the agent's stdout as they are" \
  wait_for 5 grep -qx '127.0.0.1 - - \[01/Dec/2026:00:00:00 +0000\] "GET /request-2 HTTP/1.1" 200 0' "$LOG"
kill -USR1 "$AGENT_PID"
check "SIGUSR1 makes nginx reopen its logs" wait_for 5 grep -q "^reopen " "$STATE/events"
check "ready once APISIX serves" wait_for 5 ready_is 200
check "live" test "$(curl -s "http://$HEALTH/healthz/live")" = "live"
master=$(awk '/^start/ {p=$2} END {print p}' "$STATE/events")
check "SIGTERM stops the agent cleanly" stop_agent
check "APISIX was asked to quit gracefully" grep -q "^quit $master" "$STATE/events"
check "no APISIX process is left" bash -c "! kill -0 $master 2>/dev/null && ! pgrep -f '^$FAKE_APISIX start' >/dev/null"

# 2. APISIX 2.x that crashes twice, then runs.
FAKE_APISIX_CRASHES=2 run_bundle two --xds-watch-files "$EXAMPLES" --apisix-version 2.x
check "restarted after two crashes" wait_for 20 grep -q "APISIX serves on port $APISIX_PORT" "$LOG"
check "three starts in all" test "$(grep -c '^start' "$STATE/events")" -eq 3
check "the crashes are logged with their status" grep -q "APISIX exited unexpectedly (exit status 3)" "$LOG"
check "2.x layout: top-level etcd block" test "$(yaml "$STATE/config-seen.yaml" "'deployment' in d, d['etcd']['host'][0][:17]")" = "(False, 'http://127.0.0.1:')"
check "no user file, no backup" bash -c "! ls '$HOME_DIR'/conf/config.yaml.user-backup-* '$HOME_DIR'/conf/config.yaml.operator 2>/dev/null"
check "ready after the restarts" wait_for 5 ready_is 200
check "SIGTERM stops it" stop_agent

# 3. No control plane: APISIX waits for --ready-timeout; an APISIX that ignores QUIT is killed.
FAKE_APISIX_IGNORE_QUIT=1 run_bundle waits --provisioner xds-v3-grpc --xds-config-source grpc://127.0.0.1:1 \
  --ready-timeout 2 --apisix-stop-timeout 1
HEALTH_PORT_TAKEN=${HEALTH##*:}  # held by this agent while precheck runs below
check "not ready while no configuration is served" test "$(ready_status)" = 503
check "the probe says why" grep -q "waiting for the first xDS configuration" <(curl -s "http://$HEALTH/healthz/ready")
check "APISIX not started before the timeout" bash -c "! grep -q 'started APISIX' '$LOG'"
check "the timeout starts it, with a warning first" wait_for 10 grep -q "APISIX serves on port" "$LOG"
check "the warning names the flag" test "$(line_of 'no complete xDS configuration after 2 s (--ready-timeout)')" -lt "$(line_of 'started APISIX')"
# precheck: one line per check, non-zero when one fails.
mkdir -p "$work/pre/apisix/conf"
rc=0; out=$("$AGENT_BIN" precheck --apisix-bin-path "$FAKE_APISIX" --apisix-home-path "$work/pre/apisix" \
  --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --apisix-port $((APISIX_PORT + 2)) \
  --apisix-inbound-capture-port $((APISIX_PORT + 3)) 2>&1) || rc=$?
if command -v iptables-restore >/dev/null && [ "$(id -u)" -eq 0 ]; then
  check "precheck passes with a runnable APISIX, iptables and free ports (rc=$rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^precheck passed' <<<'$out' && ! grep -q '^FAIL' <<<'$out' && [ \$(grep -cE '^(ok|WARN) ' <<<'$out') -ge 14 ]"
  # The mesh front's stream module beside the http one: on, its loopback ports checked; else a warning.
  check "precheck says whether TCP goes through the mesh front" \
    grep -qE '^(ok   mesh front \(TCP\): .*ngx_stream_original_dst_module.so will be loaded|WARN mesh front \(TCP\): no ngx_stream_original_dst_module.so)' <<<"$out"
  # Beside the agent (built with nginx-dev) the module is found; without it, a warning, not a failure.
  check "precheck says whether original destinations are available" \
    grep -qE '^(ok   original destinations: .*ngx_http_original_dst_module.so will be loaded|WARN original destinations: no ngx_http_original_dst_module.so)' <<<"$out"
fi
rc=0; out=$("$AGENT_BIN" precheck --apisix-bin-path /nonexistent/apisix --apisix-home-path /nonexistent \
  --grpc-listen "127.0.0.1:$HEALTH_PORT_TAKEN" 2>&1) || rc=$?
check "precheck fails (rc=$rc) naming the missing binary and home" \
  bash -c "[ $rc -eq 1 ] && grep -q '^FAIL APISIX binary: /nonexistent/apisix' <<<'$out' && grep -q '^FAIL APISIX home' <<<'$out'"
check "…and the port that is taken" grep -q "^FAIL etcd API (--grpc-listen) port: 127.0.0.1:$HEALTH_PORT_TAKEN is taken" <<<"$out"

check "SIGTERM still ends the agent" stop_agent
check "QUIT ignored, then killed" grep -q "did not quit within 1000 ms; killing it" "$LOG"
check "the killed APISIX is gone" bash -c "! pgrep -f '^$FAKE_APISIX start' >/dev/null"

# 4. Restarts keep the operator's settings and leave no backups: an operator base with a plugin of
# its own, APISIX rewriting config.yaml at every init (as 3.x does), three starts.
printf 'plugins:\n  - prometheus\nnginx_config:\n  worker_processes: 3\n' >"$work/base.yaml"
for round in 1 2 3; do
  run_bundle restarts --xds-watch-files "$EXAMPLES" --apisix-config-base "$work/base.yaml"
  check "start $round: APISIX serves" wait_for 10 grep -q "APISIX serves on port $APISIX_PORT" "$LOG" ||
    { echo "--- the agent's log:"; cat "$LOG"; echo "--- APISIX's events:"; cat "$STATE/events" 2>/dev/null; }
  check "start $round: the operator's plugin and nginx_config are in, beside the agent's" test \
    "$(yaml "$STATE/config-seen.yaml" "'prometheus' in d['plugins'], 'traffic-split' in d['plugins'], d['nginx_config']['worker_processes']")" = "(True, True, 3)"
  check "start $round: config.yaml (rewritten by init) is still the agent's" bash -c "! grep -q 'was not written by the agent' '$LOG'"
  check "start $round: SIGTERM stops it" stop_agent
done
check "three restarts, no backup file" bash -c "! ls '$HOME_DIR'/conf/config.yaml.* 2>/dev/null"

# 5. The drain: SIGTERM makes the pod unready at once while APISIX keeps serving for
# --drain-duration, then the stop path; a second SIGTERM (or POST /quitquitquit) cuts it short.
DRAIN=3 run_bundle drain --xds-watch-files "$EXAMPLES"
check "drain: ready first" wait_for 10 ready_is 200
kill -TERM "$AGENT_PID"
check "drain: not ready at once after SIGTERM" wait_for 1 ready_is 503
check "drain: the probe says why" grep -q "draining" <(curl -s "http://$HEALTH/healthz/ready")
check "drain: APISIX still serves during the drain" port_open "$APISIX_PORT"
check "drain: no QUIT yet" bash -c "! grep -q '^quit ' '$STATE/events'"
check "drain: then the agent stops by itself" wait_for 8 bash -c "! kill -0 $AGENT_PID 2>/dev/null"
check "drain: APISIX quit gracefully after the drain" grep -q "^quit " "$STATE/events"
check "drain: logged with the flag" grep -q "SIGTERM: draining for 3 s (--drain-duration)" "$LOG"
DRAIN=60 run_bundle quit --xds-watch-files "$EXAMPLES"
check "quitquitquit: refused for GET" test "$(curl -s -o /dev/null -w '%{http_code}' "http://$HEALTH/quitquitquit")" = 405
check "quitquitquit: POST starts the drain" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$HEALTH/quitquitquit")" = 200
check "quitquitquit: not ready" wait_for 2 ready_is 503
kill -TERM "$AGENT_PID"
check "a SIGTERM during the drain stops at once" wait_for 5 bash -c "! kill -0 $AGENT_PID 2>/dev/null"
check "…saying so" grep -q "SIGTERM again: stopping without waiting for the drain" "$LOG"

# 6. An APISIX that never stays up ends the agent with a clear error.
FAKE_APISIX_CRASHES=100 run_bundle broken --xds-watch-files "$EXAMPLES"
rc=0; wait "$AGENT_PID" || rc=$?; AGENT_PID=""
check "the agent exits non-zero (rc=$rc)" test "$rc" -ne 0
check "saying why" grep -q "APISIX exited 5 times in a row within 10 s of starting (last: exit status 3); giving up" "$LOG"
finish
