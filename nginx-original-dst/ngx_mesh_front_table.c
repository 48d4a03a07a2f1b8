/*
 * The mesh front's table (see ngx_mesh_front_table.h): parsed per worker, looked up per
 * connection with a binary search on the destination text.
 */
#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_mesh_front_table.h"

typedef struct {
    ngx_str_t               key;       /* "10.96.0.7:27017", "0.0.0.0:80", "*:*" */
    ngx_mesh_front_entry_t  entry;
} ngx_mesh_front_row_t;

typedef struct {
    ngx_pool_t   *pool;
    ngx_array_t  *rows[3];     /* by direction, sorted by key */
} ngx_mesh_front_table_t;

/* One per worker process. */
static ngx_mesh_front_table_t  ngx_mesh_front_current;
static time_t                  ngx_mesh_front_checked = -1;
static ngx_file_uniq_t         ngx_mesh_front_uniq;
static time_t                  ngx_mesh_front_mtime;
static off_t                   ngx_mesh_front_size = -1;

static ngx_str_t  ngx_mesh_front_names[] = {
    ngx_string(""), ngx_string("http"), ngx_string("tcp"), ngx_string("passthrough"), ngx_string("blackhole")
};

ngx_str_t *
ngx_mesh_front_action_name(ngx_uint_t action)
{
    return &ngx_mesh_front_names[action <= NGX_MESH_FRONT_BLACKHOLE ? action : 0];
}

static ngx_uint_t
ngx_mesh_front_parse_action(u_char *p, size_t len)
{
    ngx_uint_t  i;

    for (i = NGX_MESH_FRONT_HTTP; i <= NGX_MESH_FRONT_BLACKHOLE; i++) {
        if (ngx_mesh_front_names[i].len == len && ngx_strncmp(ngx_mesh_front_names[i].data, p, len) == 0) {
            return i;
        }
    }
    return NGX_MESH_FRONT_NONE;
}

static int ngx_libc_cdecl
ngx_mesh_front_cmp(const void *one, const void *two)
{
    const ngx_mesh_front_row_t  *a = one, *b = two;

    return ngx_memn2cmp(a->key.data, b->key.data, a->key.len, b->key.len);
}

/* The next space-separated token of [*pos, end); its length is 0 at the end of the line. */
static ngx_str_t
ngx_mesh_front_token(u_char **pos, u_char *end)
{
    ngx_str_t  t;
    u_char    *p = *pos;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    t.data = p;
    while (p < end && *p != ' ' && *p != '\t') {
        p++;
    }
    t.len = p - t.data;
    *pos = p;
    return t;
}

/* A destination: (address | [address] | 0.0.0.0 | [::] | *) ":" (port | *). */
static const char *
ngx_mesh_front_check_destination(ngx_str_t *d, ngx_uint_t *wildcard)
{
    u_char     *colon, *p;
    ngx_int_t   port;

    colon = NULL;
    for (p = d->data + d->len; p > d->data; p--) {
        if (p[-1] == ':') {
            colon = p - 1;
            break;
        }
    }
    if (colon == NULL || colon == d->data || colon == d->data + d->len - 1) {
        return "a destination is ADDRESS:PORT";
    }
    if (!(colon + 2 == d->data + d->len && colon[1] == '*')) {
        port = ngx_atoi(colon + 1, d->data + d->len - colon - 1);
        if (port < 1 || port > 65535) {
            return "the port is not 1-65535 or *";
        }
    }
    *wildcard = (colon - d->data == 1 && d->data[0] == '*')
                || (colon - d->data == 7 && ngx_strncmp(d->data, "0.0.0.0", 7) == 0)
                || (colon - d->data == 4 && ngx_strncmp(d->data, "[::]", 4) == 0);
    if (d->data[0] == '[' && colon[-1] != ']') {
        return "an IPv6 address is in brackets";
    }
    return NULL;
}

static ngx_int_t
ngx_mesh_front_parse(ngx_mesh_front_table_t *t, u_char *text, size_t size, ngx_str_t *path, ngx_log_t *log)
{
    u_char                *p, *end, *line_end, *comma;
    ngx_str_t              dir, dest, action, extra;
    ngx_uint_t             line, d, i;
    const char            *err;
    ngx_mesh_front_row_t  *row;

    for (d = 1; d <= 2; d++) {
        t->rows[d] = ngx_array_create(t->pool, 64, sizeof(ngx_mesh_front_row_t));
        if (t->rows[d] == NULL) {
            return NGX_ERROR;
        }
    }

    p = text;
    end = text + size;
    for (line = 1; p < end; line++, p = line_end + 1) {
        line_end = ngx_strlchr(p, end, '\n');
        if (line_end == NULL) {
            line_end = end;
        }
        dir = ngx_mesh_front_token(&p, line_end);
        if (dir.len == 0 || dir.data[0] == '#') {
            continue;
        }
        dest = ngx_mesh_front_token(&p, line_end);
        action = ngx_mesh_front_token(&p, line_end);
        extra = ngx_mesh_front_token(&p, line_end);
        err = NULL;
        if (dir.len == 8 && ngx_strncmp(dir.data, "outbound", 8) == 0) {
            d = NGX_MESH_FRONT_OUTBOUND;
        } else if (dir.len == 7 && ngx_strncmp(dir.data, "inbound", 7) == 0) {
            d = NGX_MESH_FRONT_INBOUND;
        } else {
            err = "the direction is outbound or inbound";
        }
        if (err == NULL && (dest.len == 0 || action.len == 0 || extra.len != 0)) {
            err = "a line is DIRECTION DESTINATION ACTION";
        }
        row = NULL;
        if (err == NULL) {
            row = ngx_array_push(t->rows[d]);
            if (row == NULL) {
                return NGX_ERROR;
            }
            ngx_memzero(row, sizeof(*row));
            row->key = dest;
            err = ngx_mesh_front_check_destination(&dest, &row->entry.wildcard);
        }
        if (err == NULL) {
            comma = ngx_strlchr(action.data, action.data + action.len, ',');
            if (comma == NULL) {
                row->entry.action = ngx_mesh_front_parse_action(action.data, action.len);
            } else {
                row->entry.action = ngx_mesh_front_parse_action(action.data, comma - action.data);
                row->entry.fallback = ngx_mesh_front_parse_action(comma + 1, action.data + action.len - comma - 1);
                if (row->entry.action != NGX_MESH_FRONT_HTTP || row->entry.fallback == NGX_MESH_FRONT_NONE
                    || row->entry.fallback == NGX_MESH_FRONT_HTTP) {
                    err = "a sniffing action is http,tcp, http,passthrough or http,blackhole";
                }
            }
            if (err == NULL && row->entry.action == NGX_MESH_FRONT_NONE) {
                err = "the action is http, tcp, passthrough, blackhole or http,<one of the others>";
            }
        }
        if (err != NULL) {
            ngx_log_error(NGX_LOG_ERR, log, 0, "mesh_front_table \"%V\", line %ui: %s; the previous table stays in force",
                          path, line, err);
            return NGX_ERROR;
        }
    }

    for (d = 1; d <= 2; d++) {
        ngx_qsort(t->rows[d]->elts, t->rows[d]->nelts, sizeof(ngx_mesh_front_row_t), ngx_mesh_front_cmp);
        row = t->rows[d]->elts;
        for (i = 1; i < t->rows[d]->nelts; i++) {
            if (ngx_mesh_front_cmp(&row[i - 1], &row[i]) == 0) {
                ngx_log_error(NGX_LOG_ERR, log, 0,
                              "mesh_front_table \"%V\": %V appears twice; the previous table stays in force",
                              path, &row[i].key);
                return NGX_ERROR;
            }
        }
    }
    return NGX_OK;
}

ngx_int_t
ngx_mesh_front_table_refresh(ngx_str_t *path, ngx_log_t *log)
{
    ngx_fd_t                fd;
    ngx_file_info_t         fi;
    ngx_file_t              file;
    ssize_t                 n;
    u_char                 *text;
    ngx_mesh_front_table_t  next;

    if (ngx_mesh_front_checked == ngx_time()) {
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    ngx_mesh_front_checked = ngx_time();

    /* Opened first and identified by its descriptor: the agent replaces the file by rename, so
     * what is read is one whole version. (path is NUL-terminated: ngx_conf_full_name made it.) */
    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE || ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        if (ngx_mesh_front_size != -2) {
            ngx_log_error(NGX_LOG_ERR, log, ngx_errno, "mesh_front_table \"%V\": cannot open; %s", path,
                          ngx_mesh_front_current.pool ? "the previous table stays in force" : "no table yet");
            ngx_mesh_front_size = -2;
        }
        if (fd != NGX_INVALID_FILE) {
            ngx_close_file(fd);
        }
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    if (ngx_file_uniq(&fi) == ngx_mesh_front_uniq && ngx_file_size(&fi) == ngx_mesh_front_size
        && ngx_file_mtime(&fi) == ngx_mesh_front_mtime) {
        ngx_close_file(fd);
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    /* Recorded before reading: a table that does not parse is reported once, not every second. */
    ngx_mesh_front_uniq = ngx_file_uniq(&fi);
    ngx_mesh_front_size = ngx_file_size(&fi);
    ngx_mesh_front_mtime = ngx_file_mtime(&fi);

    next.pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (next.pool == NULL) {
        ngx_close_file(fd);
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    text = ngx_pnalloc(next.pool, ngx_file_size(&fi) + 1);
    if (text == NULL) {
        ngx_close_file(fd);
        ngx_destroy_pool(next.pool);
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *path;
    file.log = log;
    n = ngx_read_file(&file, text, ngx_file_size(&fi), 0);
    ngx_close_file(fd);
    if (n != ngx_file_size(&fi)) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno, "mesh_front_table \"%V\": short read; the previous table stays in force",
                      path);
        ngx_mesh_front_size = -1;  /* read again at the next check */
        ngx_destroy_pool(next.pool);
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    if (ngx_mesh_front_parse(&next, text, n, path, log) != NGX_OK) {
        ngx_destroy_pool(next.pool);
        return ngx_mesh_front_current.pool ? NGX_OK : NGX_ERROR;
    }
    if (ngx_mesh_front_current.pool) {
        ngx_destroy_pool(ngx_mesh_front_current.pool);
    }
    ngx_mesh_front_current = next;
    ngx_log_error(NGX_LOG_NOTICE, log, 0, "mesh_front_table \"%V\": %ui outbound and %ui inbound destinations",
                  path, next.rows[1]->nelts, next.rows[2]->nelts);
    return NGX_OK;
}

static ngx_mesh_front_entry_t *
ngx_mesh_front_find(ngx_array_t *rows, u_char *key, size_t len)
{
    ngx_mesh_front_row_t  *row = rows->elts;
    ngx_uint_t             lo = 0, hi = rows->nelts, mid;
    ngx_int_t              c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = ngx_memn2cmp(row[mid].key.data, key, row[mid].key.len, len);
        if (c == 0) {
            return &row[mid].entry;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

ngx_mesh_front_entry_t *
ngx_mesh_front_table_lookup(ngx_uint_t direction, struct sockaddr *dst, socklen_t len)
{
    u_char                   addr[NGX_SOCKADDR_STRLEN + 2], key[NGX_SOCKADDR_STRLEN + 16];
    size_t                   alen, klen;
    ngx_uint_t               i, j;
    ngx_str_t                addrs[3], ports[2];
    u_char                   port[8];
    ngx_mesh_front_entry_t  *e;
    ngx_array_t             *rows;

    if (ngx_mesh_front_current.pool == NULL || direction < 1 || direction > 2) {
        return NULL;
    }
    rows = ngx_mesh_front_current.rows[direction];

    if (dst->sa_family == AF_INET6) {
        addr[0] = '[';
        alen = ngx_sock_ntop(dst, len, addr + 1, NGX_SOCKADDR_STRLEN, 0);
        addr[alen + 1] = ']';
        alen += 2;
        ngx_str_set(&addrs[1], "[::]");
    } else {
        alen = ngx_sock_ntop(dst, len, addr, NGX_SOCKADDR_STRLEN, 0);
        ngx_str_set(&addrs[1], "0.0.0.0");
    }
    addrs[0].data = addr;
    addrs[0].len = alen;
    ngx_str_set(&addrs[2], "*");
    ports[0].data = port;
    ports[0].len = ngx_sprintf(port, "%ui", (ngx_uint_t) ngx_inet_get_port(dst)) - port;
    ngx_str_set(&ports[1], "*");

    for (j = 0; j < 2; j++) {
        for (i = 0; i < 3; i++) {
            klen = ngx_sprintf(key, "%V:%V", &addrs[i], &ports[j]) - key;
            e = ngx_mesh_front_find(rows, key, klen);
            if (e != NULL) {
                return e;
            }
        }
    }
    return NULL;
}
