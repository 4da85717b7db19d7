/* The Registry's worker lifecycle events as a follower reads them (the
 * gateway's discovery, docs/gateway.md "Discovery"). Registered, deregistered
 * and invalidated are read from their indexed topics only; WorkerEndpoint's
 * URL is ABI-decoded and held to Registry.setWorkerEndpoint's rule again, so
 * a node that serves a forged log cannot hand a reader an odd URL. */
#include <pthread.h>
#include <string.h>

#include "phx/chain.h"

static uint8_t topics[4][32];
static bool topics_ok;
static pthread_once_t topics_once = PTHREAD_ONCE_INIT;

static void topics_init(void)
{
    static const char *const sigs[4] = {
        PHX_CHAIN_EV_WORKER_REGISTERED, PHX_CHAIN_EV_WORKER_DEREGISTERED,
        PHX_CHAIN_EV_WORKER_INVALIDATED, PHX_CHAIN_EV_WORKER_ENDPOINT};
    topics_ok = true;
    for (int k = 0; k < 4; k++)
        topics_ok &= phx_abi_event_topic(sigs[k], topics[k], NULL) == PHX_OK;
}

phx_err_t phx_chain_registry_event_topics(uint8_t out[4][32], phx_error_t *e)
{
    pthread_once(&topics_once, topics_init);
    if (!topics_ok) return phx_fail(e, PHX_ERR_INTERNAL, "Registry event topics");
    memcpy(out, topics, sizeof topics);
    return PHX_OK;
}

/* An indexed address: 12 zero bytes, then the address. */
static phx_err_t topic_address(const uint8_t t[32], uint8_t out[20], phx_error_t *e)
{
    static const uint8_t zero[12] = {0};
    if (memcmp(t, zero, 12) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "Registry event: an address topic is not an address");
    memcpy(out, t + 12, 20);
    return PHX_OK;
}

phx_err_t phx_chain_parse_registry_event(const phx_evm_log_t *log, phx_chain_registry_event_t *out,
                                         phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    pthread_once(&topics_once, topics_init);
    if (!topics_ok) return phx_fail(e, PHX_ERR_INTERNAL, "Registry event topics");
    if (log->topic_count < 1) return phx_fail(e, PHX_ERR_NOT_FOUND, "log without topics");
    int kind = 0;
    for (int k = 0; k < 4 && !kind; k++)
        if (memcmp(log->topics[0], topics[k], 32) == 0) kind = k + 1;
    if (!kind) return phx_fail(e, PHX_ERR_NOT_FOUND, "not a Registry worker event");
    /* indexed: registered (worker, operator, kms), deregistered and
     * invalidated (worker, operator), endpoint (worker) */
    size_t want = kind == PHX_CHAIN_REG_EV_REGISTERED ? 4
                  : kind == PHX_CHAIN_REG_EV_ENDPOINT ? 2
                                                      : 3;
    if (log->topic_count != want)
        return phx_fail(e, PHX_ERR_INVALID, "Registry event: %zu topics, want %zu",
                        log->topic_count, want);
    phx_err_t err = topic_address(log->topics[1], out->worker, e);
    if (!err && kind != PHX_CHAIN_REG_EV_ENDPOINT)
        err = topic_address(log->topics[2], out->operator_, e);
    if (err) return err;
    out->kind = (phx_chain_registry_event_kind_t)kind;
    if (kind != PHX_CHAIN_REG_EV_ENDPOINT) return PHX_OK;
    phx_abi_value_t *v = NULL;
    if ((err = phx_abi_decode_log(PHX_CHAIN_EV_WORKER_ENDPOINT, false, log, &v, e))) return err;
    if (v->count != 2)
        err = phx_fail(e, PHX_ERR_INVALID, "WorkerEndpoint: %zu fields", v->count);
    else if (!(err = phx_chain_endpoint_check((const char *)v->items[1].bytes, v->items[1].len, e)))
        memcpy(out->url, v->items[1].bytes, v->items[1].len), out->url[v->items[1].len] = '\0';
    phx_abi_value_free(v);
    if (err) memset(out, 0, sizeof *out);
    return err;
}
