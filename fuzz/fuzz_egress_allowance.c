/* libFuzzer: an egress allowance as an operator types it (--allow-host
 * HOST:PORT). Any bytes either fail cleanly or give a lower-case host of the
 * allowed characters (or an IPv6 address) and a port in 1..65535; parsing the
 * canonical form "host:port" / "[host]:port" again gives the same answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[512];
    if (size >= sizeof in) return 0;
    memcpy(in, data, size);
    in[size] = 0;
    char host[256], again[256];
    uint16_t port = 0, port2 = 0;
    phx_error_t e = {0};
    if (phx_egress_allowance_parse(in, host, sizeof host, &port, &e) != PHX_OK) {
        if (!e.message[0]) abort();
        return 0;
    }
    if (port == 0 || strlen(host) == 0) abort();
    bool v6 = strchr(host, ':') != NULL;
    for (const char *c = host; *c; c++)
        if (*c >= 'A' && *c <= 'Z') abort();
    char canon[300];
    snprintf(canon, sizeof canon, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
    if (phx_egress_allowance_parse(canon, again, sizeof again, &port2, NULL) != PHX_OK) abort();
    if (port2 != port || strcmp(again, host)) abort();
    return 0;
}
