#!/usr/bin/env python3
"""A stand-in for `apisix start` in the data-path tests, on Debian's nginx and lua-nginx-module.

It does what APISIX 3.x does with the agent's conf/config.yaml, for the parts the agent relies on:
renders conf/nginx.conf in the order of APISIX's ngx_tpl.lua (main_configuration_snippet right
after worker_processes, before events — where load_module must be; node_listen ports as
`listen` lines of one server, on IPv4 and IPv6 as enable_ipv6 does; http_server_configuration_snippet
inside that server; `location /` running the router in the access phase), reads the routes and
upstreams from the agent's etcd (HTTP gateway, deployment.etcd.host/prefix), and execs nginx in
the foreground (`daemon off` comes from the snippet) so the agent supervises it.

The router (standin_router.lua) evaluates the agent's objects as APISIX does: priority, hosts,
uris, vars with lua-resty-expr operators (incl. "!"), serverless-pre-function's Lua source run as
is (ngx.exec to the rendered named location), upstream nodes, 404 when nothing matches and 502 for
an upstream without nodes. It loads the configuration once at start (the agent starts APISIX only
after the first configuration is served).
"""
import base64
import json
import os
import sys
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))


def etcd_range(host, prefix):
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    body = json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                       "range_end": base64.b64encode(end.encode()).decode()}).encode()
    with urllib.request.urlopen(urllib.request.Request(host + "/v3/kv/range", data=body), timeout=5) as r:
        reply = json.load(r)
    out = {}
    for kv in reply.get("kvs", []):
        value = base64.b64decode(kv.get("value", "")).decode()
        if value.startswith("{"):
            obj = json.loads(value)
            if "id" in obj:
                out[obj["id"]] = obj
    return out


def main():
    if sys.argv[1:] != ["start"]:
        sys.exit("usage: apisix_standin start (in APISIX's home directory)")
    home = os.getcwd()
    conf = yaml.safe_load(open(os.path.join(home, "conf/config.yaml")))
    deployment = conf.get("deployment", {})
    etcd = deployment.get("etcd") or conf.get("etcd")
    host, prefix = etcd["host"][0], etcd["prefix"]
    routes = list(etcd_range(host, prefix + "/routes/").values())
    upstreams = etcd_range(host, prefix + "/upstreams/")
    os.makedirs(os.path.join(home, "logs"), exist_ok=True)
    with open(os.path.join(home, "conf/objects.json"), "w") as f:
        json.dump({"routes": routes, "upstreams": upstreams}, f)

    nginx = conf.get("nginx_config", {})
    listens = ""
    for port in conf["apisix"]["node_listen"]:
        listens += f"        listen 0.0.0.0:{port} default_server;\n        listen [::]:{port} default_server;\n"
    # OpenResty has ngx_lua built in; Debian loads it as a module (before the snippet, as compiled-in).
    text = f"""# rendered by the APISIX stand-in from conf/config.yaml
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
master_process on;
worker_processes 1;
user nobody {"nobody" if os.system("getent group nobody >/dev/null") == 0 else "nogroup"};

# main configuration snippet starts
{nginx.get("main_configuration_snippet", "")}
# main configuration snippet ends

error_log {nginx.get("error_log", "logs/error.log")} warn;
pid logs/nginx.pid;
events {{
    worker_connections 1024;
}}
http {{
    lua_package_path "{HERE}/?.lua;;";
    log_format standin '$server_port $original_dst_or_none $status';
    access_log {nginx.get("http", {}).get("access_log", "logs/access.log")} standin;
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
    os.execvp("nginx", ["nginx", "-p", home, "-c", os.path.join(home, "conf/nginx.conf")])


main()
