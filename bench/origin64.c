/*
 * origin64.c: an origin that costs as little as an origin can, for bench/proxy.sh's 64-byte
 * rows.  It answers every request head on 127.0.0.1:PORT with the same 200 response (the
 * headers an nginx origin sends: Server, Date, Content-Type, Content-Length, Connection,
 * and a 62-byte body), keeps HTTP/1.1 connections alive and closes after answering an
 * HTTP/1.0 request or one that says "Connection: close".
 *
 * Why not nginx as the origin: with two CPUs, the origin and wrk share the one the proxy
 * does not have, and an nginx origin plus wrk saturate it before the proxy does.  The
 * req/s figure then says how fast that CPU is, not the proxy; and a proxy that waits for
 * its peers sleeps and is woken for each burst, which adds kernel time to every request.
 * With this origin the proxy under test is the bottleneck, as a benchmark of it needs.
 *
 * One epoll loop, edge-triggered; per read one send per complete head.  A head split over
 * reads is answered when its end arrives; the close decision looks at the read that ends
 * the head (the proxies send each head with one write, so it arrives whole on loopback).
 *
 *   origin64 PORT        (runs until killed; SIGQUIT ends it)
 */
#define _GNU_SOURCE /* accept4, memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loopback.h"

#define MAX_FD 65536
#define BODY "0123456789012345678901234567890123456789012345678901234567890\n"

/* matched[fd]: how many bytes of "\r\n\r\n" the last read of fd ended with */
static unsigned char matched[MAX_FD];

static char response[512];
static size_t keepalive_len, close_len;
static char close_response[512];
static time_t response_time;

/* The Date header changes once a second, as an nginx origin's does. */
static void build_responses(time_t now)
{
    static const char *fmt = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: %s\r\n"
                             "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                             "Connection: %s\r\n\r\n%s";
    char date[64];
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    keepalive_len = (size_t) snprintf(response, sizeof(response), fmt, date, sizeof(BODY) - 1,
                                      "keep-alive", BODY);
    close_len = (size_t) snprintf(close_response, sizeof(close_response), fmt, date,
                                  sizeof(BODY) - 1, "close", BODY);
    response_time = now;
}

static void accept_all(int ep, int ls)
{
    for (;;) {
        int one = 1, c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0) {
            return;
        }
        if (c >= MAX_FD) {
            close(c);
            continue;
        }
        struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c };
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        matched[c] = 0;
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    }
}

/* Counts the heads that end in buf[0..n), carrying a partial "\r\n\r\n" over in *m. */
static int heads_ending(const char *buf, ssize_t n, unsigned char *m)
{
    static const char end[] = "\r\n\r\n";
    int heads = 0;

    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == end[*m]) {
            if (++*m == 4) {
                heads++;
                *m = 0;
            }
        } else {
            *m = buf[i] == '\r';
        }
    }
    return heads;
}

static int wants_close(const char *buf, ssize_t n)
{
    const char *eol = memchr(buf, '\n', (size_t) n);

    if (eol != NULL && eol - buf >= 9 && memcmp(eol - 9, "HTTP/1.0", 8) == 0) {
        return 1;
    }
    return memmem(buf, (size_t) n, "\nConnection: close\r", 19) != NULL;
}

/* Reads what fd has and answers each complete head; a short or failed send closes. */
static void serve(int fd)
{
    static char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close(fd);
            return;
        }
        if (n < 0) {
            return;
        }
        int heads = heads_ending(buf, n, &matched[fd]);
        if (heads > 0 && wants_close(buf, n)) {
            (void) send(fd, close_response, close_len, MSG_NOSIGNAL);
            close(fd);
            return;
        }
        for (; heads > 0; heads--) {
            if (send(fd, response, keepalive_len, MSG_NOSIGNAL) != (ssize_t) keepalive_len) {
                close(fd);
                return;
            }
        }
        if ((size_t) n < sizeof(buf)) {
            return; /* edge-triggered: a short read emptied the socket */
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: origin64 PORT\n");
        return 2;
    }
    int ls = listen_on(atoi(argv[1]), "origin64"), ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = ls }, events[512];

    exit_on_sigquit();
    build_responses(time(NULL));
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        int n = epoll_wait(ep, events, 512, 1000);
        time_t now = time(NULL);
        if (now != response_time) {
            build_responses(now);
        }
        for (int i = 0; i < n; i++) {
            if (events[i].data.fd == ls) {
                accept_all(ep, ls);
            } else {
                serve(events[i].data.fd);
            }
        }
    }
}
