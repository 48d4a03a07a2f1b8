#!/usr/bin/env python3
"""A stand-in for APISIX's CLI (`apisix init`, `apisix init_etcd`) in the tests that run real nginx.

Bundle mode starts APISIX as APISIX's own container entrypoint does: `apisix init`, `apisix
init_etcd`, then nginx itself in the foreground (`-p HOME -c HOME/conf/nginx.conf -g 'daemon off;'`;
the tests name Debian's nginx as --apisix-openresty-path). This stand-in does what APISIX 3.x's
CLI does with conf/config.yaml, for the parts the agent relies on:

init       validates the document as APISIX's CLI does for these keys, renders conf/nginx.conf in
           the order of APISIX's ngx_tpl.lua — `user` and worker_processes from nginx_config,
           main_configuration_snippet right after them (before events: where load_module must
           be), error_log with its level, `access_log <path> main buffer=16384 flush=3` (or `off`
           with enable_access_log: false), the operator's lua_shared_dicts, node_listen ports as
           `listen` lines of one server on IPv4 and IPv6, http_server_configuration_snippet inside
           it, `location /` running the router in the access phase — and, like 3.x, writes a
           generated admin key back into config.yaml (which drops its comments). It also reads the
           routes and upstreams from the agent's etcd for the router, and lists the enabled plugins
           at /v1/plugins/list as APISIX's control API does (here on the data port).
init_etcd  checks the etcd version (3.4 or newer) and puts APISIX's directory keys, as 2.x/3.0's
           init_etcd does, failing with etcd's message.

With APISIX's stream subsystem on (proxy_mode http&stream, or 2.x's stream_proxy), `init` also
renders it: the stream configuration snippet, then one server on the stream_proxy.tcp addresses
(proxy_protocol when enable_tcp_pp) whose stream routes — read from the agent's etcd at init —
match as APISIX's ip_port router does: equality on server_addr and server_port, a connection
nothing matches closed. nginx_config.http.real_ip_header/real_ip_from are rendered into http {}.

The router (standin_router.lua) evaluates the agent's objects as APISIX does: priority, hosts,
uris, vars with lua-resty-expr operators (incl. "!"), serverless-pre-function's Lua source run as
is (ngx.exec to the rendered named location), upstream nodes, 404 when nothing matches and 502 for
an upstream without nodes. It loads the configuration once, at init (the agent starts APISIX
only after the first configuration is served) — real APISIX watches etcd instead.
"""
import base64
import json
import os
import secrets
import sys
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DIRECTORIES = ["/routes", "/upstreams", "/services", "/plugins", "/consumers", "/node_status", "/ssls",
               "/global_rules", "/stream_routes", "/proto", "/plugin_metadata", "/plugin_configs"]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def etcd_call(host, path, body):
    request = urllib.request.Request(host + path, data=json.dumps(body).encode())
    with urllib.request.urlopen(request, timeout=5) as r:
        return json.load(r)


def etcd_range(host, prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    reply = etcd_call(host, "/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
    out = {}
    for kv in reply.get("kvs", []):
        value = base64.b64decode(kv.get("value", "")).decode()
        if value.startswith("{"):
            obj = json.loads(value)
            if "id" in obj:
                out[obj["id"]] = obj
    return out


def load_config(home):
    path = os.path.join(home, "conf/config.yaml")
    try:
        conf = yaml.safe_load(open(path))
    except (OSError, yaml.YAMLError) as e:
        sys.exit(f"failed to read {path}: {e}")
    if not isinstance(conf, dict):
        sys.exit(f"{path}: not a mapping")
    listen = conf.get("apisix", {}).get("node_listen", 9080)
    # 3.x: a port, or {ip, port}; the ip defaults to every address.
    ports = [(None, listen)] if isinstance(listen, int) else \
        [(None, p) if isinstance(p, int) else (p.get("ip"), p["port"]) for p in listen]
    deployment = conf.get("deployment", {})
    etcd = deployment.get("etcd") or conf.get("etcd")
    if not etcd or not etcd.get("host"):
        sys.exit("etcd.host is required (deployment.etcd for 3.x, etcd for 2.x)")
    return path, conf, ports, etcd


def render_stream(conf, host, prefix, upstreams):
    """APISIX's stream subsystem (proxy_mode http&stream, or 2.x's stream_proxy): one server on the
    stream_proxy.tcp addresses (with proxy_protocol when enable_tcp_pp), the stream configuration
    snippet before it, and the stream routes as APISIX's ip_port router matches them — equality on
    server_addr and server_port, the first match wins, a connection nothing matches is closed —
    rendered as a map from "$server_addr:$server_port" to an upstream of the route's nodes."""
    apisix = conf.get("apisix", {})
    stream_proxy = apisix.get("stream_proxy")
    mode = apisix.get("proxy_mode", "http")
    if not stream_proxy or ("stream" not in mode and stream_proxy.get("only", True)):
        return "", ""
    pp = " proxy_protocol" if (apisix.get("proxy_protocol") or {}).get("enable_tcp_pp") else ""
    listens = "".join(f"        listen {a if isinstance(a, str) else a['addr']}{pp};\n"
                      for a in stream_proxy.get("tcp", []))
    routes = etcd_range(host, prefix + "/stream_routes/")
    keys, blocks = "", ""
    for route in routes.values():
        upstream = route.get("upstream") or upstreams.get(route.get("upstream_id"), {})
        servers = "".join(
            f"        server {n['host'] if ':' not in n['host'] else '[' + n['host'] + ']'}:{n['port']} weight={n['weight']};\n"
            for n in upstream.get("nodes", []) if n.get("weight", 1) > 0)
        if not servers:
            continue  # APISIX: no valid upstream node, the connection is closed
        name = f"stream_route_{route['id']}"
        blocks += f"    upstream {name} {{\n{servers}    }}\n"
        keys += f"        \"{route.get('server_addr', '')}:{route.get('server_port', '')}\" {name};\n"
    nginx = conf.get("nginx_config", {})
    text = f"""stream {{
    # stream configuration snippet starts
{nginx.get("stream_configuration_snippet", "")}
    # stream configuration snippet ends
    map "$server_addr:$server_port" $apisix_stream_route {{
        default "";
{keys}    }}
{blocks}    server {{
{listens}        proxy_pass $apisix_stream_route;
    }}
}}
"""
    # OpenResty has the stream module built in; Debian loads it.
    return text, "load_module /usr/lib/nginx/modules/ngx_stream_module.so;"


def init(home):
    path, conf, ports, etcd = load_config(home)
    host, prefix = etcd["host"][0], etcd.get("prefix", "/apisix")
    routes = list(etcd_range(host, prefix + "/routes/").values())
    upstreams = etcd_range(host, prefix + "/upstreams/")
    os.makedirs(os.path.join(home, "logs"), exist_ok=True)
    with open(os.path.join(home, "conf/objects.json"), "w") as f:
        json.dump({"routes": routes, "upstreams": upstreams, "plugins": conf.get("plugins", [])}, f)

    nginx = conf.get("nginx_config", {})
    http = nginx.get("http", {})
    listens = ""
    for ip, port in ports:
        if ip:
            listens += f"        listen {ip}:{port} default_server;\n"
        else:
            listens += f"        listen 0.0.0.0:{port} default_server;\n        listen [::]:{port} default_server;\n"
    stream, stream_load = render_stream(conf, host, prefix, upstreams)
    user = f"user {nginx['user']};" if nginx.get("user") else ""
    if http.get("enable_access_log") is False:
        access_log = "access_log off;"
    else:
        access_log = f"access_log {http.get('access_log', 'logs/access.log')} main buffer=16384 flush=3;"
    # nginx_config.http.real_ip_header / real_ip_from, as APISIX renders them into http {}.
    realip = ""
    if http.get("real_ip_header"):
        realip += f"    real_ip_header {http['real_ip_header']};\n"
    for source in http.get("real_ip_from") or []:
        realip += f"    set_real_ip_from {source};\n"
    dicts = "".join(f"    lua_shared_dict {name} {size};\n" for name, size in (http.get("lua_shared_dict") or {}).items())
    # OpenResty has ngx_lua built in; Debian loads it as a module (before the snippet, as compiled-in).
    text = f"""# rendered by the APISIX stand-in from conf/config.yaml
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
{stream_load}
master_process on;
worker_processes {nginx.get("worker_processes", 1)};
{user}

# main configuration snippet starts
{nginx.get("main_configuration_snippet", "")}
# main configuration snippet ends

error_log {nginx.get("error_log", "logs/error.log")} {nginx.get("error_log_level", "warn")};
pid logs/nginx.pid;
events {{
    worker_connections 1024;
}}
{stream}
http {{
    lua_package_path "{HERE}/?.lua;;";
{dicts}{realip}    log_format main '$server_port $original_dst_or_none $status $request_uri';
    {access_log}
    client_body_temp_path {home}/logs/body;
    proxy_temp_path {home}/logs/proxy;
    init_by_lua_block {{
        router = require("standin_router")
        router.load("{home}/conf/objects.json")
    }}
    server {{
{listens}
        # http server configuration snippet starts
{nginx.get("http_server_configuration_snippet", "")}
        # http server configuration snippet ends

        location = /v1/plugins/list {{
            content_by_lua_block {{
                router.plugins()
            }}
        }}
        location = /stand-in/missing-file {{
            root {home}/no-such-directory;
        }}
        location / {{
            set $upstream_target '';
            access_by_lua_block {{
                router.access()
            }}
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_pass http://$upstream_target;
        }}
    }}
}}
"""
    # $original_dst exists only where the module is loaded; the access log must not depend on it.
    has_var = "load_module" in nginx.get("main_configuration_snippet", "")
    text = text.replace("http {\n", "http {\n    map $server_port $original_dst_or_none { default "
                        + ("$original_dst" if has_var else "-") + "; }\n", 1)
    with open(os.path.join(home, "conf/nginx.conf"), "w") as f:
        f.write(text)
    # APISIX 3.x writes a generated admin key back into config.yaml (its comments are lost).
    admin = conf.setdefault("deployment", {}).setdefault("admin", {})
    if not admin.get("admin_key"):
        admin["admin_key"] = [{"name": "admin", "key": secrets.token_hex(16), "role": "admin"}]
        with open(path, "w") as f:
            yaml.safe_dump(conf, f)
        print("WARNING: using auto-generated admin key, see conf/config.yaml")


def init_etcd(home):
    _, _, _, etcd = load_config(home)
    host, prefix = etcd["host"][0], etcd.get("prefix", "/apisix")
    try:
        with urllib.request.urlopen(host + "/version", timeout=5) as r:
            version = json.load(r)
        if tuple(int(x) for x in version["etcdcluster"].split(".")[:2]) < (3, 4):
            sys.exit(f"etcd cluster version {version['etcdcluster']} is less than the required version 3.4.0")
        for directory in DIRECTORIES:
            reply = etcd_call(host, "/v3/kv/put", {"key": b64(prefix + directory + "/"), "value": b64("init_dir")})
            if "error" in reply:
                sys.exit(f"failed to put {prefix}{directory}/: {reply['error']}")
    except OSError as e:
        sys.exit(f"request etcd endpoint '{host}' error, {e}")


def main():
    home = os.getcwd()
    commands = {"init": init, "init_etcd": init_etcd}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit("usage: apisix_standin init|init_etcd (in APISIX's home directory)")
    commands[sys.argv[1]](home)


main()
