/* One way for the C tests to run a real anvil node (npm @foundry-rs/anvil) on
 * loopback, and the helpers around it. The shell tests use anvil.sh beside
 * this file, which follows the same steps. */
#ifndef PHX_TEST_SUPPORT_ANVIL_H
#define PHX_TEST_SUPPORT_ANVIL_H

#include <sys/types.h>

typedef struct {
    pid_t pid; /* leader of the node's own process group; 0 when stopped */
    int port;
    char url[64];      /* http://127.0.0.1:PORT */
    char log_path[64]; /* the node's output, read only to learn its port */
} test_anvil_t;

/* Anvil's well-known development keys (public test keys, each funded with 10000
 * ETH on a fresh node), as 64 hex digits without 0x. */
extern const char *const test_anvil_keys[5];

/* The node_modules folder: $PHX_NODE_MODULES, else $PHX_SOURCE_DIR/node_modules,
 * else ./node_modules. Static storage. */
const char *test_node_modules(void);

/* Start a node on a port the kernel picks (--port 0: nothing to race for), in
 * its own process group, killed by the kernel should the test die first.
 * extra_arg (e.g. "--hardfork=berlin") may be NULL. 0 when it listens; -1 with
 * a message on stderr otherwise. */
int test_anvil_start(test_anvil_t *a, const char *extra_arg);

/* Stop the node and its group, remove its log; safe to call twice. */
void test_anvil_stop(test_anvil_t *a);

#endif
