/*
 * The original destination in the stream subsystem, and the mesh front built on it.
 *
 * Variables: $original_dst, $original_dst_addr, $original_dst_port — where a redirected client
 * connection was originally going (see ngx_original_dst.h), or, on a `listen ... proxy_protocol`
 * socket, the destination its PROXY header names. Empty otherwise. $mesh_front_action — what
 * the mesh front decided (http, tcp, passthrough, blackhole).
 *
 *   original_dst_restore on;          (stream, server) the connection's local address becomes its
 *                                     original destination, so $server_addr/$server_port — what
 *                                     APISIX's stream routes match — and a PROXY header sent
 *                                     upstream carry it.
 *   mesh_front_table PATH;            (stream) the table the agent writes (ngx_mesh_front_table.h).
 *   mesh_front outbound|inbound;      (server) decide per connection, in the preread phase, from
 *                                     the table: http, tcp, passthrough or blackhole (closed);
 *                                     "http,X" entries sniff for an HTTP/1.x request line or
 *                                     the HTTP/2 preface.
 *   mesh_front_detect_timeout 1s;     (stream, server) how long "http,X" waits for the client's
 *                                     first bytes before deciding X (server-first protocols
 *                                     such as MySQL send nothing until the server greets).
 *
 * For `tcp` the local address becomes the entry's listener: the destination itself for an
 * address-specific entry, the loopback address of its family for a wildcard one (no redirected
 * connection goes to loopback), so that APISIX's stream routes — equality on server_addr and
 * server_port, no priorities — match exactly one listener.
 *
 * Load with `load_module modules/ngx_stream_original_dst_module.so;` after the stream module
 * itself where that is dynamic (Debian's libnginx-mod-stream).
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_stream.h>

#include "ngx_original_dst.h"
#include "ngx_mesh_front_table.h"

typedef struct {
    ngx_str_t   table;
} ngx_stream_original_dst_main_conf_t;

typedef struct {
    ngx_flag_t  restore;
    ngx_uint_t  front;            /* 0, NGX_MESH_FRONT_OUTBOUND, NGX_MESH_FRONT_INBOUND */
    ngx_msec_t  detect_timeout;
} ngx_stream_original_dst_srv_conf_t;

typedef struct {
    ngx_sockaddr_t         dst;
    socklen_t              dst_len;
    unsigned               looked_up:1;
    unsigned               found:1;
    unsigned               detect_timed_out:1;
    ngx_uint_t             action;
    ngx_event_t            detect_timer;
    ngx_stream_session_t  *session;
} ngx_stream_original_dst_ctx_t;

static ngx_int_t ngx_stream_original_dst_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_stream_original_dst_init(ngx_conf_t *cf);
static void *ngx_stream_original_dst_create_main_conf(ngx_conf_t *cf);
static void *ngx_stream_original_dst_create_srv_conf(ngx_conf_t *cf);
static char *ngx_stream_original_dst_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child);
static char *ngx_stream_mesh_front_table(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_conf_enum_t  ngx_stream_mesh_front_directions[] = {
    { ngx_string("outbound"), NGX_MESH_FRONT_OUTBOUND },
    { ngx_string("inbound"), NGX_MESH_FRONT_INBOUND },
    { ngx_null_string, 0 }
};

static ngx_command_t  ngx_stream_original_dst_commands[] = {
    { ngx_string("original_dst_restore"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_original_dst_srv_conf_t, restore),
      NULL },
    { ngx_string("mesh_front_table"),
      NGX_STREAM_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_stream_mesh_front_table,
      NGX_STREAM_MAIN_CONF_OFFSET,
      0,
      NULL },
    { ngx_string("mesh_front"),
      NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_original_dst_srv_conf_t, front),
      &ngx_stream_mesh_front_directions },
    { ngx_string("mesh_front_detect_timeout"),
      NGX_STREAM_MAIN_CONF|NGX_STREAM_SRV_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_STREAM_SRV_CONF_OFFSET,
      offsetof(ngx_stream_original_dst_srv_conf_t, detect_timeout),
      NULL },
    ngx_null_command
};

static ngx_stream_module_t ngx_stream_original_dst_module_ctx = {
    ngx_stream_original_dst_add_variables,    /* preconfiguration */
    ngx_stream_original_dst_init,             /* postconfiguration */
    ngx_stream_original_dst_create_main_conf, NULL,
    ngx_stream_original_dst_create_srv_conf, ngx_stream_original_dst_merge_srv_conf
};

ngx_module_t ngx_stream_original_dst_module = {
    NGX_MODULE_V1,
    &ngx_stream_original_dst_module_ctx,
    ngx_stream_original_dst_commands,
    NGX_STREAM_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};

static void *
ngx_stream_original_dst_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_stream_original_dst_main_conf_t));
}

static void *
ngx_stream_original_dst_create_srv_conf(ngx_conf_t *cf)
{
    ngx_stream_original_dst_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_stream_original_dst_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }
    conf->restore = NGX_CONF_UNSET;
    conf->front = NGX_CONF_UNSET_UINT;
    conf->detect_timeout = NGX_CONF_UNSET_MSEC;
    return conf;
}

static char *
ngx_stream_original_dst_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_stream_original_dst_srv_conf_t  *prev = parent, *conf = child;

    ngx_conf_merge_value(conf->restore, prev->restore, 0);
    ngx_conf_merge_uint_value(conf->front, prev->front, 0);
    ngx_conf_merge_msec_value(conf->detect_timeout, prev->detect_timeout, 1000);
    return NGX_CONF_OK;
}

static char *
ngx_stream_mesh_front_table(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_stream_original_dst_main_conf_t  *mcf = conf;
    ngx_str_t                            *value = cf->args->elts;

    if (mcf->table.data != NULL) {
        return "is duplicate";
    }
    mcf->table = value[1];
    if (ngx_conf_full_name(cf->cycle, &mcf->table, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static ngx_stream_original_dst_ctx_t *
ngx_stream_original_dst_ctx(ngx_stream_session_t *s)
{
    ngx_stream_original_dst_ctx_t  *ctx;
    ngx_connection_t               *c = s->connection;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_original_dst_module);
    if (ctx == NULL) {
        ctx = ngx_pcalloc(c->pool, sizeof(ngx_stream_original_dst_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }
        ctx->session = s;
        ngx_stream_set_ctx(s, ctx, ngx_stream_original_dst_module);
    }
    if (ctx->looked_up) {
        return ctx;
    }
    ctx->looked_up = 1;

    if (ngx_original_dst_of(c, &ctx->dst, &ctx->dst_len) == NGX_OK) {
        ctx->found = 1;
    }
    return ctx;
}

static ngx_int_t
ngx_stream_original_dst_variable(ngx_stream_session_t *s, ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_stream_original_dst_ctx_t  *ctx;
    u_char                         *buf;

    ctx = ngx_stream_original_dst_ctx(s);
    if (ctx == NULL) {
        return NGX_ERROR;
    }
    buf = ngx_pnalloc(s->connection->pool, NGX_SOCKADDR_STRLEN);
    if (buf == NULL) {
        return NGX_ERROR;
    }
    v->len = ctx->found ? ngx_original_dst_text(&ctx->dst.sockaddr, ctx->dst_len, data, buf) : 0;
    v->data = buf;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_int_t
ngx_stream_mesh_front_action_variable(ngx_stream_session_t *s, ngx_stream_variable_value_t *v, uintptr_t data)
{
    ngx_stream_original_dst_ctx_t  *ctx;
    ngx_str_t                      *name;

    ctx = ngx_stream_get_module_ctx(s, ngx_stream_original_dst_module);
    name = ngx_mesh_front_action_name(ctx ? ctx->action : NGX_MESH_FRONT_NONE);
    v->len = name->len;
    v->data = name->data;
    v->valid = 1;
    v->no_cacheable = 1;   /* decided in the preread phase */
    v->not_found = 0;
    return NGX_OK;
}

static ngx_stream_variable_t ngx_stream_original_dst_vars[] = {
    { ngx_string("original_dst"), NULL, ngx_stream_original_dst_variable, NGX_ORIGINAL_DST_FULL, 0, 0 },
    { ngx_string("original_dst_addr"), NULL, ngx_stream_original_dst_variable, NGX_ORIGINAL_DST_ADDR, 0, 0 },
    { ngx_string("original_dst_port"), NULL, ngx_stream_original_dst_variable, NGX_ORIGINAL_DST_PORT, 0, 0 },
    { ngx_string("mesh_front_action"), NULL, ngx_stream_mesh_front_action_variable, 0, NGX_STREAM_VAR_NOCACHEABLE, 0 },
    ngx_stream_null_variable
};

static ngx_int_t
ngx_stream_original_dst_add_variables(ngx_conf_t *cf)
{
    ngx_stream_variable_t  *var, *v;

    for (v = ngx_stream_original_dst_vars; v->name.len; v++) {
        var = ngx_stream_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}

/* Replaces the connection's local address (what $server_addr, $server_port and a PROXY header
 * sent upstream show). */
static ngx_int_t
ngx_stream_original_dst_set_local(ngx_connection_t *c, struct sockaddr *sa, socklen_t len)
{
    struct sockaddr  *copy;

    copy = ngx_palloc(c->pool, len);
    if (copy == NULL) {
        return NGX_ERROR;
    }
    ngx_memcpy(copy, sa, len);
    c->local_sockaddr = copy;
    c->local_socklen = len;
    return NGX_OK;
}

/* Post-accept: original_dst_restore. */
static ngx_int_t
ngx_stream_original_dst_restore_handler(ngx_stream_session_t *s)
{
    ngx_stream_original_dst_srv_conf_t  *conf;
    ngx_stream_original_dst_ctx_t       *ctx;

    conf = ngx_stream_get_module_srv_conf(s, ngx_stream_original_dst_module);
    if (!conf->restore) {
        return NGX_DECLINED;
    }
    ctx = ngx_stream_original_dst_ctx(s);
    if (ctx == NULL) {
        return NGX_ERROR;
    }
    if (ctx->found && ngx_stream_original_dst_set_local(s->connection, &ctx->dst.sockaddr, ctx->dst_len) != NGX_OK) {
        return NGX_ERROR;
    }
    return NGX_DECLINED;
}

/*
 * Whether [p, last) starts an HTTP/1.x request line ("METHOD SP target SP HTTP/1.") or the
 * HTTP/2 preface ("PRI * HTTP/2.0"): NGX_OK yes, NGX_DECLINED no, NGX_AGAIN not yet known.
 */
static ngx_int_t
ngx_stream_mesh_front_sniff(u_char *p, u_char *last)
{
    static const u_char  version[] = "HTTP/";
    enum { method, target, proto } state = method;
    size_t               n = 0, v = 0;

    for (; p < last; p++, n++) {
        switch (state) {
        case method:
            if (*p == ' ' && n > 0) {
                state = target;
                n = 0;
            } else if (*p < 'A' || *p > 'Z' || n >= 20) {
                return NGX_DECLINED;
            }
            break;
        case target:
            if (*p == ' ' && n > 1) {
                state = proto;
            } else if (*p <= ' ' || *p == 0x7f) {
                return NGX_DECLINED;
            }
            break;
        case proto:
            if (v < 5) {
                if (*p != version[v]) {
                    return NGX_DECLINED;
                }
            } else if (v == 5) {
                return (*p == '1' || *p == '2') ? NGX_OK : NGX_DECLINED;
            }
            v++;
            break;
        }
    }
    return NGX_AGAIN;
}

static void
ngx_stream_mesh_front_detect_timeout_handler(ngx_event_t *ev)
{
    ngx_stream_original_dst_ctx_t  *ctx = ev->data;
    ngx_connection_t               *c = ctx->session->connection;

    ctx->detect_timed_out = 1;
    /* The preread phase waits on the read event's own timer (preread_timeout) and would not
     * call the handler again while it is set. */
    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }
    ngx_stream_core_run_phases(ctx->session);
}

static void
ngx_stream_mesh_front_cleanup(void *data)
{
    ngx_stream_original_dst_ctx_t  *ctx = data;

    if (ctx->detect_timer.timer_set) {
        ngx_del_timer(&ctx->detect_timer);
    }
}

/* Decides `action` for the connection; NGX_DECLINED to go on, NGX_STREAM_FORBIDDEN to close. */
static ngx_int_t
ngx_stream_mesh_front_decide(ngx_stream_session_t *s, ngx_stream_original_dst_ctx_t *ctx,
    ngx_mesh_front_entry_t *e, ngx_uint_t action)
{
    ngx_connection_t     *c = s->connection;
    ngx_sockaddr_t        listener;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ctx->action = action;
    if (ctx->detect_timer.timer_set) {
        ngx_del_timer(&ctx->detect_timer);
    }
    ngx_log_debug1(NGX_LOG_DEBUG_STREAM, c->log, 0, "mesh_front: %V", ngx_mesh_front_action_name(action));
    if (action == NGX_MESH_FRONT_BLACKHOLE) {
        return NGX_STREAM_FORBIDDEN;
    }
    if (action == NGX_MESH_FRONT_TCP) {
        /* The listener the connection belongs to: stream routes match exactly one. */
        ngx_memcpy(&listener, &ctx->dst, ctx->dst_len);
        if (e->wildcard) {
#if (NGX_HAVE_INET6)
            if (listener.sockaddr.sa_family == AF_INET6) {
                sin6 = &listener.sockaddr_in6;
                sin6->sin6_addr = in6addr_loopback;
            } else
#endif
            {
                sin = &listener.sockaddr_in;
                sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            }
        }
        if (ngx_stream_original_dst_set_local(c, &listener.sockaddr, ctx->dst_len) != NGX_OK) {
            return NGX_ERROR;
        }
    }
    return NGX_DECLINED;
}

/* Preread: mesh_front. */
static ngx_int_t
ngx_stream_mesh_front_handler(ngx_stream_session_t *s)
{
    ngx_stream_original_dst_main_conf_t  *mcf;
    ngx_stream_original_dst_srv_conf_t   *conf;
    ngx_stream_original_dst_ctx_t        *ctx;
    ngx_mesh_front_entry_t               *e;
    ngx_connection_t                     *c = s->connection;
    ngx_pool_cleanup_t                   *cln;
    ngx_int_t                             rc;

    conf = ngx_stream_get_module_srv_conf(s, ngx_stream_original_dst_module);
    if (conf->front == 0) {
        return NGX_DECLINED;
    }
    ctx = ngx_stream_original_dst_ctx(s);
    if (ctx == NULL) {
        return NGX_ERROR;
    }
    if (ctx->action != NGX_MESH_FRONT_NONE) {
        return NGX_DECLINED;
    }
    if (!ctx->found) {
        /* Straight to the capture port (not redirected): nowhere to go, and no loop. */
        ngx_log_error(NGX_LOG_INFO, c->log, 0, "mesh_front: the connection was not redirected; closed");
        return NGX_STREAM_FORBIDDEN;
    }
    mcf = ngx_stream_get_module_main_conf(s, ngx_stream_original_dst_module);
    if (mcf->table.data == NULL || ngx_mesh_front_table_refresh(&mcf->table, c->log) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0, "mesh_front: no table loaded; closed");
        return NGX_STREAM_FORBIDDEN;
    }
    e = ngx_mesh_front_table_lookup(conf->front, &ctx->dst.sockaddr, ctx->dst_len);
    if (e == NULL) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0, "mesh_front: no listener for this destination; closed");
        return NGX_STREAM_FORBIDDEN;
    }
    if (e->action != NGX_MESH_FRONT_HTTP || e->fallback == NGX_MESH_FRONT_NONE) {
        return ngx_stream_mesh_front_decide(s, ctx, e, e->action);
    }

    /* http,X: sniff. */
    rc = c->buffer ? ngx_stream_mesh_front_sniff(c->buffer->pos, c->buffer->last) : NGX_AGAIN;
    if (rc == NGX_AGAIN && c->buffer && c->buffer->last == c->buffer->end) {
        rc = NGX_DECLINED;  /* a request line longer than the preread buffer: not HTTP to us */
    }
    if (rc == NGX_AGAIN && ctx->detect_timed_out) {
        rc = NGX_DECLINED;
    }
    if (rc == NGX_OK) {
        return ngx_stream_mesh_front_decide(s, ctx, e, NGX_MESH_FRONT_HTTP);
    }
    if (rc == NGX_DECLINED) {
        return ngx_stream_mesh_front_decide(s, ctx, e, e->fallback);
    }
    if (!ctx->detect_timer.timer_set && !ctx->detect_timed_out) {
        cln = ngx_pool_cleanup_add(c->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }
        cln->handler = ngx_stream_mesh_front_cleanup;
        cln->data = ctx;
        ctx->detect_timer.handler = ngx_stream_mesh_front_detect_timeout_handler;
        ctx->detect_timer.data = ctx;
        ctx->detect_timer.log = c->log;
        ngx_add_timer(&ctx->detect_timer, conf->detect_timeout);
    }
    return NGX_AGAIN;
}

static ngx_int_t
ngx_stream_original_dst_init(ngx_conf_t *cf)
{
    ngx_stream_handler_pt        *h;
    ngx_stream_core_main_conf_t  *cmcf;

    cmcf = ngx_stream_conf_get_module_main_conf(cf, ngx_stream_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_POST_ACCEPT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_stream_original_dst_restore_handler;

    h = ngx_array_push(&cmcf->phases[NGX_STREAM_PREREAD_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }
    *h = ngx_stream_mesh_front_handler;
    return NGX_OK;
}
