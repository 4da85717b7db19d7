/* Start and stop a real anvil node for tests: a random free loopback port, its
 * own process group (the npm wrapper spawns the native binary, so the group is
 * what gets signalled), and a wait until it answers eth_chainId. */
#ifndef PHX_TEST_ANVIL_PROC_H
#define PHX_TEST_ANVIL_PROC_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/evm.h"

typedef struct {
    pid_t pid;
    int port;
    char url[64];
} anvil_t;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void anvil_stop(anvil_t *a)
{
    if (a->pid <= 0) return;
    kill(-a->pid, SIGTERM);
    for (int i = 0; i < 50; i++) {
        if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
            a->pid = 0;
            return;
        }
        usleep(100 * 1000);
    }
    kill(-a->pid, SIGKILL);
    waitpid(a->pid, NULL, 0);
    a->pid = 0;
}

/* Returns 0 when anvil answers; extra_args may be NULL. */
static int anvil_start(anvil_t *a, const char *extra_arg)
{
    const char *nm = getenv("PHX_NODE_MODULES");
    char bin[1024];
    /* The platform binary itself when present: the .bin/anvil wrapper is a node
     * script whose child would outlive it if the test died. */
    snprintf(bin, sizeof bin, "%s/@foundry-rs/anvil-linux-amd64/bin/anvil",
             nm && *nm ? nm : "node_modules");
    if (access(bin, X_OK) != 0)
        snprintf(bin, sizeof bin, "%s/.bin/anvil", nm && *nm ? nm : "node_modules");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "anvil not found at %s (run scripts/setup.sh)\n", bin);
        return -1;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        a->port = free_port();
        if (a->port <= 0) continue;
        snprintf(a->url, sizeof a->url, "http://127.0.0.1:%d", a->port);
        char port[16];
        snprintf(port, sizeof port, "%d", a->port);
        a->pid = fork();
        if (a->pid < 0) return -1;
        if (a->pid == 0) {
            setpgid(0, 0);
            /* Dies with the test even when the test aborts before anvil_stop(). */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(127);
            int devnull = open("/dev/null", O_RDWR);
            if (devnull >= 0) {
                dup2(devnull, 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
            }
            if (extra_arg)
                execl(bin, bin, "--host", "127.0.0.1", "--port", port, extra_arg, (char *)NULL);
            else
                execl(bin, bin, "--host", "127.0.0.1", "--port", port, (char *)NULL);
            _exit(127);
        }
        setpgid(a->pid, a->pid);
        phx_rpc_opts_t o = {1000, 0, 0};
        phx_rpc_t *rpc = NULL;
        if (phx_rpc_open(a->url, &o, &rpc, NULL)) return -1;
        for (int i = 0; i < 300; i++) {
            uint64_t id;
            if (phx_rpc_chain_id(rpc, &id, NULL) == PHX_OK) {
                phx_rpc_close(rpc);
                return 0;
            }
            if (waitpid(a->pid, NULL, WNOHANG) == a->pid) {
                a->pid = 0;
                break; /* died (port taken?): try another port */
            }
            usleep(100 * 1000);
        }
        phx_rpc_close(rpc);
        anvil_stop(a);
    }
    return -1;
}

#endif
