/*
 * sl_upstream_try.c: which peer a try goes to, and whether a failed try may go on to the
 * next one (proxy_next_upstream, _tries, _timeout), as nginx 1.22 decides it.
 *
 * A request with a group picks through the group's balancer; one without (a url with
 * variables that named an address) walks its addresses in order.
 */
#include "sl_upstream.h"
#include "sl_upstream_group.h"
#include "sl_upstream_zone.h"

#define NON_IDEMPOTENT (SL_HTTP_POST | SL_HTTP_LOCK | SL_HTTP_PATCH)

sl_int_t sl__upstream_init_peers(sl_http_request_t *r, sl_upstream_t *u)
{
    sl_uint_t limit = u->conf->next_upstream_tries;

    if (u->group) {
        if (sl_upstream_pick_init(&u->pick, u->group, r) != SL_OK) {
            return SL_ERROR;
        }
        u->pick.log = r->connection->log;
        if (limit && u->pick.tries > limit) {
            u->pick.tries = limit;
        }
        return SL_OK;
    }
    u->tries = limit && u->naddrs > limit ? limit : u->naddrs;
    return SL_OK;
}

sl_int_t sl__upstream_choose_peer(sl_http_request_t *r, sl_upstream_t *u)
{
    if (u->group) {
        sl_upstream_zone_lock(u->group);
        sl_int_t rc = sl_upstream_pick_get(&u->pick);
        sl_upstream_zone_unlock(u->group);
        if (rc != SL_OK) {
            u->peer_name = u->pick.name;
            return SL_BUSY;
        }
        u->picked = 1;
        u->peer.sockaddr = u->pick.sockaddr;
        u->peer.socklen = u->pick.socklen;
        u->peer_name = u->pick.name;
        u->peer.name = (sl_str_t *) u->pick.name;
        return SL_OK;
    }
    if (u->tries == 0) {
        return SL_BUSY;
    }
    sl_addr_t *a = &u->addrs[u->naddrs - u->tries];
    u->picked = 1;
    u->peer.sockaddr = (struct sockaddr *) &a->sockaddr;
    u->peer.socklen = a->socklen;
    u->peer_name = &a->name;
    u->peer.name = &a->name;
    return SL_OK;
}

void sl__upstream_release_peer(sl_upstream_t *u, sl_uint_t state)
{
    if (!u->picked) {
        return;
    }
    u->picked = 0;
    if (u->group) {
        sl_upstream_zone_lock(u->group);
        sl_upstream_pick_free(&u->pick, state);
        sl_upstream_zone_unlock(u->group);
    } else if (u->tries) {
        u->tries--;
    }
}

void sl__upstream_give_back_try(sl_upstream_t *u)
{
    if (u->group) {
        u->pick.tries++;
    } else {
        u->tries++;
    }
}

sl_uint_t sl__upstream_tries_left(const sl_upstream_t *u)
{
    return u->group ? u->pick.tries : u->tries;
}

/*
 * min_tries is 1 after the failed peer was given back, 2 while it is still held (a
 * response status being judged: that try counts until it is released).
 */
int sl__upstream_may_retry(sl_http_request_t *r, sl_upstream_t *u, sl_uint_t ft,
                           sl_uint_t min_tries)
{
    sl_uint_t mask = ft;
    sl_msec_t timeout = u->conf->next_upstream_timeout;

    if (u->request_begun && (r->method & NON_IDEMPOTENT)) {
        mask |= SL_UPSTREAM_FT_NON_IDEMPOTENT;
    }
    if (u->header_sent || sl__upstream_tries_left(u) < min_tries
        || (u->conf->next_upstream & mask) != mask) {
        return 0;
    }
    /* a streamed body cannot be sent again */
    if (u->body_streaming && u->body_started) {
        return 0;
    }
    return !(timeout && sl_current_msec - u->start_msec >= timeout);
}

sl_uint_t sl__upstream_ft_status(sl_uint_t ft)
{
    switch (ft) {
    case SL_UPSTREAM_FT_TIMEOUT:
    case SL_UPSTREAM_FT_HTTP_504:
        return SL_HTTP_GATEWAY_TIME_OUT;
    case SL_UPSTREAM_FT_HTTP_500:
        return SL_HTTP_INTERNAL_SERVER_ERROR;
    case SL_UPSTREAM_FT_HTTP_503:
        return SL_HTTP_SERVICE_UNAVAILABLE;
    case SL_UPSTREAM_FT_HTTP_403:
        return SL_HTTP_FORBIDDEN;
    case SL_UPSTREAM_FT_HTTP_404:
        return SL_HTTP_NOT_FOUND;
    case SL_UPSTREAM_FT_HTTP_429:
        return SL_HTTP_TOO_MANY_REQUESTS;
    default:
        return SL_HTTP_BAD_GATEWAY;
    }
}

sl_uint_t sl__upstream_status_ft(sl_uint_t status)
{
    switch (status) {
    case 500:
        return SL_UPSTREAM_FT_HTTP_500;
    case 502:
        return SL_UPSTREAM_FT_HTTP_502;
    case 503:
        return SL_UPSTREAM_FT_HTTP_503;
    case 504:
        return SL_UPSTREAM_FT_HTTP_504;
    case 403:
        return SL_UPSTREAM_FT_HTTP_403;
    case 404:
        return SL_UPSTREAM_FT_HTTP_404;
    case 429:
        return SL_UPSTREAM_FT_HTTP_429;
    default:
        return 0;
    }
}
