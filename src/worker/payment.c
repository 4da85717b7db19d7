/* Paid direct calls (docs/worker.md "Paid calls"; contracts/Payments.sol).
 * Before a direct call runs, its voucher is checked: signed by its payer for
 * this very call, naming this worker's operator, at least the published price
 * above what this worker already counts as owed (and above the last voucher:
 * no replay), and within what the payer's deposit can pay. The accepted
 * voucher is claimed at the KMS's voucher ledger, which arbitrates totals
 * across the operator's workers (the first to present a total wins it; the
 * others answer 402), then committed to the journal before the call runs.
 * After the run its CPU time is added to what is owed, here and at the
 * ledger, and the job loop redeems the latest
 * voucher of each payer on chain, many in one transaction, every
 * --redeem-every seconds and at shutdown. A worker whose deployment has no
 * Payments, or whose price is zero, serves unsigned calls free (ctx.caller is
 * then zero); a signed call there still proves its caller. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon_internal.h"
#include "phx/crypto.h"

#define REDEEM_BATCH 32

static bool is_zero20(const uint8_t a[20])
{
    static const uint8_t z[20];
    return memcmp(a, z, 20) == 0;
}

static phx_err_t read_u256(phx_rpc_t *rpc, const uint8_t to[20], const char *sig, json_t *args,
                           phx_u256_t *out, phx_error_t *e)
{
    json_t *ret = NULL;
    phx_err_t err = phx_chain_read(rpc, to, sig, args, "(uint256)", &ret, e);
    json_decref(args);
    if (!err) {
        const char *s = json_string_value(json_array_get(ret, 0));
        err = s ? phx_u256_from_str(s, out, e) : phx_fail(e, PHX_ERR_REMOTE, "%s: no value", sig);
    }
    json_decref(ret);
    return err;
}

/* ---- the chain reads, cached (daemon_internal.h wk_pay_cache_t) ---------------------
 *
 * The rule: a cached value is used only while younger than the TTL (default
 * 2 s) and while the job loop has seen no new block since it was read, since
 * the price and a deposit change only in a block. So the worker never prices
 * a call by a price older than one TTL, nor by one from before the last block
 * it saw: a raised price is charged at the latest one TTL after its block.
 * A deposit read stale-low (the payer just deposited) never refuses a call:
 * before a 402 for the deposit, it is read again. */

static bool cache_fresh(phx_worker_t *w, uint64_t at_ms, uint64_t head, uint64_t now)
{
    return w->pay_cache.ttl_ms && at_ms && now - at_ms < w->pay_cache.ttl_ms &&
           head == __atomic_load_n(&w->chain_head, __ATOMIC_RELAXED);
}

static phx_err_t rpc_need(phx_worker_t *w, phx_rpc_t **rpc, phx_error_t *e)
{
    if (*rpc) return PHX_OK;
    phx_rpc_opts_t ro = {.timeout_ms = 5000, .retries = 1};
    return phx_rpc_open(w->rpc_url, &ro, rpc, e);
}

static phx_err_t price_get(phx_worker_t *w, phx_rpc_t **rpc, wk_pay_t *p, phx_error_t *e)
{
    wk_pay_cache_t *c = &w->pay_cache;
    uint64_t now = phx_monotonic_ms(), head = __atomic_load_n(&w->chain_head, __ATOMIC_RELAXED);
    pthread_mutex_lock(&c->lock);
    bool hit = cache_fresh(w, c->price_ms, c->price_head, now);
    if (hit) p->per_call = c->per_call, p->per_cpu_ms = c->per_cpu_ms, c->hits++;
    pthread_mutex_unlock(&c->lock);
    if (hit) return PHX_OK;
    phx_err_t err;
    if ((err = rpc_need(w, rpc, e)) ||
        (err = read_u256(*rpc, w->dep.payments, "pricePerCall()", NULL, &p->per_call, e)) ||
        (err = read_u256(*rpc, w->dep.payments, "pricePerCpuMs()", NULL, &p->per_cpu_ms, e)))
        return err;
    pthread_mutex_lock(&c->lock);
    /* Stamped with when the read began, and the head then: never younger than it is. */
    c->per_call = p->per_call, c->per_cpu_ms = p->per_cpu_ms, c->price_ms = now,
    c->price_head = head, c->misses++;
    pthread_mutex_unlock(&c->lock);
    return PHX_OK;
}

/* What Payments redeemed for (payer, operator) and what the payer's deposit
 * covers for that operator; fresh skips the cache. */
static phx_err_t account_get(phx_worker_t *w, phx_rpc_t **rpc, const uint8_t payer[20],
                             const uint8_t operator_[20], bool fresh, phx_u256_t *redeemed,
                             phx_u256_t *coverable, phx_error_t *e)
{
    wk_pay_cache_t *c = &w->pay_cache;
    uint64_t now = phx_monotonic_ms(), head = __atomic_load_n(&w->chain_head, __ATOMIC_RELAXED);
    size_t slot = ((size_t)payer[18] << 8 | payer[19]) % WK_PAY_CACHE_ACCOUNTS;
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    if (!fresh && !memcmp(c->acct[slot].payer, payer, 20) &&
        cache_fresh(w, c->acct[slot].at_ms, c->acct[slot].head, now)) {
        *redeemed = c->acct[slot].redeemed, *coverable = c->acct[slot].coverable;
        hit = true;
        c->hits++;
    }
    pthread_mutex_unlock(&c->lock);
    if (hit) return PHX_OK;
    phx_err_t err;
    if ((err = rpc_need(w, rpc, e)) ||
        (err = read_u256(*rpc, w->dep.payments, "redeemed(address,address)",
                         json_pack("[o,o]", phx_json_hex(payer, 20), phx_json_hex(operator_, 20)),
                         redeemed, e)) ||
        (err = read_u256(*rpc, w->dep.payments, "coverable(address,address)",
                         json_pack("[o,o]", phx_json_hex(payer, 20), phx_json_hex(operator_, 20)),
                         coverable, e)))
        return err;
    pthread_mutex_lock(&c->lock);
    memcpy(c->acct[slot].payer, payer, 20);
    c->acct[slot].redeemed = *redeemed, c->acct[slot].coverable = *coverable;
    c->acct[slot].at_ms = now, c->acct[slot].head = head;
    c->misses++;
    pthread_mutex_unlock(&c->lock);
    return PHX_OK;
}

static json_t *dec_json(const phx_u256_t *v)
{
    char dec[80];
    phx_u256_to_dec(v, dec);
    return json_string(dec);
}

/* What a client needs to pay this worker: {"payments","chain_id","operator",
 * "price_per_call","price_per_cpu_ms"}. */
static json_t *terms_json(const phx_worker_t *w, const wk_pay_t *p)
{
    return json_pack("{s:o,s:I,s:o,s:o,s:o}", "payments", phx_json_hex(w->dep.payments, 20),
                     "chain_id", (json_int_t)w->dep.chain_id, "operator",
                     phx_json_hex(w->operator_addr, 20), "price_per_call", dec_json(&p->per_call),
                     "price_per_cpu_ms", dec_json(&p->per_cpu_ms));
}

/* 402 Payment Required: what is missing, in words and as terms to act on. */
static phx_err_t refuse(phx_worker_t *w, const wk_pay_t *p, phx_http_response_t *resp,
                        const phx_u256_t *required, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static phx_err_t refuse(phx_worker_t *w, const wk_pay_t *p, phx_http_response_t *resp,
                        const phx_u256_t *required, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *terms = terms_json(w, p);
    if (terms && required) json_object_set_new(terms, "required_cumulative", dec_json(required));
    resp->status = 402;
    resp->json = json_pack("{s:{s:s,s:s},s:o}", "error", "code", "payment_required", "message", msg,
                           "payment", terms ? terms : json_null());
    return PHX_OK;
}

/* ---- the KMS's voucher ledger (kms/ledger.c) ------------------------------------------
 *
 * Each worker's journal knows only its own vouchers, and the chain's redeemed
 * lags by the redeem interval; the ledger is what all of the operator's
 * workers share, so one total is served once, whichever worker sees it. */

/* The worker's connections to the ledger, made on first use (a paid call on
 * a network with a price); NULL, one connection per request, if that fails. */
static phx_http_conns_t *ledger_conns(phx_worker_t *w)
{
    pthread_mutex_lock(&w->pay_cache.lock);
    if (!w->kms_conns && phx_http_conns_new(&w->kms_conns, NULL)) w->kms_conns = NULL;
    phx_http_conns_t *c = w->kms_conns;
    pthread_mutex_unlock(&w->pay_cache.lock);
    return c;
}

static void ledger_key(const phx_worker_t *w, const uint8_t payer[20], const uint8_t operator_[20],
                       phx_kms_ledger_key_t *k)
{
    k->chain_id = w->dep.chain_id;
    memcpy(k->payments, w->dep.payments, 20);
    memcpy(k->payer, payer, 20);
    memcpy(k->operator_, operator_, 20);
}

/* Claim v's total, at least per_call above what the ledger counts as owed:
 * *won, or *required (what a voucher must reach now) when another worker of
 * the operator already took it. */
static phx_err_t ledger_claim(phx_worker_t *w, const phx_voucher_t *v, const phx_u256_t *per_call,
                              bool *won, phx_u256_t *required, phx_error_t *e)
{
    phx_kms_ledger_key_t k;
    json_t *ans = NULL;
    ledger_key(w, v->payer, v->operator_, &k);
    phx_err_t err =
        phx_kms_ledger_request(w->kms_url, ledger_conns(w), w->contract_root, PHX_KMS_LEDGER_CLAIM,
                               &k, &v->cumulative, per_call, &ans, e);
    if (err) return err;
    *won = json_is_true(json_object_get(ans, "accepted"));
    if (!*won) {
        phx_u256_t owed = {{0}}, last = {{0}}, one = phx_u256_from_u64(1);
        const char *os = json_string_value(json_object_get(ans, "owed"));
        const char *cs = json_string_value(json_object_get(ans, "cumulative"));
        if (!os || !cs || phx_u256_from_str(os, &owed, NULL) ||
            phx_u256_from_str(cs, &last, NULL)) {
            json_decref(ans);
            return phx_fail(e, PHX_ERR_REMOTE, "ledger: the KMS's refusal names no totals");
        }
        *required = phx_u256_add(&owed, per_call);
        last = phx_u256_add(&last, &one);
        if (phx_u256_cmp(&last, required) > 0) *required = last;
    }
    json_decref(ans);
    return PHX_OK;
}

/* Tell the ledger what the call cost (charge) or that it never ran (release). */
static void ledger_tell(phx_worker_t *w, const wk_pay_t *p, phx_kms_ledger_op_t op,
                        const phx_u256_t *b)
{
    phx_kms_ledger_key_t k;
    json_t *ans = NULL;
    phx_error_t e = {0};
    ledger_key(w, p->caller, p->operator_, &k);
    if (phx_kms_ledger_request(w->kms_url, ledger_conns(w), w->contract_root, op, &k,
                               &p->cumulative, b, &ans, &e))
        PHX_WARN("worker: the KMS's voucher ledger (%s): %s",
                 op == PHX_KMS_LEDGER_CHARGE ? "charge" : "release", e.message);
    json_decref(ans);
}

phx_err_t wk_pay_admit(phx_worker_t *w, const uint8_t contract_id[32], const uint8_t input_hash[32],
                       const json_t *voucher_json, wk_pay_t *p, phx_http_response_t *resp,
                       phx_error_t *e)
{
    memset(p, 0, sizeof *p);
    if (!phx_chain_has_payments(&w->dep)) {
        if (voucher_json)
            return phx_fail(e, PHX_ERR_UNSUPPORTED,
                            "this network has no Payments contract: send the call without a "
                            "voucher");
        return PHX_OK; /* free, unsigned */
    }
    phx_rpc_t *rpc = NULL; /* one per request, when the cache misses: handlers run on several
                              threads */
    phx_voucher_t v;
    phx_u256_t chain_redeemed = {{0}}, coverable = {{0}};
    phx_err_t err = price_get(w, &rpc, p, e);
    if (err) {
        phx_error_wrap(e, PHX_ERR_REMOTE, "the chain cannot be read for the price: refusing");
        err = PHX_ERR_REMOTE;
        goto out;
    }
    bool free_call = phx_u256_is_zero(&p->per_call) && phx_u256_is_zero(&p->per_cpu_ms);
    if (!voucher_json) {
        if (free_call) goto out;
        char pc[80], pm[80];
        phx_u256_to_dec(&p->per_call, pc);
        phx_u256_to_dec(&p->per_cpu_ms, pm);
        err = refuse(w, p, resp, NULL,
                     "this worker charges %s PHA wei per call + %s per CPU-millisecond: send a "
                     "\"voucher\" signed by a payer with a deposit in Payments (phx call makes "
                     "one from your key; phx pay deposit funds it)",
                     pc, pm);
        p->refused = true;
        goto out;
    }
    if ((err = phx_voucher_parse(voucher_json, &v, e))) goto out;
    uint8_t call_hash[32];
    phx_chain_call_hash(contract_id, input_hash, call_hash);
    if ((err = phx_voucher_verify(&v, w->dep.chain_id, w->dep.payments, call_hash, e))) goto out;
    bool ours = memcmp(v.operator_, w->operator_addr, 20) == 0;
    if (!ours && !(free_call && is_zero20(v.operator_))) {
        char want[43];
        phx_eth_address_checksum(w->operator_addr, want);
        err = refuse(w, p, resp, NULL,
                     "the voucher pays another operator; this worker's operator is %s (a free "
                     "call may name the zero operator)",
                     want);
        p->refused = true;
        goto out;
    }
    /* A deposit read from the cache that would refuse the voucher is read again:
     * the payer may just have deposited. */
    bool reread = false;
again:
    if (ours && (err = account_get(w, &rpc, v.payer, v.operator_, reread, &chain_redeemed,
                                   &coverable, e))) {
        phx_error_wrap(e, PHX_ERR_REMOTE, "the chain cannot be read for the deposit: refusing");
        err = PHX_ERR_REMOTE;
        goto out;
    }
    phx_voucher_rec_t rec;
    bool found = false;
    pthread_mutex_lock(&w->db_lock);
    err = phx_jobdb_voucher_get(w->db, v.payer, v.operator_, &rec, &found, e);
    if (err) goto unlock;
    if (!found) {
        memset(&rec, 0, sizeof rec);
        memcpy(rec.payer, v.payer, 20);
        memcpy(rec.operator_, v.operator_, 20);
    }
    /* Owed so far: what this worker counted, or what the chain already paid
     * (a journal lost, or another worker of the same operator). */
    phx_u256_t base = rec.charged;
    if (phx_u256_cmp(&chain_redeemed, &base) > 0) base = chain_redeemed;
    phx_u256_t required = phx_u256_add(&base, &p->per_call);
    phx_u256_t one = phx_u256_from_u64(1), fresh = phx_u256_add(&rec.cumulative, &one);
    if (found && phx_u256_cmp(&fresh, &required) > 0) required = fresh;
    if (phx_u256_cmp(&v.cumulative, &required) < 0) {
        char have[80], need[80];
        phx_u256_to_dec(&v.cumulative, have);
        phx_u256_to_dec(&required, need);
        err = refuse(w, p, resp, &required,
                     "voucher too small: cumulative %s, this call needs at least %s (what is "
                     "owed so far plus the price per call; a voucher is never accepted twice)",
                     have, need);
        p->refused = true;
        goto unlock;
    }
    if (ours && !free_call && phx_u256_cmp(&v.cumulative, &coverable) > 0 && !reread) {
        pthread_mutex_unlock(&w->db_lock);
        reread = true;
        goto again;
    }
    if (ours && !free_call && phx_u256_cmp(&v.cumulative, &coverable) > 0) {
        char have[80], dep[80];
        phx_u256_to_dec(&v.cumulative, have);
        phx_u256_to_dec(&coverable, dep);
        err = refuse(w, p, resp, &required,
                     "the payer's deposit does not cover the voucher: cumulative %s, the deposit "
                     "covers %s for this operator (phx pay deposit)",
                     have, dep);
        p->refused = true;
        goto unlock;
    }
    if (ours && !free_call) {
        /* The journal says new; the ledger says whether another worker of this
         * operator already served this total. Asked without the journal's
         * lock (the job thread needs it); the ledger orders the claims. */
        pthread_mutex_unlock(&w->db_lock);
        bool won = false;
        if ((err = ledger_claim(w, &v, &p->per_call, &won, &required, e))) {
            phx_error_wrap(e, PHX_ERR_REMOTE,
                           "the KMS's voucher ledger cannot be asked: refusing the paid call");
            err = PHX_ERR_REMOTE;
            goto out;
        }
        if (!won) {
            char have[80], need[80];
            phx_u256_to_dec(&v.cumulative, have);
            phx_u256_to_dec(&required, need);
            err = refuse(w, p, resp, &required,
                         "voucher too small: cumulative %s is not a call's price above what "
                         "this operator's workers have served (a total is served once, by "
                         "whichever of them sees it first); this call needs at least %s",
                         have, need);
            p->refused = true;
            goto out;
        }
        p->claimed = true;
        memcpy(p->caller, v.payer, 20);
        memcpy(p->operator_, v.operator_, 20);
        p->cumulative = v.cumulative;
        pthread_mutex_lock(&w->db_lock);
        /* A later voucher of this payer may have been journaled meanwhile (a
         * call on another thread): the journal keeps the latest. */
        if ((err = phx_jobdb_voucher_get(w->db, v.payer, v.operator_, &rec, &found, e)))
            goto unlock;
        if (!found) {
            memset(&rec, 0, sizeof rec);
            memcpy(rec.payer, v.payer, 20);
            memcpy(rec.operator_, v.operator_, 20);
        }
    }
    p->prev = rec;
    if (!found || phx_u256_cmp(&v.cumulative, &rec.cumulative) > 0) {
        rec.cumulative = v.cumulative;
        rec.charged = v.cumulative;
        memcpy(rec.call_hash, call_hash, 32);
        memcpy(rec.signature, v.signature, 65);
        if ((err = phx_jobdb_voucher_put(w->db, &rec, e))) goto unlock;
    }
    p->accepted = true;
    memcpy(p->caller, v.payer, 20);
    memcpy(p->operator_, v.operator_, 20);
    p->cumulative = v.cumulative;
unlock:
    pthread_mutex_unlock(&w->db_lock);
out:
    if (p->claimed && !p->accepted) { /* won at the ledger, then the journal failed */
        static const phx_u256_t zero;
        ledger_tell(w, p, PHX_KMS_LEDGER_RELEASE, &zero);
        p->claimed = false;
    }
    phx_rpc_close(rpc);
    return err;
}

void wk_pay_unwind(phx_worker_t *w, wk_pay_t *p)
{
    if (!p->accepted) return;
    phx_voucher_rec_t rec;
    bool found = false;
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    if (!phx_jobdb_voucher_get(w->db, p->caller, p->operator_, &rec, &found, &e) && found &&
        phx_u256_cmp(&rec.cumulative, &p->cumulative) == 0 &&
        phx_jobdb_voucher_put(w->db, &p->prev, &e))
        PHX_WARN("worker: unwinding a voucher: %s", e.message);
    pthread_mutex_unlock(&w->db_lock);
    static const phx_u256_t zero;
    if (p->claimed) ledger_tell(w, p, PHX_KMS_LEDGER_RELEASE, &zero);
    p->accepted = p->claimed = false;
}

json_t *wk_pay_settle(phx_worker_t *w, const wk_pay_t *p, uint64_t cpu_ms)
{
    if (!p->accepted) return NULL;
    phx_u256_t cost = phx_u256_mul_u64(&p->per_cpu_ms, cpu_ms), charged = p->cumulative;
    phx_voucher_rec_t rec;
    bool found = false;
    phx_error_t e = {0};
    pthread_mutex_lock(&w->db_lock);
    if (!phx_u256_is_zero(&cost) &&
        !phx_jobdb_voucher_get(w->db, p->caller, p->operator_, &rec, &found, &e) && found) {
        rec.charged = phx_u256_add(&rec.charged, &cost);
        charged = rec.charged;
        if (phx_jobdb_voucher_put(w->db, &rec, &e))
            PHX_WARN("worker: recording a call's CPU charge: %s", e.message);
    }
    pthread_mutex_unlock(&w->db_lock);
    /* Before the answer leaves: the payer's next voucher, at whichever worker
     * of the operator, must cover it. */
    if (p->claimed && !phx_u256_is_zero(&cost)) {
        phx_u256_t owed = phx_u256_add(&p->cumulative, &cost);
        ledger_tell(w, p, PHX_KMS_LEDGER_CHARGE, &owed);
    }
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "payer", phx_json_hex(p->caller, 20), "operator",
                     phx_json_hex(p->operator_, 20), "cumulative", dec_json(&p->cumulative),
                     "charged", dec_json(&charged), "price_per_call", dec_json(&p->per_call),
                     "price_per_cpu_ms", dec_json(&p->per_cpu_ms));
}

phx_err_t wk_pay_redeem(phx_worker_t *w, size_t *redeemed, phx_error_t *e)
{
    phx_voucher_rec_t recs[REDEEM_BATCH];
    size_t n = 0;
    *redeemed = 0;
    if (!phx_chain_has_payments(&w->dep)) return PHX_OK;
    pthread_mutex_lock(&w->db_lock);
    phx_err_t err =
        phx_jobdb_vouchers_unredeemed(w->db, w->operator_addr, recs, REDEEM_BATCH, &n, e);
    pthread_mutex_unlock(&w->db_lock);
    if (err || !n) return err;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("[o,o,o,o,o]", phx_json_hex(recs[i].payer, 20),
                                              phx_json_hex(recs[i].operator_, 20),
                                              dec_json(&recs[i].cumulative),
                                              phx_json_hex(recs[i].call_hash, 32),
                                              phx_json_hex(recs[i].signature, 65)));
    json_t *args = json_pack("[o]", list);
    if (!args) return phx_fail(e, PHX_ERR_NOMEM, "redeem");
    phx_evm_receipt_t receipt;
    memset(&receipt, 0, sizeof receipt);
    err =
        phx_chain_transact(w->signer, w->dep.payments,
                           "redeem((address,address,uint256,bytes32,bytes)[])", args, &receipt, e);
    json_decref(args);
    phx_evm_receipt_clear(&receipt);
    if (err) return phx_error_wrap(e, err, "redeeming %zu voucher(s)", n);
    /* Paid (or skipped by the contract as stale or short, which a retry cannot
     * change until the payer deposits: the next voucher redeems the rest). */
    pthread_mutex_lock(&w->db_lock);
    for (size_t i = 0; i < n && !err; i++)
        err = phx_jobdb_voucher_redeemed(w->db, recs[i].payer, recs[i].operator_,
                                         &recs[i].cumulative, e);
    pthread_mutex_unlock(&w->db_lock);
    if (!err) *redeemed = n;
    return err;
}
