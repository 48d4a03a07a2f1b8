#!/usr/bin/env bash
# Bundle mode with a stand-in APISIX (tests/bundle/fake_apisix.cc): the rendered config for both
# layouts, APISIX started only once the agent is ready, output forwarded, crashes restarted,
# graceful stop on SIGTERM (and a kill when QUIT is ignored), giving up on repeated crashes, the
# user's config file kept, and the health endpoints following all of it.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
FAKE_APISIX=$2
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

# run_bundle NAME ARGS...: starts the agent in bundle mode with its own APISIX home and state.
run_bundle() {
  local name=$1; shift
  HOME_DIR="$work/$name/apisix"; STATE="$work/$name/state"; LOG="$work/$name/agent.log"
  mkdir -p "$HOME_DIR/conf" "$STATE"
  APISIX_PORT=$((20000 + RANDOM % 20000))
  FAKE_APISIX_STATE="$STATE" "$AGENT_BIN" sidecar --run-mode bundle --apisix-bin-path "$FAKE_APISIX" \
    --apisix-home-path "$HOME_DIR" --apisix-port "$APISIX_PORT" --apisix-inbound-capture-port $((APISIX_PORT + 1)) \
    --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 "$@" >"$LOG" 2>&1 &
  AGENT_PID=$!
  wait_for 10 grep -qs "health checks on" "$LOG" || { cat "$LOG"; exit 1; }
  HEALTH=$(sed -n 's#.*health checks on http://\([0-9.:]*\)/.*#\1#p' "$LOG")
}
line_of() { grep -n "$1" "$LOG" | head -1 | cut -d: -f1; }
ready_status() { curl -s -o /dev/null -w '%{http_code}' "http://$HEALTH/healthz/ready"; }
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
  grep -Pzq "deployment:\n  role: traditional\n  role_traditional:\n    config_provider: etcd\n  etcd:\n    host:\n      - \"http://127.0.0.1:$agent_port\"" "$STATE/config-seen.yaml"
check "node_listen is --apisix-port, then the inbound port" \
  grep -Pzq "node_listen:\n    - $APISIX_PORT\n    - $((APISIX_PORT + 1))\n" "$STATE/config-seen.yaml"
check "the translated plugins are enabled" grep -q "  - traffic-split" "$STATE/config-seen.yaml"
check "the user's config file was moved aside, not overwritten" \
  cmp -s "$work/user-config.yaml" "$(ls "$HOME_DIR"/conf/config.yaml.user-backup-* | head -1)"
check "the move is reported" grep -q "was not written by the agent; moved it to" "$LOG"
check "APISIX's output reaches the agent's log" grep -q "apisix: fake apisix: serving on $APISIX_PORT" "$LOG"
check "ready once APISIX serves" wait_for 5 test "$(ready_status)" = 200
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
check "2.x layout: top-level etcd block" grep -Pzq "\netcd:\n  host:\n    - \"http://127.0.0.1:" "$STATE/config-seen.yaml"
check "no user file, no backup" bash -c "! ls '$HOME_DIR'/conf/config.yaml.user-backup-* 2>/dev/null"
check "ready after the restarts" wait_for 5 test "$(ready_status)" = 200
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
  --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --apisix-port $((APISIX_PORT + 2)) \
  --apisix-inbound-capture-port $((APISIX_PORT + 3)) 2>&1) || rc=$?
if command -v iptables-restore >/dev/null && [ "$(id -u)" -eq 0 ]; then
  check "precheck passes with a runnable APISIX, iptables and free ports (rc=$rc)" \
    bash -c "[ $rc -eq 0 ] && grep -q '^precheck passed' <<<'$out' && [ \$(grep -cE '^(ok|WARN) ' <<<'$out') -eq 12 ]"
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

# 4. An APISIX that never stays up ends the agent with a clear error.
FAKE_APISIX_CRASHES=100 run_bundle broken --xds-watch-files "$EXAMPLES"
rc=0; wait "$AGENT_PID" || rc=$?; AGENT_PID=""
check "the agent exits non-zero (rc=$rc)" test "$rc" -ne 0
check "saying why" grep -q "APISIX exited 5 times in a row within 10 s of starting (last: exit status 3); giving up" "$LOG"
finish
