/*
 * test_upstream_state.c: the upstream state table, driven through sl__upstream_set_state()
 * on a fake request whose location comes from a real configuration (distinct timeouts, so
 * each timer says which it is).  The expectations are written out here, not read from the
 * table: every legal edge is accepted and every other refused (logged at alert with the
 * states' names, nothing changed); each state sets its log action, keeps or arms its
 * timers on entry, and arms the right timeout on each event while it waits.  The words are
 * nginx 1.22's, which the integration tests check in the error log too.
 *
 * The table is reached through sl_upstream_state.h (sl_upstream_state_row()) and the
 * functions sl_upstream.h declares, not by including the .c.
 */
#include "upstream_test.h"
#include "sl_http.h"
#include "sl_upstream.h"

#define CONNECT_MS 3000
#define SEND_MS 5000
#define READ_MS 7000
#define CLIENT_SEND_MS 11000
/* a timer the previous state left, which entering a state must not keep */
#define STALE_MS 60000

#define N SL_UPSTREAM_NSTATES
#define INIT SL_UPSTREAM_INIT
#define CACHE_SEND SL_UPSTREAM_CACHE_SEND
#define CONNECT SL_UPSTREAM_CONNECT
#define HANDSHAKE SL_UPSTREAM_HANDSHAKE
#define SEND_REQUEST SL_UPSTREAM_SEND_REQUEST
#define READ_HEADER SL_UPSTREAM_READ_HEADER
#define SEND_RESPONSE_HEADER SL_UPSTREAM_SEND_RESPONSE_HEADER
#define BODY_UNBUFFERED SL_UPSTREAM_BODY_UNBUFFERED
#define BODY_BUFFERED SL_UPSTREAM_BODY_BUFFERED
#define TUNNEL SL_UPSTREAM_TUNNEL
#define DONE SL_UPSTREAM_DONE

static const char *const names[N] = {
    "INIT",        "CACHE_SEND",           "CONNECT",         "HANDSHAKE",     "SEND_REQUEST",
    "READ_HEADER", "SEND_RESPONSE_HEADER", "BODY_UNBUFFERED", "BODY_BUFFERED", "TUNNEL",
    "DONE",
};

/* A request on a fake client connection, its upstream on a fake peer connection. */
typedef struct {
    sl_http_request_t r;
    sl_upstream_t u;
    sl_connection_t client, peer;
    sl_event_t client_read, client_write, peer_read, peer_write;
} fake_t;

static fake_t fake;

static void fake_conn(sl_connection_t *c, sl_event_t *rev, sl_event_t *wev)
{
    memset(c, 0, sizeof(*c));
    memset(rev, 0, sizeof(*rev));
    memset(wev, 0, sizeof(*wev));
    c->fd = -1;
    c->log = &test_log;
    c->read = rev;
    c->write = wev;
    rev->data = c;
    rev->log = &test_log;
    wev->data = c;
    wev->log = &test_log;
    wev->write = 1;
}

/* The location of a real configuration: each timeout distinct. */
static int setup(void **state)
{
    extern sl_module_t sl_http_proxy_module;

    group_setup(state);
    assert_non_null(load_http("server { listen 127.0.0.1:1; location / {"
                              " proxy_connect_timeout 3s; proxy_send_timeout 5s;"
                              " proxy_read_timeout 7s; send_timeout 11s; } }"));
    sl_http_conf_ctx_t *ctx = sl_http_cycle_ctx(cycle);
    sl_http_core_main_conf_t *cmcf = ctx->main_conf[sl_http_core_module.ctx_index];
    sl_http_core_srv_conf_t **servers = cmcf->servers.elts;
    sl_http_core_loc_conf_t *srv = servers[0]->ctx->loc_conf[sl_http_core_module.ctx_index];
    sl_http_core_loc_conf_t **locs = srv->locations->elts;

    memset(&fake, 0, sizeof(fake));
    fake_conn(&fake.client, &fake.client_read, &fake.client_write);
    fake_conn(&fake.peer, &fake.peer_read, &fake.peer_write);
    fake.r.pool = req_pool;
    fake.r.connection = &fake.client;
    fake.r.loc_conf = locs[0]->loc_conf;
    fake.u.request = &fake.r;
    fake.u.conf = locs[0]->loc_conf[sl_http_proxy_module.ctx_index];
    fake.u.peer.connection = &fake.peer;
    fake.r.upstream = &fake.u;
    test_log.action = NULL;
    return 0;
}

static void del_timers(void)
{
    sl_del_timer(&fake.peer_read);
    sl_del_timer(&fake.peer_write);
    sl_del_timer(&fake.client_write);
}

static int teardown(void **state)
{
    del_timers();
    sl__timers_free();
    return group_teardown(state);
}

/* ev's timer: none (ms 0), or armed to fire ms from now. */
static void assert_timer(const sl_event_t *ev, sl_msec_t ms, const char *what)
{
    if (ms == 0) {
        if (ev->timer_set) {
            fail_msg("%s: a timer of %lu ms, none wanted", what,
                     (unsigned long) (ev->timer_key - sl_current_msec));
        }
        return;
    }
    if (!ev->timer_set) {
        fail_msg("%s: wanted a timer of %lu ms, got none", what, (unsigned long) ms);
    }
    if (ev->timer_key != sl_current_msec + ms) {
        fail_msg("%s: wanted a timer of %lu ms, got one of %lu", what, (unsigned long) ms,
                 (unsigned long) (ev->timer_key - sl_current_msec));
    }
}

static int legal(sl_upstream_state_e from, sl_upstream_state_e to)
{
    static const sl_upstream_state_e edges[][2] = {
        { INIT, CONNECT },
        /* retries: the next peer, from any state of a try */
        { CONNECT, CONNECT },
        { HANDSHAKE, CONNECT },
        { SEND_REQUEST, CONNECT },
        { READ_HEADER, CONNECT },
        { CONNECT, SEND_REQUEST },
        { CONNECT, HANDSHAKE },
        { HANDSHAKE, SEND_REQUEST },
        { SEND_REQUEST, READ_HEADER },
        { READ_HEADER, SEND_RESPONSE_HEADER },
        { SEND_RESPONSE_HEADER, BODY_UNBUFFERED },
        { SEND_RESPONSE_HEADER, BODY_BUFFERED },
        { SEND_RESPONSE_HEADER, TUNNEL },
        { INIT, CACHE_SEND },
        { CONNECT, CACHE_SEND },
        { HANDSHAKE, CACHE_SEND },
        { SEND_REQUEST, CACHE_SEND },
        { READ_HEADER, CACHE_SEND },
    };

    if (to == DONE) {
        return from != DONE;
    }
    for (size_t i = 0; i < sl_nelems(edges); i++) {
        if (edges[i][0] == from && edges[i][1] == to) {
            return 1;
        }
    }
    return 0;
}

/* Every row is there, named as the enum. */
static void test_rows(void **state)
{
    (void) state;
    for (int st = 0; st < N; st++) {
        const sl_upstream_state_row_t *row = sl_upstream_state_row(st);
        assert_non_null(row);
        assert_non_null(row->name);
        assert_string_equal(row->name, names[st]);
    }
    assert_null(sl_upstream_state_row(N));
    assert_null(sl_upstream_state_row((sl_upstream_state_e) -1));
}

/* Every pair of states: the legal edges are taken, any other is refused and logged. */
static void test_edges(void **state)
{
    char want[128];

    (void) state;
    for (int from = 0; from < N; from++) {
        for (int to = 0; to < N; to++) {
            clear_log();
            del_timers();
            fake.u.state = from;
            test_log.action = "before";
            sl_int_t rc = sl__upstream_set_state(&fake.u, to);
            if (sl_upstream_state_edge_ok(from, to) != legal(from, to)) {
                fail_msg("%s -> %s: the table says %d", names[from], names[to],
                         sl_upstream_state_edge_ok(from, to));
            }
            if (legal(from, to)) {
                if (rc != SL_OK) {
                    fail_msg("%s -> %s refused:\n%s", names[from], names[to], log_text());
                }
                assert_int_equal(fake.u.state, to);
                assert_string_equal(log_text(), "");
                continue;
            }
            if (rc != SL_ERROR) {
                fail_msg("%s -> %s accepted", names[from], names[to]);
            }
            assert_int_equal(fake.u.state, from);
            assert_string_equal(test_log.action, "before");
            snprintf(want, sizeof(want), "[alert] upstream state change from %s to %s refused",
                     names[from], names[to]);
            assert_logged(want);
        }
    }
}

/* Values that are no state: refused both ways, and DONE too. */
static void test_no_state(void **state)
{
    (void) state;
    fake.u.state = CONNECT;
    assert_int_equal(sl__upstream_set_state(&fake.u, N), SL_ERROR);
    assert_int_equal(fake.u.state, CONNECT);
    assert_logged("[alert] upstream state change from CONNECT to (none) refused");
    fake.u.state = N;
    assert_int_equal(sl__upstream_set_state(&fake.u, DONE), SL_ERROR);
    assert_int_equal(fake.u.state, N);
    assert_logged("[alert] upstream state change from (none) to DONE refused");
    assert_false(sl_upstream_state_edge_ok(N, DONE));
    assert_false(sl_upstream_state_edge_ok(DONE, N));
}

/* What each state means: its words, the timers it arms on entry and while it waits. */
typedef struct {
    sl_upstream_state_e st;
    /** entered from here */
    sl_upstream_state_e from;
    const char *action;
    const char *client_action;
    const char *abort_action;
    /** the peer's read and write timers right after entering (0: none) */
    sl_msec_t entry_read, entry_write;
    /** the timers while waiting on the peer's read, the peer's write, the client's write */
    sl_msec_t wait_read, wait_write, wait_client;
} meaning_t;

static const meaning_t meanings[] = {
    { CONNECT, INIT, "connecting to upstream", NULL, "connecting to upstream", 0, CONNECT_MS, 0,
      CONNECT_MS, 0 },
    { HANDSHAKE, CONNECT, "SSL handshaking to upstream", NULL, "SSL handshaking to upstream", 0,
      CONNECT_MS, 0, CONNECT_MS, 0 },
    { SEND_REQUEST, CONNECT, "sending request to upstream", NULL, "sending request to upstream", 0,
      0, 0, SEND_MS, 0 },
    { READ_HEADER, SEND_REQUEST, "reading response header from upstream", NULL,
      "reading response header from upstream", READ_MS, 0, READ_MS, 0, 0 },
    { SEND_RESPONSE_HEADER, READ_HEADER, "reading response header from upstream", NULL,
      "sending request to upstream", 0, 0, 0, 0, 0 },
    { BODY_UNBUFFERED, SEND_RESPONSE_HEADER, "reading upstream", "sending to client",
      "sending to client", READ_MS, 0, READ_MS, 0, 0 },
    { BODY_BUFFERED, SEND_RESPONSE_HEADER, "reading upstream", "sending to client",
      "reading upstream", 0, 0, READ_MS, 0, CLIENT_SEND_MS },
    { TUNNEL, SEND_RESPONSE_HEADER, "proxying upgraded connection", "proxying upgraded connection",
      "sending request to upstream", 0, 0, READ_MS, SEND_MS, CLIENT_SEND_MS },
    { DONE, BODY_BUFFERED, NULL, "sending to client", "sending to client", 0, 0, 0, 0, 0 },
};

static void assert_words(const char *got, const char *want, const char *st, const char *what)
{
    if (want == NULL ? got != NULL : got == NULL || strcmp(got, want) != 0) {
        fail_msg("%s's %s: \"%s\", wanted \"%s\"", st, what, got ? got : "(null)",
                 want ? want : "(null)");
    }
}

static void check_meaning(const meaning_t *m)
{
    const char *name = names[m->st];
    const sl_upstream_state_row_t *row = sl_upstream_state_row(m->st);
    char what[64];

    del_timers();
    sl_add_timer(&fake.peer_read, STALE_MS);
    sl_add_timer(&fake.peer_write, STALE_MS);
    fake.u.state = m->from;
    test_log.action = "before";
    assert_int_equal(sl__upstream_set_state(&fake.u, m->st), SL_OK);
    assert_words(test_log.action, m->action, name, "action");
    assert_words(row->action, m->action, name, "row action");
    assert_words(row->client_action, m->client_action, name, "client action");
    assert_words(row->abort_action, m->abort_action, name, "abort action");
    snprintf(what, sizeof(what), "%s, entered: upstream read", name);
    assert_timer(&fake.peer_read, m->entry_read, what);
    snprintf(what, sizeof(what), "%s, entered: upstream write", name);
    assert_timer(&fake.peer_write, m->entry_write, what);

    /* waiting: each event gets its timer; done waiting, none */
    struct {
        sl_event_t *ev;
        sl_msec_t ms;
        const char *side;
    } waits[] = {
        { &fake.peer_read, m->wait_read, "upstream read" },
        { &fake.peer_write, m->wait_write, "upstream write" },
        { &fake.client_write, m->wait_client, "client write" },
    };
    for (size_t i = 0; i < sl_nelems(waits); i++) {
        sl_del_timer(waits[i].ev);
        sl__upstream_arm_timer(&fake.u, waits[i].ev, 1);
        snprintf(what, sizeof(what), "%s, waiting: %s", name, waits[i].side);
        assert_timer(waits[i].ev, waits[i].ms, what);
        sl__upstream_arm_timer(&fake.u, waits[i].ev, 0);
        snprintf(what, sizeof(what), "%s, not waiting: %s", name, waits[i].side);
        assert_timer(waits[i].ev, 0, what);
    }
}

static void test_meanings(void **state)
{
    (void) state;
    for (size_t i = 0; i < sl_nelems(meanings); i++) {
        check_meaning(&meanings[i]);
    }
    /* INIT is where an upstream starts, never entered: no words, no timers */
    const sl_upstream_state_row_t *row = sl_upstream_state_row(INIT);
    assert_null(row->action);
    assert_null(row->client_action);
    assert_string_equal(row->abort_action, "sending request to upstream");
    fake.u.state = INIT;
    sl__upstream_arm_timer(&fake.u, &fake.peer_read, 1);
    sl__upstream_arm_timer(&fake.u, &fake.peer_write, 1);
    sl__upstream_arm_timer(&fake.u, &fake.client_write, 1);
    assert_timer(&fake.peer_read, 0, "INIT: upstream read");
    assert_timer(&fake.peer_write, 0, "INIT: upstream write");
    assert_timer(&fake.client_write, 0, "INIT: client write");
}

/* CONNECT is entered before connect() (its action words a failure there); the timer
 * comes with the connection. */
static void test_connect_then_connection(void **state)
{
    (void) state;
    fake.u.peer.connection = NULL;
    fake.u.state = INIT;
    assert_int_equal(sl__upstream_set_state(&fake.u, CONNECT), SL_OK);
    assert_string_equal(test_log.action, "connecting to upstream");
    fake.u.peer.connection = &fake.peer;
    assert_timer(&fake.peer_write, 0, "before the connection");
    sl__upstream_state_timers(&fake.u);
    assert_timer(&fake.peer_write, CONNECT_MS, "with the connection: write");
    assert_timer(&fake.peer_read, 0, "with the connection: read");
    /* a kept connection's idle timer goes when the request is sent on it */
    sl_add_timer(&fake.peer_read, STALE_MS);
    assert_int_equal(sl__upstream_set_state(&fake.u, SEND_REQUEST), SL_OK);
    assert_timer(&fake.peer_read, 0, "sending: read");
    assert_timer(&fake.peer_write, 0, "sending: write");
}

/* A whole request, buffered, then a retry: the walk the proxy takes. */
static void test_walk(void **state)
{
    static const sl_upstream_state_e walk[] = {
        CONNECT,     SEND_REQUEST,         READ_HEADER,   CONNECT, SEND_REQUEST,
        READ_HEADER, SEND_RESPONSE_HEADER, BODY_BUFFERED, DONE,
    };

    (void) state;
    fake.u.state = INIT;
    for (size_t i = 0; i < sl_nelems(walk); i++) {
        assert_int_equal(sl__upstream_set_state(&fake.u, walk[i]), SL_OK);
    }
    assert_int_equal(fake.u.state, DONE);
    assert_null(test_log.action);
    assert_timer(&fake.peer_read, 0, "done: read");
    assert_timer(&fake.peer_write, 0, "done: write");
    /* ended once: a second end is refused */
    assert_int_equal(sl__upstream_set_state(&fake.u, DONE), SL_ERROR);
    assert_logged("[alert] upstream state change from DONE to DONE refused");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meanings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect_then_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
