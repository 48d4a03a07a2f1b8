#!/usr/bin/env python3
"""Checks what the etcd sink wrote into a real etcd cluster, with etcdctl as the client.

  etcd_sink_check.py state LOCAL CLUSTER PREFIX OWNER
      The cluster's keys labelled managed-by=OWNER, label removed, equal the routes, upstreams and
      stream routes the agent serves on LOCAL (its own etcd API).
  etcd_sink_check.py history CLUSTER PREFIX OWNER FROM_REV [EXPECTED_REVISIONS_FILE]
      Replays the cluster's history under PREFIX from FROM_REV and checks, revision by revision:
      a revision that changes owned keys carries exactly one put of the sink's marker (one
      transaction); after every revision each owned route and stream route has its upstream (the
      split order); the markers' (agent revision, part) never repeat or go backwards for one agent.
      With EXPECTED_REVISIONS_FILE (the agent's committed revisions, one per line), each of them
      must appear with all its parts. Prints one summary line.
  etcd_sink_check.py writers CLUSTER PREFIX OWNER FROM_REV
      Prints the agents (their host part) that wrote the marker from FROM_REV on.
  etcd_sink_check.py set-route-prefix ROUTES_JSON PREFIX
      An xDS change for the agent's file provisioner: the first route now matches PREFIX.
"""
import base64
import json
import os
import subprocess
import sys


def etcdctl(endpoint, *args, timeout=20, plain=False):
    cmd = ["etcdctl", "--endpoints=" + endpoint, *args]
    env = dict(os.environ, ETCDCTL_API="3")
    if plain:  # the agent's own API: no TLS, no auth (ETCDCTL_* are the cluster's)
        for k in ("ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY", "ETCDCTL_USER"):
            env.pop(k, None)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise SystemExit(f"etcdctl {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout


def b64(s):
    return base64.b64decode(s).decode() if s else ""


def get_prefix(endpoint, prefix, rev=None, plain=False):
    args = ["get", "--prefix", prefix, "-w", "json"]
    if rev:
        args.append(f"--rev={rev}")
    res = json.loads(etcdctl(endpoint, *args, plain=plain))
    return {b64(kv["key"]): b64(kv.get("value", "")) for kv in res.get("kvs", [])}


def owned(value, owner):
    try:
        v = json.loads(value)
    except ValueError:
        return None
    if not isinstance(v, dict) or not isinstance(v.get("labels"), dict) or v["labels"].get("managed-by") != owner:
        return None
    v["labels"].pop("managed-by")
    if not v["labels"]:
        v.pop("labels")
    return v


def objects(kvs, prefix):
    dirs = tuple(f"{prefix}/{d}/" for d in ("routes", "upstreams", "stream_routes"))
    return {k: v for k, v in kvs.items() if k.startswith(dirs) and not k.endswith("/")}


def state(local, cluster, prefix, owner):
    want = {k: json.loads(v) for k, v in objects(get_prefix(local, prefix, plain=True), prefix).items()}
    have = {}
    for k, v in get_prefix(cluster, prefix).items():
        o = owned(v, owner)
        if o is not None:
            have[k] = o
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    differ = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    if missing or extra or differ:
        print(f"state: {len(want)} served, {len(have)} owned in the cluster; missing {missing[:5]} ({len(missing)}), "
              f"extra {extra[:5]} ({len(extra)}), different {differ[:5]} ({len(differ)})")
        return 1
    print(f"state: the cluster holds exactly the {len(want)} objects served")
    return 0


def watch_history(cluster, prefix, from_rev):
    # Replays history and then blocks: ended by the timeout once nothing more arrives.
    cmd = ["timeout", "8", "etcdctl", "--endpoints=" + cluster, "watch", "--prefix", prefix, f"--rev={from_rev}", "-w", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, ETCDCTL_API="3"))
    events = []
    decoder = json.JSONDecoder()
    text, at = out.stdout, 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        msg, at = decoder.raw_decode(text, at)
        for e in msg.get("Events") or []:
            kv = e["kv"]
            events.append((int(kv["mod_revision"]), e.get("type", "PUT"), b64(kv["key"]), b64(kv.get("value", ""))))
    return events


def history(cluster, prefix, owner, from_rev, expected_file=None):
    from_rev = int(from_rev)
    marker_key = f"{prefix}/mesh-agent/{owner}/revision"
    state = {k: v for k, v in get_prefix(cluster, prefix, from_rev - 1).items()} if from_rev > 1 else {}
    by_rev = {}
    for rev, kind, key, value in watch_history(cluster, prefix, from_rev):
        by_rev.setdefault(rev, []).append((kind, key, value))
    problems = []
    markers = []  # (agent, revision, part, parts) in commit order
    last = {}
    for rev in sorted(by_rev):
        evs = by_rev[rev]
        owned_changes = 0
        marks = [json.loads(v) for kind, k, v in evs if k == marker_key and kind == "PUT"]
        for kind, key, value in evs:
            if key == marker_key or key.startswith(f"{prefix}/mesh-agent/"):
                continue
            before = state.get(key)
            if (before is not None and owned(before, owner) is not None) or (kind == "PUT" and owned(value, owner) is not None):
                owned_changes += 1
            if kind == "DELETE":
                state.pop(key, None)
            else:
                state[key] = value
        if owned_changes and len(marks) != 1:
            problems.append(f"revision {rev}: {owned_changes} owned keys changed with {len(marks)} marker puts")
        for m in marks:
            part, parts = (int(x) for x in m["part"].split("/"))
            agent = m["agent"]
            if m.get("kind") == "repair":  # a diff against the cluster: written at the current revision again
                markers.append((agent, m["revision"], part, parts))
                continue
            if agent in last and (m["revision"], part) <= last[agent]:
                problems.append(f"revision {rev}: marker {m} repeats or goes back after {last[agent]}")
            last[agent] = (m["revision"], part)
            markers.append((agent, m["revision"], part, parts))
        # Servable: every owned route and stream route has its upstream.
        for key, value in state.items():
            o = owned(value, owner)
            if o is None or "/upstreams/" in key:
                continue
            up = o.get("upstream_id")
            if up and f"{prefix}/upstreams/{up}" not in state:
                problems.append(f"revision {rev}: {key} points at the missing upstream {up}")
                break
    complete = {(a, r) for a, r, p, n in markers if p == n}
    written = sorted({r for a, r, p, n in markers if p == n})
    if expected_file:
        expected = sorted({int(x) for x in open(expected_file).read().split()})
        lost = [r for r in expected if r not in written]
        if lost:
            problems.append(f"{len(lost)} of {len(expected)} committed changes never reached the cluster whole: {lost[:10]}")
    split = sum(1 for a, r, p, n in markers if n > 1 and p == 1)
    print(f"history: {len(by_rev)} revisions from {from_rev}, {len(markers)} sink transactions, {len(complete)} changes "
          f"written whole ({split} split), {len(problems)} problems")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems else 0


def writers(cluster, prefix, owner, from_rev):
    marker_key = f"{prefix}/mesh-agent/{owner}/revision"
    agents = {json.loads(v)["agent"].split("/")[0] for rev, kind, k, v in watch_history(cluster, marker_key, int(from_rev))
              if k == marker_key and kind == "PUT"}
    print(" ".join(sorted(agents)))
    return 0


def set_route_prefix(path, prefix):
    """An xDS change: the first route of the first RouteConfiguration in PATH matches PREFIX."""
    doc = json.load(open(path))
    doc["resources"][0]["virtualHosts"][0]["routes"][0]["match"]["prefix"] = prefix
    json.dump(doc, open(path + ".tmp", "w"))
    os.rename(path + ".tmp", path)
    return 0


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    sys.exit({"state": state, "history": history, "writers": writers, "set-route-prefix": set_route_prefix}[cmd](*args))
