/* A listening TCP socket on 127.0.0.1 for the tests' own small HTTP servers
 * (test_js, test_fetch_policy hand it to libmicrohttpd). */
#ifndef PHX_TEST_SUPPORT_LOOPBACK_H
#define PHX_TEST_SUPPORT_LOOPBACK_H

/* Listen on 127.0.0.1 on a port the kernel picks (backlog 64), *port set to it.
 * The socket, or -1. */
int test_listen_loopback(int *port);

#endif
