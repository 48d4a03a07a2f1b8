/*
 * The original destination of a connection that iptables REDIRECT (or DNAT) sent to nginx:
 * getsockopt(SO_ORIGINAL_DST) for IPv4, getsockopt(IP6T_SO_ORIGINAL_DST) for IPv6, both read
 * from conntrack. Shared by the http and the stream modules (static: each module is its own .so).
 *
 * A connection counts as redirected only when conntrack has an original destination for it and
 * that destination differs from the socket's local address; otherwise the variables are empty.
 */
#ifndef NGX_ORIGINAL_DST_H_INCLUDED_
#define NGX_ORIGINAL_DST_H_INCLUDED_

#include <ngx_config.h>
#include <ngx_core.h>

#include <netinet/in.h>

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80      /* <linux/netfilter_ipv4.h> */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* <linux/netfilter_ipv6/ip6_tables.h> */
#endif

/* What a variable shows (the variable's `data`). */
enum {
    NGX_ORIGINAL_DST_FULL = 0,  /* "10.0.0.5:8080", "[fd00::5]:8080" */
    NGX_ORIGINAL_DST_ADDR,      /* "10.0.0.5", "fd00::5" */
    NGX_ORIGINAL_DST_PORT       /* "8080" */
};

/*
 * Fills `sa`/`len` with the original destination of `c`. NGX_OK when the connection was
 * redirected, NGX_DECLINED when it was not (or is not TCP over IP), NGX_ERROR when the local
 * address cannot be read.
 */
static ngx_inline ngx_int_t
ngx_original_dst_lookup(ngx_connection_t *c, struct sockaddr *sa, socklen_t *len)
{
    int        level, name;
    socklen_t  n;

    /* The connection's own address: a wildcard listener's (0.0.0.0:9080) is replaced by
     * getsockname()'s. */
    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    switch (c->local_sockaddr->sa_family) {
    case AF_INET:
        level = SOL_IP;
        name = SO_ORIGINAL_DST;
        n = sizeof(struct sockaddr_in);
        break;
#if (NGX_HAVE_INET6)
    case AF_INET6:
        level = SOL_IPV6;
        name = IP6T_SO_ORIGINAL_DST;
        n = sizeof(struct sockaddr_in6);
        break;
#endif
    default:
        return NGX_DECLINED;
    }

    if (c->type != SOCK_STREAM) {
        return NGX_DECLINED;
    }

    ngx_memzero(sa, n);
    if (getsockopt(c->fd, level, name, sa, &n) == -1) {
        /* ENOENT: conntrack has no entry (not redirected, or conntrack not loaded) */
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, c->log, ngx_socket_errno,
                       "original_dst: getsockopt(%d) failed", name);
        return NGX_DECLINED;
    }

    if (ngx_cmp_sockaddr(sa, n, c->local_sockaddr, c->local_socklen, 1) == NGX_OK) {
        return NGX_DECLINED;  /* the connection was for this address: not redirected */
    }

    *len = n;
    return NGX_OK;
}

/*
 * The original destination of `c`: on a `listen ... proxy_protocol` socket the destination its
 * PROXY header names (a front on loopback that restored it), otherwise the kernel's. NGX_OK when
 * there is one.
 */
static ngx_inline ngx_int_t
ngx_original_dst_of(ngx_connection_t *c, ngx_sockaddr_t *sa, socklen_t *len)
{
    ngx_addr_t  addr;

    if (c->proxy_protocol != NULL) {
        if (c->proxy_protocol->dst_addr.len == 0
            || ngx_parse_addr(c->pool, &addr, c->proxy_protocol->dst_addr.data,
                              c->proxy_protocol->dst_addr.len) != NGX_OK
            || addr.socklen > (socklen_t) sizeof(ngx_sockaddr_t)) {
            return NGX_DECLINED;
        }
        ngx_memcpy(sa, addr.sockaddr, addr.socklen);
        *len = addr.socklen;
        ngx_inet_set_port(&sa->sockaddr, c->proxy_protocol->dst_port);
        return NGX_OK;
    }
    return ngx_original_dst_lookup(c, &sa->sockaddr, len);
}

/* Writes the text of `what` for `sa` into `buf` (at least NGX_SOCKADDR_STRLEN bytes); returns its length. */
static ngx_inline size_t
ngx_original_dst_text(struct sockaddr *sa, socklen_t len, ngx_uint_t what, u_char *buf)
{
    switch (what) {
    case NGX_ORIGINAL_DST_ADDR:
        return ngx_sock_ntop(sa, len, buf, NGX_SOCKADDR_STRLEN, 0);
    case NGX_ORIGINAL_DST_PORT:
        return ngx_sprintf(buf, "%ui", ngx_inet_get_port(sa)) - buf;
    default:
        return ngx_sock_ntop(sa, len, buf, NGX_SOCKADDR_STRLEN, 1);
    }
}

/*
 * Writes the text of `what` for connection `c` into `buf` (at least NGX_SOCKADDR_STRLEN bytes);
 * returns its length, 0 when the connection has no original destination.
 */
static ngx_inline size_t
ngx_original_dst_format(ngx_connection_t *c, ngx_uint_t what, u_char *buf)
{
    ngx_sockaddr_t  sa;
    socklen_t       len;

    if (ngx_original_dst_of(c, &sa, &len) != NGX_OK) {
        return 0;
    }
    return ngx_original_dst_text(&sa.sockaddr, len, what, buf);
}

#endif /* NGX_ORIGINAL_DST_H_INCLUDED_ */
