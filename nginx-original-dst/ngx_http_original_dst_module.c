/*
 * $original_dst, $original_dst_addr, $original_dst_port in the http subsystem: where a
 * redirected client connection was originally going (see ngx_original_dst.h). Empty for
 * connections that were not redirected. Load with
 *     load_module modules/ngx_http_original_dst_module.so;
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_original_dst.h"

static ngx_int_t ngx_http_original_dst_add_variables(ngx_conf_t *cf);

static ngx_http_module_t ngx_http_original_dst_module_ctx = {
    ngx_http_original_dst_add_variables,  /* preconfiguration */
    NULL,                                 /* postconfiguration */
    NULL, NULL,                           /* main conf */
    NULL, NULL,                           /* server conf */
    NULL, NULL                            /* location conf */
};

ngx_module_t ngx_http_original_dst_module = {
    NGX_MODULE_V1,
    &ngx_http_original_dst_module_ctx,
    NULL,                                 /* no directives */
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};

static ngx_int_t
ngx_http_original_dst_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char  *buf;

    buf = ngx_pnalloc(r->pool, NGX_SOCKADDR_STRLEN);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_original_dst_format(r->connection, data, buf);
    v->data = buf;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

static ngx_http_variable_t ngx_http_original_dst_vars[] = {
    { ngx_string("original_dst"), NULL, ngx_http_original_dst_variable, NGX_ORIGINAL_DST_FULL, 0, 0 },
    { ngx_string("original_dst_addr"), NULL, ngx_http_original_dst_variable, NGX_ORIGINAL_DST_ADDR, 0, 0 },
    { ngx_string("original_dst_port"), NULL, ngx_http_original_dst_variable, NGX_ORIGINAL_DST_PORT, 0, 0 },
    ngx_http_null_variable
};

static ngx_int_t
ngx_http_original_dst_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_original_dst_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}
