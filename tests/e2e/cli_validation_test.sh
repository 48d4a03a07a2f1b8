#!/usr/bin/env bash
# Flags are checked before anything starts: a clear message naming the flag, a non-zero exit, and
# no listening socket left behind.
source "$(dirname "$0")/lib.sh"
AGENT_BIN=$1
EXAMPLES="$(cd "$(dirname "$0")/../../examples/xds" && pwd)"

# expect_error "description" "expected text" args...
expect_error() {
  local what=$1 text=$2; shift 2
  local out rc=0
  out=$(timeout 10 "$AGENT_BIN" "$@" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -qF -- "$text" <<<"$out"; then
    pass "$what"
  else
    fail "$what (exit $rc): $out"
  fi
}

expect_error "unknown provisioner" '--provisioner: unknown value "xds-v2"' sidecar --provisioner xds-v2 --xds-watch-files "$EXAMPLES"
expect_error "grpc needs a config source" "--xds-config-source option is required" sidecar --provisioner xds-v3-grpc
expect_error "TLS flags need grpcs://" "need a grpcs:// --xds-config-source" \
  sidecar --provisioner xds-v3-grpc --xds-config-source grpc://127.0.0.1:15010 --xds-ca-file /etc/hostname
expect_error "bundle needs APISIX's home" "--apisix-home-path: /nonexistent is not a directory" \
  sidecar --run-mode bundle --xds-watch-files "$EXAMPLES" --apisix-home-path /nonexistent
expect_error "bundle needs APISIX's binary" "--apisix-bin-path: /nonexistent/apisix: No such file or directory" \
  sidecar --run-mode bundle --xds-watch-files "$EXAMPLES" --apisix-home-path /tmp --apisix-bin-path /nonexistent/apisix
expect_error "unknown xDS protocol" '--xds-protocol: unknown value "v2"' \
  sidecar --provisioner xds-v3-grpc --xds-config-source grpc://127.0.0.1:15010 --xds-protocol v2
expect_error "listen must be IP:port" '--grpc-listen: "localhost:2379" is not IP:port' \
  sidecar --xds-watch-files "$EXAMPLES" --grpc-listen localhost:2379
expect_error "bad log level" '--log-level: unknown value "verbose"' sidecar --xds-watch-files "$EXAMPLES" --log-level verbose
expect_error "unwritable log output" "--log-output: cannot open" sidecar --xds-watch-files "$EXAMPLES" --log-output /nonexistent/dir/agent.log --grpc-listen 127.0.0.1:0
expect_error "missing watch path" "--xds-watch-files: /nonexistent: No such file or directory" sidecar --xds-watch-files /nonexistent
expect_error "unknown flag" "--no-such-flag" sidecar --no-such-flag
expect_error "a sub-command is required" "A subcommand is required" 

check "version prints the version" bash -c "'$AGENT_BIN' version | grep -Eq '^apisix-mesh-agent [0-9]+\.[0-9]+\.[0-9]+'"
check "sidecar --help lists the original flags" bash -c "'$AGENT_BIN' sidecar --help | grep -q -- '--xds-config-source' && '$AGENT_BIN' sidecar --help | grep -q -- '--etcd-key-prefix'"
check "version --help works" bash -c "'$AGENT_BIN' version --help >/dev/null"

# Watch paths: repeatable and comma-separated.
work=$(mktemp -d)
trap 'kill ${AGENT_PID:-} 2>/dev/null || true; rm -rf "$work"' EXIT
cp "$EXAMPLES/clusters.json" "$EXAMPLES/endpoints.json" "$work/"
cp "$EXAMPLES/routes.json" "$work/routes.json"
"$AGENT_BIN" sidecar --xds-watch-files "$work/clusters.json,$work/endpoints.json" --xds-watch-files "$work/routes.json" \
  --grpc-listen 127.0.0.1:0 --health-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 >"$work/agent.log" 2>&1 &
AGENT_PID=$!
check "comma-separated and repeated --xds-watch-files are all loaded" wait_for 10 grep -q "5 routes, 3 upstreams" "$work/agent.log"
kill "$AGENT_PID"; wait "$AGENT_PID" || true
finish
