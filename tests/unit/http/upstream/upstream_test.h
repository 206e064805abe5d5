/*
 * upstream_test.h: what the upstream group tests share: loading a real configuration (every
 * compiled-in module, as "sluice -t" does) from text, reading back the error log, and
 * driving a group's picks the way the proxy will, printing the result in the recorder's
 * notation (scripts/record-nginx-picks.py):
 *   "2"      the request went to origin 2 (port 18402 by default);
 *   "1+3"    origin 1 failed (refused), the request went on to 3;
 *   "0+1=502" every try failed; "g=502" no live upstreams (the group's name);
 *   "502"    (holding tests) no live upstreams.
 * Included by one test file each; everything is static.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "sl_cycle.h"
#include "sl_pool.h"
#include "sl_time.h"
#include "sl_upstream_group.h"

/* Not every test file uses every helper. */
#define HELPER __attribute__((unused)) static

/* The recorder's origins listen on BASE_PORT + n and answer "n". */
#define BASE_PORT 18400

static char test_dir[64];
static sl_open_file_t log_file;
static sl_log_t test_log;
static sl_cycle_t *cycle;
static sl_pool_t *req_pool;

HELPER int group_setup(void **state)
{
    (void) state;
    snprintf(test_dir, sizeof(test_dir), "/tmp/sl-test-upstream-XXXXXX");
    assert_non_null(mkdtemp(test_dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/error.log", test_dir);
    log_file.fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(log_file.fd >= 0);
    unlink(path);
    sl_str_set(&log_file.name, "error.log");
    memset(&test_log, 0, sizeof(test_log));
    test_log.file = &log_file;
    test_log.log_level = SL_LOG_INFO;
    sl_use_stderr = 0;
    cycle = NULL;
    req_pool = sl_pool_create(4096, &test_log);
    assert_non_null(req_pool);
    /* the failure window is counted in these seconds; the tests move them by hand (the
     * first log line would read the real clock if the date strings were not made yet) */
    sl_time_update();
    sl_cached_time_sec = 1000000;
    return 0;
}

HELPER int group_teardown(void **state)
{
    char path[128];

    (void) state;
    if (cycle) {
        sl_cycle_destroy(cycle);
        cycle = NULL;
    }
    sl_pool_destroy(req_pool);
    close(log_file.fd);
    snprintf(path, sizeof(path), "%s/sluice.conf", test_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/inc.conf", test_dir);
    unlink(path);
    rmdir(test_dir);
    return 0;
}

HELPER void write_file(const char *name, const char *text)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/%s", test_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads "events { <events> } http { <http> }" (line 3 is the first line of http); NULL when
 * the configuration is refused (the reason is in the log). */
HELPER sl_cycle_t *load_conf(const char *events, const char *http)
{
    char text[16384], path[128];

    snprintf(text, sizeof(text), "events { %s }\nhttp {\n%s\n}\n", events, http);
    write_file("sluice.conf", text);
    snprintf(path, sizeof(path), "%s/sluice.conf", test_dir);

    sl_cycle_args_t args;
    memset(&args, 0, sizeof(args));
    args.prefix.data = (u_char *) test_dir;
    args.prefix.len = strlen(test_dir);
    args.conf_file.data = (u_char *) path;
    args.conf_file.len = strlen(path);
    sl_str_set(&args.error_log, "stderr");
    args.test_config = 1;
    if (cycle) {
        sl_cycle_destroy(cycle);
    }
    cycle = sl_cycle_init(&args, &test_log);
    return cycle;
}

/* The same with an empty events block. */
HELPER sl_cycle_t *load_http(const char *http)
{
    return load_conf("", http);
}

/* One log line as "nginx -t" prints it: "[level] message", without the date and the
 * "pid#tid: " part. */
static size_t terse_line(const char *line, size_t len, char *out)
{
    const char *lb = memchr(line, '[', len);
    const char *rb = lb ? memchr(lb, ']', len - (size_t) (lb - line)) : NULL;

    if (rb == NULL) {
        memcpy(out, line, len);
        return len;
    }
    size_t n = (size_t) (rb + 1 - lb);
    memcpy(out, lb, n);
    const char *p = rb + 1, *end = line + len;
    size_t skip = strspn(p, " 0123456789#");
    if (skip > 1 && p + skip < end && p[skip] == ':') {
        p += skip + 1;
    }
    memcpy(out + n, p, (size_t) (end - p));
    return n + (size_t) (end - p);
}

/* Everything logged so far, one terse line each, the temp directory written as "@". */
HELPER const char *log_text(void)
{
    static char buf[8192], terse[8192], out[8192];
    ssize_t n = pread(log_file.fd, buf, sizeof(buf) - 1, 0);
    size_t dl = strlen(test_dir), o = 0, t = 0;

    assert_true(n >= 0);
    buf[n] = '\0';
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t) (nl - line) : strlen(line);
        t += terse_line(line, len, terse + t);
        terse[t++] = '\n';
        line += len + (nl != NULL);
    }
    terse[t] = '\0';
    for (const char *p = terse; *p && o < sizeof(out) - 1;) {
        if (strncmp(p, test_dir, dl) == 0) {
            out[o++] = '@';
            p += dl;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

HELPER void clear_log(void)
{
    assert_int_equal(ftruncate(log_file.fd, 0), 0);
}

#define assert_logged(text)                                                                        \
    do {                                                                                           \
        if (strstr(log_text(), text) == NULL) {                                                    \
            fail_msg("\"%s\" not in the log:\n%s", text, log_text());                              \
        }                                                                                          \
    } while (0)

HELPER sl_upstream_group_t *load_group(const char *http)
{
    sl_str_t name = sl_string("g");

    if (load_http(http) == NULL) {
        fail_msg("refused:\n%s", log_text());
    }
    sl_upstream_group_t *g = sl_upstream_cycle_group(cycle, &name);
    assert_non_null(g);
    return g;
}

/* The recorder's label of the peer just picked: port - BASE_PORT for its origins; the
 * consistent-hash test's other servers are 8 (127.0.0.2:80) and 9 (a unix socket). */
HELPER int peer_label(const sl_upstream_pick_t *pk)
{
    const struct sockaddr *sa = pk->sockaddr;

    if (sa->sa_family == AF_UNIX) {
        return 9;
    }
    assert_int_equal(sa->sa_family, AF_INET);
    int port = ntohs(((const struct sockaddr_in *) sa)->sin_port);
    return port == 80 ? 8 : port - BASE_PORT;
}

HELPER void append(char *out, size_t size, const char *fmt, int v)
{
    size_t len = strlen(out);
    snprintf(out + len, size - len, fmt, v);
}

/*
 * One request as nginx's proxy runs it with the default proxy_next_upstream (error timeout):
 * picks until a peer that is not in `dead` (a bit per label) answers, freeing each dead one
 * as failed, and gives up when no try is left.  Appends the recorder's notation to out.
 */
HELPER void request(sl_upstream_group_t *g, const sl_str_t *key, const struct sockaddr *client,
                    unsigned dead, char *out, size_t size)
{
    sl_upstream_pick_t pk;

    assert_int_equal(sl_upstream_pick_start(&pk, g, req_pool, key, client, &test_log), SL_OK);
    if (*out) {
        append(out, size, " ", 0);
    }
    for (int first = 1;; first = 0) {
        if (!first) {
            append(out, size, "+", 0);
        }
        if (sl_upstream_pick_get(&pk) == SL_BUSY) {
            assert_null(pk.sockaddr);
            size_t len = strlen(out);
            snprintf(out + len, size - len, "%.*s=502", SL_STR_ARG(*pk.name));
            return;
        }
        int label = peer_label(&pk);
        append(out, size, "%d", label);
        if (!(dead & (1u << label))) {
            sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_OK);
            return;
        }
        sl_upstream_pick_free(&pk, SL_UPSTREAM_PEER_FAILED);
        if (pk.tries == 0) {
            append(out, size, "=502", 0);
            return;
        }
    }
}

/* n requests with no key from 127.0.0.1, appended to out. */
HELPER void run_requests(sl_upstream_group_t *g, int n, unsigned dead, char *out, size_t size)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };

    for (int i = 0; i < n; i++) {
        request(g, NULL, (struct sockaddr *) &sin, dead, out, size);
    }
}

HELPER sl_str_t str(const char *s)
{
    sl_str_t v = { strlen(s), (u_char *) s };
    return v;
}

/* A client address for ip_hash: "127.1.2.3" or "::1". */
HELPER struct sockaddr_storage client_addr(const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
    }
    return ss;
}

/*
 * Requests held open, as the recorder's holding origins do (scripts/record-nginx-picks.py
 * --hold): "o" picks for a new request and keeps the connection; "cK" ends the K-th request
 * (counting from 0) as a success.  Appends one label (or "502") per "o" to out.
 */
HELPER void run_holding(sl_upstream_group_t *g, const char *steps, char *out, size_t size)
{
    sl_upstream_pick_t picks[64];
    int n = 0;

    for (const char *p = steps; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (*p == 'o') {
            assert_true(n < 64);
            sl_upstream_pick_t *pk = &picks[n++];
            assert_int_equal(sl_upstream_pick_start(pk, g, req_pool, NULL, NULL, NULL), SL_OK);
            if (*out) {
                append(out, size, " ", 0);
            }
            if (sl_upstream_pick_get(pk) == SL_BUSY) {
                append(out, size, "502", 0);
            } else {
                append(out, size, "%d", peer_label(pk));
            }
            p++;
            continue;
        }
        assert_int_equal(*p, 'c');
        char *end;
        long k = strtol(p + 1, &end, 10);
        assert_true(k >= 0 && k < n);
        sl_upstream_pick_free(&picks[k], SL_UPSTREAM_PEER_OK);
        p = end;
    }
}
