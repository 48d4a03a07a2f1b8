/*
 * The mesh front's table: for each original destination of a captured connection, what the mesh
 * does with it (the agent writes it from the xDS listeners; see docs/interception.md). One line
 * per destination:
 *
 *     # comment
 *     outbound 10.96.0.7:27017 tcp
 *     outbound 0.0.0.0:80 http,passthrough
 *     outbound [::]:80 http,passthrough
 *     outbound *:3306 tcp
 *     outbound *:* passthrough
 *     inbound 0.0.0.0:8080 http,passthrough
 *
 * Destinations: an address ("10.96.0.7", "[fd00::7]"), any IPv4 ("0.0.0.0"), any IPv6 ("[::]")
 * or any ("*"), then ":" and a port or "*" (every port without an entry of its own). Actions:
 * http (APISIX's HTTP routes), tcp (APISIX's stream routes), passthrough (the original
 * destination), blackhole (closed); "http,X" sniffs the first bytes: HTTP goes to http, anything
 * else (or nothing within the detection timeout: server-first protocols) to X.
 *
 * Lookup is Envoy's listener choice: the exact address:port, then the address family's wildcard
 * on that port, then any address on that port, then the same three for "*" ports.
 *
 * Each worker re-reads the file when its inode, size or mtime change (checked at most once a
 * second, when connections arrive); a file that does not parse is refused with the line and the
 * reason in the error log, and the previous table stays in force.
 */
#ifndef NGX_MESH_FRONT_TABLE_H_INCLUDED_
#define NGX_MESH_FRONT_TABLE_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>

enum {
    NGX_MESH_FRONT_NONE = 0,
    NGX_MESH_FRONT_HTTP,
    NGX_MESH_FRONT_TCP,
    NGX_MESH_FRONT_PASSTHROUGH,
    NGX_MESH_FRONT_BLACKHOLE
};

enum {
    NGX_MESH_FRONT_OUTBOUND = 1,
    NGX_MESH_FRONT_INBOUND = 2
};

typedef struct {
    ngx_uint_t  action;     /* NGX_MESH_FRONT_HTTP, _TCP, _PASSTHROUGH, _BLACKHOLE */
    ngx_uint_t  fallback;   /* with action HTTP: what non-HTTP gets (NONE: no sniffing) */
    ngx_uint_t  wildcard;   /* the entry's address is a wildcard (0.0.0.0, [::], *) */
} ngx_mesh_front_entry_t;

/* Reloads `path` when it changed (at most once a second). NGX_OK when a table is loaded. */
ngx_int_t ngx_mesh_front_table_refresh(ngx_str_t *path, ngx_log_t *log);

/* The entry for `dst` (an IPv4 or IPv6 sockaddr) in `direction`, or NULL. */
ngx_mesh_front_entry_t *ngx_mesh_front_table_lookup(ngx_uint_t direction, struct sockaddr *dst, socklen_t len);

/* "http", "tcp", "passthrough", "blackhole" */
ngx_str_t *ngx_mesh_front_action_name(ngx_uint_t action);

#endif /* NGX_MESH_FRONT_TABLE_H_INCLUDED_ */
