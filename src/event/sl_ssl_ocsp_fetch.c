/*
 * sl_ssl_ocsp_fetch.c: one OCSP exchange with a responder over plain HTTP (RFC 6960 A.1),
 * in the event loop of a worker: a non-blocking connect to the responder's address, a
 * "GET <path><request>" with the request in base64, and the answer read until the
 * responder closes.  Nothing here blocks: the caller learns the outcome from its callback.
 */
#include <stdio.h>

#include "sl_ssl.h"

/* An OCSP response is a few KiB; a responder that sends more is not answering OCSP. */
#define OCSP_MAX_ANSWER (64 * 1024)
#define OCSP_TIMEOUT_MS 60000

typedef struct {
    sl_connection_t *connection;
    sl_ssl_ocsp_done_pt done;
    void *data;
    sl_log_t *log;
    u_char *request;
    size_t request_len;
    size_t sent;
    u_char *answer;
    size_t len;
    unsigned connected : 1;
} fetch_t;

static void finish(fetch_t *f, const u_char *body, size_t len)
{
    if (f->connection) {
        sl_close_connection(f->connection);
    }
    f->done(f->data, body, len);
    free(f->request);
    free(f->answer);
    free(f);
}

/* The body of a "200" answer, or NULL (logged). */
static const u_char *answer_body(fetch_t *f, size_t *len)
{
    u_char *end = f->answer + f->len;
    u_char *blank = memmem(f->answer, f->len, "\r\n\r\n", 4);
    size_t skip = 4;

    if (blank == NULL) {
        blank = memmem(f->answer, f->len, "\n\n", 2);
        skip = 2;
    }
    if (f->len < 12 || memcmp(f->answer, "HTTP/1.", 7) != 0 || blank == NULL) {
        sl_log_error(SL_LOG_ERR, f->log, 0, "OCSP responder sent invalid response");
        return NULL;
    }
    if (memcmp(f->answer + 8, " 200", 4) != 0) {
        u_char *eol = memchr(f->answer, '\n', f->len);
        int n = (int) ((eol ? eol : end) - f->answer);
        if (n > 0 && f->answer[n - 1] == '\r') {
            n--;
        }
        sl_log_error(SL_LOG_ERR, f->log, 0, "OCSP responder sent unexpected status line \"%.*s\"",
                     n, (char *) f->answer);
        return NULL;
    }
    *len = (size_t) (end - (blank + skip));
    return blank + skip;
}

static void read_answer(sl_event_t *rev)
{
    sl_connection_t *c = rev->data;
    fetch_t *f = c->data;

    if (rev->timedout) {
        sl_log_error(SL_LOG_ERR, f->log, ETIMEDOUT, "OCSP responder timed out");
        finish(f, NULL, 0);
        return;
    }
    for (;;) {
        if (f->len == OCSP_MAX_ANSWER) {
            sl_log_error(SL_LOG_ERR, f->log, 0, "OCSP responder sent too long response");
            finish(f, NULL, 0);
            return;
        }
        ssize_t n = c->io->recv(c, f->answer + f->len, OCSP_MAX_ANSWER - f->len);
        if (n == SL_AGAIN) {
            return;
        }
        if (n == SL_ERROR) {
            finish(f, NULL, 0);
            return;
        }
        if (n == 0) {
            size_t len = 0;
            const u_char *body = answer_body(f, &len);
            finish(f, body, len);
            return;
        }
        f->len += (size_t) n;
    }
}

static void write_request(sl_event_t *wev)
{
    sl_connection_t *c = wev->data;
    fetch_t *f = c->data;

    if (wev->timedout) {
        sl_log_error(SL_LOG_ERR, f->log, ETIMEDOUT, "OCSP responder timed out");
        finish(f, NULL, 0);
        return;
    }
    if (!f->connected) {
        if (sl_connect_check(c) != SL_OK) {
            finish(f, NULL, 0);
            return;
        }
        f->connected = 1;
    }
    while (f->sent < f->request_len) {
        ssize_t n = c->io->send(c, f->request + f->sent, f->request_len - f->sent);
        if (n == SL_AGAIN) {
            return;
        }
        if (n == SL_ERROR) {
            finish(f, NULL, 0);
            return;
        }
        f->sent += (size_t) n;
    }
    if (wev->timer_set) {
        sl_del_timer(wev);
    }
    wev->handler = sl_event_empty_handler;
    c->read->handler = read_answer;
    sl_add_timer(c->read, OCSP_TIMEOUT_MS);
    read_answer(c->read);
}

sl_int_t sl_ssl_ocsp_fetch(const sl_ssl_ocsp_target_t *to, const u_char *der, size_t der_len,
                           sl_log_t *log, sl_ssl_ocsp_done_pt done, void *data)
{
    fetch_t *f = calloc(1, sizeof(fetch_t));
    size_t b64 = 4 * ((der_len + 2) / 3);
    /* "GET " path, the request in base64 with each of "+/=" as "%XX", the header */
    size_t cap = 4 + to->path_len + 3 * b64 + 64 + to->host_len;

    if (f == NULL || (f->request = malloc(cap)) == NULL
        || (f->answer = malloc(OCSP_MAX_ANSWER)) == NULL) {
        sl_log_error(SL_LOG_ALERT, log, errno, "malloc() failed");
        goto failed;
    }
    u_char *encoded = malloc(b64 + 1);
    if (encoded == NULL) {
        sl_log_error(SL_LOG_ALERT, log, errno, "malloc() failed");
        goto failed;
    }
    EVP_EncodeBlock(encoded, der, (int) der_len);
    u_char *p = f->request;
    p += sprintf((char *) p, "GET %.*s", (int) to->path_len, to->path);
    for (size_t i = 0; i < b64; i++) {
        if (encoded[i] == '+' || encoded[i] == '/' || encoded[i] == '=') {
            p += sprintf((char *) p, "%%%02X", encoded[i]);
        } else {
            *p++ = encoded[i];
        }
    }
    free(encoded);
    p += sprintf((char *) p, " HTTP/1.0\r\nHost: %.*s\r\n\r\n", (int) to->host_len, to->host);
    f->request_len = (size_t) (p - f->request);
    f->done = done;
    f->data = data;
    f->log = log;

    sl_str_t name = { to->host_len, (u_char *) to->host };
    sl_peer_connection_t pc = { .sockaddr = (const struct sockaddr *) &to->sockaddr,
                                .socklen = to->socklen,
                                .name = &name,
                                .log = log };
    sl_int_t rc = sl_connect_peer(&pc);
    if (rc != SL_OK && rc != SL_AGAIN) {
        goto failed;
    }
    sl_connection_t *c = pc.connection;
    f->connection = c;
    f->connected = rc == SL_OK;
    c->data = f;
    c->log = log;
    c->write->handler = write_request;
    c->read->handler = sl_event_empty_handler;
    /* a fetch never holds a gracefully stopping worker */
    c->read->cancelable = 1;
    c->write->cancelable = 1;
    sl_add_timer(c->write, OCSP_TIMEOUT_MS);
    if (rc == SL_OK) {
        write_request(c->write);
    }
    return SL_OK;

failed:
    if (f) {
        free(f->request);
        free(f->answer);
        free(f);
    }
    return SL_ERROR;
}
