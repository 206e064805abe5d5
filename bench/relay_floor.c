/*
 * relay_floor.c: the least a proxy can do per request, for bench/floor.sh.
 *
 * Accepts clients on 127.0.0.1:LISTEN_PORT and gives each its own connection to
 * 127.0.0.1:ORIGIN_PORT, then copies bytes both ways and does nothing else: no parsing, no
 * headers, no timers, no logs; one epoll loop, edge-triggered; per chunk one recv() and one
 * send().  With a keepalive client and a keepalive origin that answer each request with one
 * response it works as a proxy, and its CPU time per request is what the kernel's TCP work
 * costs any proxy on this machine: the floor under sluice's and nginx's figures.
 *
 *   relay_floor LISTEN_PORT ORIGIN_PORT       (runs until killed)
 */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"

#define MAX_FD 65536

/* peer[fd]: the other end of fd's pair, or -1 */
static int peer[MAX_FD];

/* A blocking connect (once per client: the keepalive workload never repeats it). */
static int connect_origin(int port)
{
    struct sockaddr_in sa = loopback(port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || fd >= MAX_FD || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void close_pair(int fd)
{
    int other = peer[fd];

    close(fd);
    peer[fd] = -1;
    if (other >= 0) {
        close(other);
        peer[other] = -1;
    }
}

static void add(int ep, int fd)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = fd };

    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void accept_all(int ep, int ls, int origin_port)
{
    for (;;) {
        int one = 1, c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
        if (c < 0) {
            return;
        }
        int u = c < MAX_FD ? connect_origin(origin_port) : -1;
        if (u < 0) {
            close(c);
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        peer[c] = u;
        peer[u] = c;
        add(ep, c);
        add(ep, u);
    }
}

/* Copies what fd has to its peer.  The responses and requests of this workload are small
 * and the peer's buffer is never full, so a short send closes the pair rather than
 * buffering: the floor measures the copy, not flow control. */
static void relay(int fd)
{
    static char buf[65536];

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            close_pair(fd);
            return;
        }
        if (n < 0) {
            return;
        }
        if (send(peer[fd], buf, (size_t) n, MSG_NOSIGNAL) != n) {
            close_pair(fd);
            return;
        }
        if ((size_t) n < sizeof(buf)) {
            return; /* edge-triggered: a short read emptied the socket */
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: relay_floor LISTEN_PORT ORIGIN_PORT\n");
        return 2;
    }
    int ls = listen_on(atoi(argv[1]), "relay_floor"), origin_port = atoi(argv[2]);
    int ep = epoll_create1(0);
    struct epoll_event events[512];

    exit_on_sigquit();
    for (int i = 0; i < MAX_FD; i++) {
        peer[i] = -1;
    }
    add(ep, ls);
    for (;;) {
        int n = epoll_wait(ep, events, 512, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == ls) {
                accept_all(ep, ls, origin_port);
            } else if (peer[fd] >= 0) {
                relay(fd);
            }
        }
    }
}
