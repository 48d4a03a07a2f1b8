#!/usr/bin/env bash
# Builds the original-destination modules against an nginx source tree, as dynamic modules.
#   build.sh NGINX_SRC OUT_DIR [configure flags...]
# NGINX_SRC: Debian's nginx-dev tree (/usr/share/nginx/src: its conf_flags are used, so the
# module's signature matches Debian's nginx) or any nginx/OpenResty source directory (then pass
# the flags the target was configured with; --with-compat is enough for binary compatibility).
# Writes OUT_DIR/ngx_http_original_dst_module.so and OUT_DIR/ngx_stream_original_dst_module.so.
set -euo pipefail
src=$1 out=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
work="$out/nginx-build"
rm -rf "$work"
mkdir -p "$work"
cp -a "$src"/. "$work"/
cd "$work"
flags=()
if [ -f conf_flags ]; then
  # shellcheck disable=SC1091
  . ./conf_flags          # Debian: NGX_CONF_FLAGS, the flags its nginx was built with
  flags=("${NGX_CONF_FLAGS[@]}")
fi
flags+=(--with-compat --with-stream=dynamic "$@")
log="$out/nginx-build.log"
if ! ./configure "${flags[@]}" --add-dynamic-module="$here" >"$log" 2>&1; then
  echo "nginx-original-dst: configure failed in $work (last lines of $log):" >&2
  tail -20 "$log" >&2
  exit 1
fi
if ! make -j"$(nproc)" -f objs/Makefile objs/ngx_http_original_dst_module.so objs/ngx_stream_original_dst_module.so \
    >>"$log" 2>&1; then
  echo "nginx-original-dst: make failed (last lines of $log):" >&2
  tail -30 "$log" >&2
  exit 1
fi
cp objs/ngx_http_original_dst_module.so objs/ngx_stream_original_dst_module.so "$out"/
echo "nginx-original-dst: built $out/ngx_http_original_dst_module.so and ngx_stream_original_dst_module.so"
