/*
 * loopback.h: what the small servers of bench/ (relay_floor.c, origin64.c) share: a
 * listening socket on 127.0.0.1 and the SIGQUIT that ends them, as it ends the servers
 * bench/lib.sh starts (a shell's background job starts with QUIT ignored).  Included by
 * single-file programs built with `cc -O2 -o X bench/X.c`, so everything here is static.
 */
#ifndef BENCH_LOOPBACK_H
#define BENCH_LOOPBACK_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
}

/* A non-blocking listening socket on 127.0.0.1:port; exits the program on failure. */
static int listen_on(int port, const char *who)
{
    struct sockaddr_in sa = loopback(port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0
        || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 || listen(fd, 511) != 0) {
        fprintf(stderr, "%s: listen on port %d: ", who, port);
        perror(NULL);
        exit(1);
    }
    return fd;
}

static void quit_now(int sig)
{
    (void) sig;
    _exit(0);
}

static void exit_on_sigquit(void)
{
    signal(SIGQUIT, quit_now);
}

#endif
