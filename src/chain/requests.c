/* The one reader of on-chain requests: the Jobs contract's events through the
 * src/evm log follower (pages, reorg detection by block hash, rollback), kept
 * by request id. Requested adds a request; Fulfilled settles it (failed when
 * its callback reverted, CallbackFailed says the same); Refunded settles it
 * the other way. A rollback drops the requests of void blocks and reopens the
 * settlements made in them. Ids are issued in order, so the array stays sorted
 * by id and a rollback truncates it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain_requests.h"

#define CALLBACK_FAILED_SIG "CallbackFailed(uint256 indexed requestId,bytes reason)"
#define EV_COUNT 4

/* topic0 of the four events, in PHX_CHAIN_JOBS_EV_* order. */
static uint8_t ev_topics[EV_COUNT][32];
static bool ev_topics_ok;
static pthread_once_t ev_once = PTHREAD_ONCE_INIT;

static void ev_topics_init(void)
{
    static const char *const sigs[EV_COUNT] = {PHX_CHAIN_EV_REQUESTED, PHX_CHAIN_EV_FULFILLED,
                                               PHX_CHAIN_EV_REFUNDED, CALLBACK_FAILED_SIG};
    ev_topics_ok = true;
    for (int k = 0; k < EV_COUNT; k++)
        ev_topics_ok &= phx_abi_event_topic(sigs[k], ev_topics[k], NULL) == PHX_OK;
}

struct phx_chain_requests {
    pthread_mutex_t lock;
    phx_rpc_t *rpc;
    phx_evm_follower_t *follower;
    phx_chain_request_entry_t *items; /* ascending by id */
    size_t n, cap;
    uint64_t time_block, time_value; /* the last block timestamp read */
    bool have_time;
};

const char *phx_chain_request_status_name(uint8_t status)
{
    static const char *const names[] = {"none", "pending", "fulfilled", "failed", "refunded"};
    return status < sizeof names / sizeof names[0] ? names[status] : "unknown";
}

static void entry_clear(phx_chain_request_entry_t *x)
{
    free(x->operators);
    x->operators = NULL;
    x->operator_count = 0;
}

static phx_chain_request_entry_t *find(phx_chain_requests_t *r, uint64_t id)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->items[mid].id == id) return &r->items[mid];
        if (r->items[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static phx_err_t block_time(phx_chain_requests_t *r, uint64_t block, uint64_t *out, phx_error_t *e)
{
    if (!r->have_time || r->time_block != block) {
        phx_err_t err = phx_rpc_get_block_time(r->rpc, block, &r->time_value, e);
        if (err) return err;
        r->time_block = block;
        r->have_time = true;
    }
    *out = r->time_value;
    return PHX_OK;
}

/* topics[1] of the settling events: the request id. */
static phx_err_t indexed_id(const phx_evm_log_t *log, uint64_t *id, phx_error_t *e)
{
    phx_u256_t v;
    if (log->topic_count < 2) return phx_fail(e, PHX_ERR_INVALID, "Jobs event without its id");
    memcpy(v.b, log->topics[1], 32);
    return phx_u256_to_u64(&v, id, e);
}

void phx_chain_jobs_event_clear(phx_chain_jobs_event_t *ev)
{
    if (!ev) return;
    phx_chain_requested_clear(&ev->requested);
    free(ev->operators);
    memset(ev, 0, sizeof *ev);
}

static phx_err_t parse_fulfilled(const phx_evm_log_t *log, phx_chain_jobs_event_t *out,
                                 phx_error_t *e)
{
    phx_abi_value_t *v = NULL;
    phx_err_t err = phx_abi_decode_log(PHX_CHAIN_EV_FULFILLED, false, log, &v, e);
    if (err) return err;
    /* requestId, submitter, outputHash, ok, callbackOk, operators, output */
    const phx_abi_value_t *ops = v->count == 7 ? &v->items[5] : NULL;
    if (!ops) {
        err = phx_fail(e, PHX_ERR_INVALID, "Fulfilled: %zu fields", v->count);
    } else if (ops->count && !(out->operators = malloc(ops->count * 20))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "requests: out of memory");
    } else {
        for (size_t i = 0; i < ops->count; i++)
            memcpy(out->operators[i], ops->items[i].word + 12, 20);
        out->operator_count = ops->count;
        out->run_ok = v->items[3].word[31] != 0;
        out->callback_ok = v->items[4].word[31] != 0;
    }
    phx_abi_value_free(v);
    return err;
}

phx_err_t phx_chain_parse_jobs_event(const phx_evm_log_t *log, phx_chain_jobs_event_t *out,
                                     phx_error_t *e)
{
    memset(out, 0, sizeof *out);
    pthread_once(&ev_once, ev_topics_init);
    if (!ev_topics_ok) return phx_fail(e, PHX_ERR_INTERNAL, "Jobs event topics");
    out->kind = -1;
    for (int k = 0; k < EV_COUNT && out->kind < 0; k++)
        if (log->topic_count && !memcmp(log->topics[0], ev_topics[k], 32)) out->kind = k;
    if (out->kind < 0) return phx_fail(e, PHX_ERR_NOT_FOUND, "not a Jobs request event");
    if (out->kind == PHX_CHAIN_JOBS_EV_REQUESTED) {
        phx_err_t err = phx_chain_parse_requested(log, &out->requested, e);
        if (!err) out->request_id = out->requested.request_id;
        return err;
    }
    phx_err_t err = indexed_id(log, &out->request_id, e);
    if (!err && out->kind == PHX_CHAIN_JOBS_EV_FULFILLED) err = parse_fulfilled(log, out, e);
    return err;
}

static phx_err_t on_requested(phx_chain_requests_t *r, const phx_evm_log_t *log,
                              const phx_chain_requested_t *q, phx_error_t *e)
{
    phx_chain_request_entry_t x = {.id = q->request_id,
                                   .status = PHX_CHAIN_REQ_PENDING,
                                   .fee = q->fee,
                                   .k = q->k,
                                   .deadline = q->deadline,
                                   .block = log->block_number};
    memcpy(x.contract_id, q->contract_id, 32);
    memcpy(x.requester, q->requester, 20);
    /* At-least-once delivery: a page delivered again brings its ids again. */
    if (find(r, x.id)) return PHX_OK;
    if (r->n && r->items[r->n - 1].id > x.id)
        return phx_fail(e, PHX_ERR_STATE, "request %llu after %llu: ids out of order",
                        (unsigned long long)x.id, (unsigned long long)r->items[r->n - 1].id);
    phx_err_t err = block_time(r, x.block, &x.time, e);
    if (err) return err;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        phx_chain_request_entry_t *p = realloc(r->items, cap * sizeof *p);
        if (!p) return phx_fail(e, PHX_ERR_NOMEM, "requests: out of memory");
        r->items = p;
        r->cap = cap;
    }
    r->items[r->n++] = x;
    return PHX_OK;
}

static phx_err_t settle(phx_chain_requests_t *r, phx_chain_request_entry_t *x, uint8_t status,
                        const phx_evm_log_t *log, phx_error_t *e)
{
    phx_err_t err = block_time(r, log->block_number, &x->done_time, e);
    if (err) return err;
    x->status = status;
    x->done_block = log->block_number;
    return PHX_OK;
}

static phx_err_t on_log(void *ctx, const phx_evm_log_t *log, phx_error_t *e)
{
    phx_chain_requests_t *r = ctx;
    phx_chain_jobs_event_t ev;
    phx_err_t err = phx_chain_parse_jobs_event(log, &ev, e);
    if (err == PHX_ERR_NOT_FOUND) err = PHX_OK; /* the filter asks for these four only */
    if (err || ev.kind < 0) goto out;
    if (ev.kind == PHX_CHAIN_JOBS_EV_REQUESTED) {
        err = on_requested(r, log, &ev.requested, e);
        goto out;
    }
    phx_chain_request_entry_t *x = find(r, ev.request_id);
    if (!x) goto out; /* requested before the deployment block we start at */
    switch (ev.kind) {
    case PHX_CHAIN_JOBS_EV_FULFILLED:
        err = settle(r, x, ev.callback_ok ? PHX_CHAIN_REQ_FULFILLED : PHX_CHAIN_REQ_CALLBACK_FAILED,
                     log, e);
        if (!err) {
            entry_clear(x);
            x->operators = ev.operators; /* moved */
            x->operator_count = ev.operator_count;
            ev.operators = NULL;
        }
        break;
    case PHX_CHAIN_JOBS_EV_REFUNDED:
        err = settle(r, x, PHX_CHAIN_REQ_REFUNDED, log, e);
        break;
    default: /* CallbackFailed comes with its Fulfilled (callbackOk false) */
        x->status = PHX_CHAIN_REQ_CALLBACK_FAILED;
    }
out:
    phx_chain_jobs_event_clear(&ev);
    return err;
}

static phx_err_t on_rollback(void *ctx, uint64_t first_void_block, phx_error_t *e)
{
    (void)e;
    phx_chain_requests_t *r = ctx;
    /* Ids rise with blocks: the requests of void blocks are a tail. */
    while (r->n && r->items[r->n - 1].block >= first_void_block)
        entry_clear(&r->items[--r->n]);
    for (size_t i = 0; i < r->n; i++) {
        phx_chain_request_entry_t *x = &r->items[i];
        if (x->status != PHX_CHAIN_REQ_PENDING && x->done_block >= first_void_block) {
            entry_clear(x);
            x->status = PHX_CHAIN_REQ_PENDING;
            x->done_block = x->done_time = 0;
        }
    }
    r->have_time = false; /* that block may be another one now */
    return PHX_OK;
}

phx_err_t phx_chain_requests_open(const char *rpc_url, const phx_chain_deployment_t *d,
                                  phx_chain_requests_t **out, phx_error_t *e)
{
    *out = NULL;
    phx_chain_requests_t *r = calloc(1, sizeof *r);
    if (!r) return phx_fail(e, PHX_ERR_NOMEM, "requests: out of memory");
    pthread_mutex_init(&r->lock, NULL);
    pthread_once(&ev_once, ev_topics_init);
    phx_err_t err = ev_topics_ok ? PHX_OK : phx_fail(e, PHX_ERR_INTERNAL, "Jobs event topics");
    phx_rpc_opts_t ro = {.timeout_ms = 5000};
    if (!err) err = phx_rpc_open(rpc_url, &ro, &r->rpc, e);
    if (!err) {
        phx_evm_follower_opts_t fo = {.start_block = d->block,
                                      .addresses = (const uint8_t(*)[20])d->jobs,
                                      .address_count = 1,
                                      .topic0 = (const uint8_t(*)[32])ev_topics,
                                      .topic0_count = EV_COUNT};
        err = phx_evm_follower_open(r->rpc, &fo, &r->follower, e);
    }
    if (err) {
        phx_chain_requests_close(r);
        return err;
    }
    *out = r;
    return PHX_OK;
}

void phx_chain_requests_close(phx_chain_requests_t *r)
{
    if (!r) return;
    phx_evm_follower_close(r->follower);
    phx_rpc_close(r->rpc);
    for (size_t i = 0; i < r->n; i++)
        entry_clear(&r->items[i]);
    free(r->items);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

phx_err_t phx_chain_requests_sync(phx_chain_requests_t *r, phx_error_t *e)
{
    phx_evm_follower_cb_t cb = {on_log, on_rollback, r};
    pthread_mutex_lock(&r->lock);
    phx_err_t err = phx_evm_follower_poll(r->follower, &cb, NULL, e);
    pthread_mutex_unlock(&r->lock);
    return err;
}

size_t phx_chain_requests_count(phx_chain_requests_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = r->n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

bool phx_chain_requests_get(phx_chain_requests_t *r, uint64_t id, phx_chain_request_entry_t *out)
{
    pthread_mutex_lock(&r->lock);
    const phx_chain_request_entry_t *x = find(r, id);
    if (x) {
        *out = *x;
        out->operators = NULL;
    }
    pthread_mutex_unlock(&r->lock);
    return x != NULL;
}

static json_t *entry_json(const phx_chain_request_entry_t *x)
{
    char fee[80];
    phx_u256_to_dec(&x->fee, fee);
    json_t *o = json_pack(
        "{s:I,s:s,s:o,s:o,s:s,s:i,s:I,s:I,s:I}", "id", (json_int_t)x->id, "status",
        phx_chain_request_status_name(x->status), "contract_id", phx_json_hex(x->contract_id, 32),
        "requester", phx_json_hex(x->requester, 20), "fee", fee, "k", (int)x->k, "deadline",
        (json_int_t)x->deadline, "block", (json_int_t)x->block, "time", (json_int_t)x->time);
    if (!o || x->status == PHX_CHAIN_REQ_PENDING) return o;
    json_object_set_new(o, "done_block", json_integer((json_int_t)x->done_block));
    json_object_set_new(o, "done_time", json_integer((json_int_t)x->done_time));
    json_object_set_new(o, "latency_blocks", json_integer((json_int_t)(x->done_block - x->block)));
    json_object_set_new(o, "latency_s", json_integer((json_int_t)(x->done_time - x->time)));
    if (x->status == PHX_CHAIN_REQ_REFUNDED) return o;
    json_t *ops = json_array();
    for (size_t i = 0; ops && i < x->operator_count; i++)
        json_array_append_new(ops, phx_json_hex(x->operators[i], 20));
    json_object_set_new(o, "operators", ops);
    return o;
}

json_t *phx_chain_requests_json(phx_chain_requests_t *r, const uint8_t contract[32], size_t limit)
{
    json_t *out = json_array();
    if (!out) return NULL;
    pthread_mutex_lock(&r->lock);
    for (size_t i = r->n; i-- > 0 && json_array_size(out) < limit;) {
        const phx_chain_request_entry_t *x = &r->items[i];
        if (contract && memcmp(x->contract_id, contract, 32)) continue;
        json_t *o = entry_json(x);
        if (!o || json_array_append_new(out, o)) {
            json_decref(out);
            out = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return out;
}
