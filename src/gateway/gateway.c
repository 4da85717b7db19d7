/* The gateway daemon: a phx_http server whose handlers forward deploys and
 * calls through the worker pool (pool.c: round robin over healthy workers,
 * failover that never runs a call twice), re-deploy a contract from its stored
 * blob on a worker that does not know it yet, admit to the pool only workers
 * the Registry lists as active (when there is a chain), and keep a record of
 * contracts (persisted under DIR/contracts/) and recent jobs. docs/gateway.md. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "phx/evm.h"
#include "phx/gateway.h"
#include "phx/net.h"

#include "gateway_internal.h"

#define MAX_WORKERS 64
#define MAX_JOBS 256 /* recent jobs kept for /v1/network, /v1/jobs and logs */

/* A configured worker. With a chain it joins the pool only once the Registry
 * lists the address its /healthz names as active. */
typedef struct {
    char url[256];
    bool registered; /* the Registry lists it active (true without a chain) */
    bool has_address;
    uint8_t address[20]; /* from /healthz */
    bool has_measurement;
    uint8_t measurement[32];
    bool has_chain_record; /* operator and TEE kind, from Registry.workers */
    uint8_t operator_[20];
    uint32_t tee_type;
    uint64_t last_check_ms;
    bool pooled; /* this entry put its URL in the pool (so only it takes it out) */
    /* Found on chain (phx/chain_registry.h) rather than given with --worker:
     * in the pool only while the Registry says it is eligible (activeOperatorOf)
     * and the server at its URL signed our challenge with its key. */
    bool discovered;
    bool proven;
    uint8_t chain_status; /* PHX_CHAIN_WORKER_* from the events */
    char proof_error[160];
} worker_t;

/* A deployed contract as the gateway keeps it: code by hash and the owner's
 * signed op without the sealed secrets (only their hash), never the secrets. */
typedef struct {
    char id[67]; /* 0x + 64 hex, as the worker named it */
    uint8_t code_hash[32];
    uint8_t owner[20];
    uint8_t salt[32];
    uint8_t secrets_hash[32]; /* zero: no secrets, so any worker can be given it again */
    uint8_t signature[65];
    uint64_t nonce;
    uint64_t deployed_ms;
    /* Sticky routing the deploy asked for when a call names no key: "caller"
     * or "input.FIELD" (affinity_ok); empty: none. */
    char affinity[72];
} contract_t;

/* Blob bytes stored per owner, for the quota. */
typedef struct {
    uint8_t owner[20];
    uint64_t bytes;
} usage_t;

typedef struct {
    uint64_t seq, time_ms, latency_ms;
    char contract[67];
    char worker[256];
    int status;
    json_t *request_id; /* from the envelope, when it has one */
    json_t *logs;       /* from the response, when it has them */
} job_t;

struct phx_gateway {
    phx_gateway_opts_t opts;
    char *dir, *blob_dir, *rpc_url, *kms_url, *sim_dir;
    phx_gw_pool_t *pool;
    bool has_deployment;
    phx_chain_deployment_t deployment;
    pthread_mutex_t lock;                /* everything below */
    phx_chain_requests_t *requests;      /* the on-chain requests, opened on first use */
    phx_chain_registry_follower_t *disc; /* the Registry's workers; under check_lock */
    worker_t workers[MAX_WORKERS];
    size_t nworkers;
    contract_t *contracts;
    size_t ncontracts, contracts_cap;
    usage_t *usage;
    size_t nusage;
    uint64_t usage_total;
    job_t jobs[MAX_JOBS];
    uint64_t job_seq;
    /* health thread */
    pthread_t thread;
    bool thread_started, stopping;
    pthread_cond_t wake;
    pthread_mutex_t check_lock; /* one health round at a time */
    phx_http_router_t *router;
    phx_http_server_t *server;
    char url[64];
};

/* ---- helpers ------------------------------------------------------------------ */

static void jobs_clear(job_t *j)
{
    json_decref(j->request_id);
    json_decref(j->logs);
    memset(j, 0, sizeof *j);
}

static contract_t *contract_find(phx_gateway_t *g, const char *id)
{
    for (size_t i = 0; i < g->ncontracts; i++)
        if (strcasecmp(g->contracts[i].id, id) == 0) return &g->contracts[i];
    return NULL;
}

/* Contract ids are 32 bytes in 0x hex; anything else is refused before it can
 * become part of a path on disk or a URL. */
static bool valid_id(const char *id)
{
    if (!id || strlen(id) != 66 || id[0] != '0' || (id[1] != 'x' && id[1] != 'X')) return false;
    for (int i = 2; i < 66; i++)
        if (!strchr("0123456789abcdefABCDEF", id[i])) return false;
    return true;
}

/* A deploy's affinity: "caller" (the payer its voucher names) or
 * "input.FIELD", FIELD 1..64 of [A-Za-z0-9_] (a member of an object input). */
static bool affinity_ok(const char *a)
{
    if (!strcmp(a, "caller")) return true;
    if (strncmp(a, "input.", 6)) return false;
    size_t n = strlen(a + 6);
    if (n == 0 || n > 64) return false;
    for (const char *p = a + 6; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

static phx_err_t contract_save(phx_gateway_t *g, const contract_t *c, phx_error_t *e)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/contracts/%s.json", g->dir, c->id);
    json_t *j =
        json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:I}", "id", c->id, "code_hash",
                  phx_json_hex(c->code_hash, 32), "owner", phx_json_hex(c->owner, 20), "salt",
                  phx_json_hex(c->salt, 32), "secrets_hash", phx_json_hex(c->secrets_hash, 32),
                  "signature", phx_json_hex(c->signature, 65), "nonce", (json_int_t)c->nonce,
                  "deployed_ms", (json_int_t)c->deployed_ms);
    if (j && c->affinity[0]) json_object_set_new(j, "affinity", json_string(c->affinity));
    char *text = j ? phx_json_dump(j, true) : NULL;
    json_decref(j);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "contract record");
    phx_err_t err = phx_file_write_atomic(path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

static phx_err_t contract_add(phx_gateway_t *g, const contract_t *c, phx_error_t *e)
{
    if (g->ncontracts == g->contracts_cap) {
        size_t cap = g->contracts_cap ? g->contracts_cap * 2 : 16;
        contract_t *n = realloc(g->contracts, cap * sizeof *n);
        if (!n) return phx_fail(e, PHX_ERR_NOMEM, "contracts");
        g->contracts = n;
        g->contracts_cap = cap;
    }
    g->contracts[g->ncontracts++] = *c;
    return PHX_OK;
}

/* Contracts survive a restart; a record that does not parse is skipped (and
 * said so) rather than stopping the gateway. */
static phx_err_t contracts_load(phx_gateway_t *g, phx_error_t *e)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/contracts", g->dir);
    phx_err_t derr = phx_dir_ensure(path, 0700, e);
    if (derr) return derr;
    DIR *d = opendir(path);
    if (!d) return phx_fail(e, PHX_ERR_IO, "opendir %s: %s", path, strerror(errno));
    struct dirent *ent;
    phx_err_t err = PHX_OK;
    while ((ent = readdir(d))) {
        size_t n = strlen(ent->d_name);
        if (n < 6 || strcmp(ent->d_name + n - 5, ".json") != 0) continue;
        char file[1500];
        snprintf(file, sizeof file, "%s/%s", path, ent->d_name);
        json_t *j = NULL;
        contract_t c = {0};
        const char *id;
        int64_t ms = 0, nonce = 0;
        phx_error_t le = {0};
        if (phx_json_load_file(file, &j, &le) || phx_json_get_str(j, "id", &id, &le) ||
            !valid_id(id) || phx_json_get_hex_fixed(j, "code_hash", c.code_hash, 32, &le) ||
            phx_json_get_hex_fixed(j, "owner", c.owner, 20, &le) ||
            phx_json_get_hex_fixed(j, "salt", c.salt, 32, &le) ||
            phx_json_get_hex_fixed(j, "secrets_hash", c.secrets_hash, 32, &le) ||
            phx_json_get_hex_fixed(j, "signature", c.signature, 65, &le) ||
            phx_json_get_int(j, "nonce", &nonce, &le) ||
            phx_json_get_int(j, "deployed_ms", &ms, &le)) {
            PHX_WARN("gateway: skipping contract record %s: %s", file, le.message);
            json_decref(j);
            continue;
        }
        snprintf(c.id, sizeof c.id, "%s", id);
        const char *aff = json_string_value(json_object_get(j, "affinity"));
        if (aff && affinity_ok(aff)) snprintf(c.affinity, sizeof c.affinity, "%s", aff);
        c.deployed_ms = (uint64_t)ms;
        c.nonce = (uint64_t)nonce;
        json_decref(j);
        if (!contract_find(g, c.id) && (err = contract_add(g, &c, e))) break;
    }
    closedir(d);
    return err;
}

/* An answer from a worker: status and parsed body (NULL when empty). */
typedef struct {
    int status;
    json_t *body;
    char worker[256];
} fwd_t;

static void fwd_free(fwd_t *f)
{
    json_decref(f->body);
    f->body = NULL;
}

/* One request to one given worker (re-deploys and the call after them). */
static phx_err_t direct(phx_gateway_t *g, const char *base, const char *path, const json_t *body,
                        fwd_t *f, phx_error_t *e)
{
    char url[600];
    snprintf(url, sizeof url, "%s%s", base, path);
    char *text = body ? phx_json_dump(body, false) : NULL;
    phx_http_client_opts_t co = {.timeout_ms = g->opts.worker_timeout_ms};
    phx_buf_t resp = PHX_BUF_INIT;
    phx_err_t err = phx_http_fetch("POST", url, "application/json", text, text ? strlen(text) : 0,
                                   &co, &f->status, &resp, e);
    if (!err && resp.len) err = phx_json_parse((const char *)resp.ptr, resp.len, &f->body, e);
    free(text);
    phx_buf_free(&resp);
    return err;
}

static void respond(const fwd_t *f, phx_http_response_t *resp)
{
    resp->status = f->status;
    if (f->status == 429) resp->retry_after_s = 1; /* every worker was busy */
    resp->json = f->body ? json_incref(f->body) : json_object();
}

static void job_record(phx_gateway_t *g, const char *contract, const fwd_t *f, int status,
                       uint64_t latency_ms)
{
    pthread_mutex_lock(&g->lock);
    job_t *j = &g->jobs[g->job_seq % MAX_JOBS];
    jobs_clear(j);
    j->seq = ++g->job_seq;
    j->time_ms = phx_now_ms();
    j->latency_ms = latency_ms;
    snprintf(j->contract, sizeof j->contract, "%s", contract);
    snprintf(j->worker, sizeof j->worker, "%s", f->worker);
    j->status = status;
    if (f->body && json_is_object(f->body)) {
        json_t *rid = json_object_get(f->body, "request_id");
        json_t *logs = json_object_get(f->body, "logs");
        j->request_id = rid ? json_incref(rid) : NULL;
        j->logs = logs ? json_incref(logs) : NULL;
    }
    pthread_mutex_unlock(&g->lock);
}

/* The id a worker answered a deploy with. */
static const char *answered_id(const fwd_t *f)
{
    const char *id = NULL;
    if (f->status / 100 != 2 || !f->body) return NULL;
    if (phx_json_get_str(f->body, "id", &id, NULL) &&
        phx_json_get_str(f->body, "contract_id", &id, NULL))
        return NULL;
    return valid_id(id) ? id : NULL;
}

/* A pool error as the client sees it: no worker is 503, a call whose outcome
 * is unknown 502/504 (and it is not run elsewhere: see pool.c). */
static phx_err_t pool_error(phx_err_t err, phx_http_response_t *resp)
{
    if (err == PHX_ERR_STATE)
        resp->status = 503;
    else if (err != PHX_ERR_TIMEOUT)
        resp->status = 502;
    return err;
}

/* ---- handlers -------------------------------------------------------------------- */

/* ---- owners: quota and signatures --------------------------------------------- */

static usage_t *usage_find(phx_gateway_t *g, const uint8_t owner[20])
{
    for (size_t i = 0; i < g->nusage; i++)
        if (!memcmp(g->usage[i].owner, owner, 20)) return &g->usage[i];
    return NULL;
}

static void usage_save_locked(phx_gateway_t *g)
{
    json_t *owners = json_object();
    for (size_t i = 0; owners && i < g->nusage; i++) {
        char k[43] = "0x";
        phx_hex_encode_to(k + 2, g->usage[i].owner, 20);
        json_object_set_new(owners, k, json_integer((json_int_t)g->usage[i].bytes));
    }
    json_t *j = owners
                    ? json_pack("{s:I,s:o}", "total", (json_int_t)g->usage_total, "owners", owners)
                    : NULL;
    char *text = j ? phx_json_dump(j, true) : NULL;
    json_decref(j);
    char path[1200];
    snprintf(path, sizeof path, "%s/usage.json", g->dir);
    phx_error_t e = {0};
    if (!text || phx_file_write_atomic(path, text, strlen(text), 0600, &e))
        PHX_WARN("gateway: saving %s: %s", path, text ? e.message : "out of memory");
    free(text);
}

static void usage_load(phx_gateway_t *g)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/usage.json", g->dir);
    json_t *j = NULL, *v;
    const char *k;
    if (phx_json_load_file(path, &j, NULL)) return; /* first start */
    g->usage_total = (uint64_t)json_integer_value(json_object_get(j, "total"));
    json_t *owners = json_object_get(j, "owners");
    size_t n = json_object_size(owners);
    g->usage = n ? calloc(n, sizeof *g->usage) : NULL;
    if (g->usage) {
        json_object_foreach(owners, k, v)
        {
            if (phx_hex_decode_fixed(k, g->usage[g->nusage].owner, 20, NULL)) continue;
            g->usage[g->nusage++].bytes = (uint64_t)json_integer_value(v);
        }
    }
    json_decref(j);
}

/* Store a blob charged to owner, within the owner's and the total quota. A
 * blob already stored costs nothing again. */
static phx_err_t blob_put_charged(phx_gateway_t *g, const uint8_t owner[20], const uint8_t *bytes,
                                  size_t len, uint8_t hash[32], phx_error_t *e)
{
    phx_keccak256(bytes, len, hash);
    phx_buf_t have = PHX_BUF_INIT;
    bool stored = phx_blob_get(g->blob_dir, hash, &have, NULL) == PHX_OK;
    phx_buf_free(&have);
    if (stored) return PHX_OK;
    pthread_mutex_lock(&g->lock);
    usage_t *u = usage_find(g, owner);
    uint64_t used = u ? u->bytes : 0;
    phx_err_t err = PHX_OK;
    if (used + len > g->opts.owner_quota_bytes) {
        char oh[41];
        phx_hex_encode_to(oh, owner, 20);
        err = phx_fail(
            e, PHX_ERR_POLICY, "over quota: owner 0x%s stores %llu of %llu bytes, this blob is %zu",
            oh, (unsigned long long)used, (unsigned long long)g->opts.owner_quota_bytes, len);
    } else if (g->usage_total + len > g->opts.total_quota_bytes) {
        err = phx_fail(e, PHX_ERR_POLICY, "over quota: the gateway's blob store is full");
    } else if (!u) {
        usage_t *n = realloc(g->usage, (g->nusage + 1) * sizeof *n);
        if (!n) {
            err = phx_fail(e, PHX_ERR_NOMEM, "usage");
        } else {
            g->usage = n;
            u = &g->usage[g->nusage++];
            memcpy(u->owner, owner, 20);
            u->bytes = 0;
        }
    }
    if (!err) {
        /* Charged before the write, under the lock, so two puts cannot both
         * squeeze under the quota. */
        u->bytes += len;
        g->usage_total += len;
        usage_save_locked(g);
    }
    pthread_mutex_unlock(&g->lock);
    if (err) return err;
    return phx_blob_put(g->blob_dir, bytes, len, hash, e);
}

static bool owns_a_contract(phx_gateway_t *g, const uint8_t owner[20])
{
    bool yes = false;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->ncontracts && !yes; i++)
        yes = !memcmp(g->contracts[i].owner, owner, 20);
    pthread_mutex_unlock(&g->lock);
    return yes;
}

/* An owner-signed read or put: ?owner=&expires=&signature= over (action,
 * subject). */
static phx_err_t owner_request(const phx_http_request_t *req, const char *action,
                               const uint8_t subject[32], uint8_t owner[20], phx_error_t *e)
{
    return phx_owner_request_check(action, subject, phx_http_query(req, "owner"),
                                   phx_http_query(req, "expires"), phx_http_query(req, "signature"),
                                   phx_now_ms() / 1000, owner, e);
}

/* The owner-signed deploy as it came: the signature must be the named owner's
 * over this code and these sealed secrets. Workers check the rest (the owner
 * the chain records, the id); the gateway checks this much so that it stores
 * nothing for, and charges nothing to, someone who did not sign. */
static phx_err_t deploy_signed(const json_t *req, const char *code, contract_t *c, phx_error_t *e)
{
    const char *id;
    int64_t nonce = 0;
    uint8_t d[32], signer[20], idb[32];
    phx_err_t err;
    if (!json_object_get(req, "owner") || !json_object_get(req, "signature") ||
        !json_object_get(req, "nonce"))
        return phx_fail(e, PHX_ERR_VERIFY,
                        "a deploy needs the contract owner's signature (owner, nonce, signature)");
    if ((err = phx_json_get_str(req, "id", &id, e))) return err;
    if (!valid_id(id)) return phx_fail(e, PHX_ERR_INVALID, "id must be 32 bytes of 0x hex");
    if ((err = phx_json_get_hex_fixed(req, "owner", c->owner, 20, e)) ||
        (err = phx_json_get_hex_fixed(req, "signature", c->signature, 65, e)) ||
        (err = phx_json_get_int(req, "nonce", &nonce, e)) ||
        (err = phx_owner_secrets_hash(json_object_get(req, "sealed_secrets"), c->secrets_hash, e)))
        return err;
    if (json_object_get(req, "salt") && (err = phx_json_get_hex_fixed(req, "salt", c->salt, 32, e)))
        return err;
    if (nonce <= 0) return phx_fail(e, PHX_ERR_INVALID, "nonce must be positive");
    c->nonce = (uint64_t)nonce;
    phx_hex_decode_fixed(id, idb, 32, NULL);
    snprintf(c->id, sizeof c->id, "%s", id);
    phx_keccak256(code, strlen(code), c->code_hash);
    phx_owner_op_t op = {.action = "deploy", .nonce = c->nonce};
    memcpy(op.contract_id, idb, 32);
    memcpy(op.code_hash, c->code_hash, 32);
    memcpy(op.secrets_hash, c->secrets_hash, 32);
    if ((err = phx_owner_op_digest(&op, d, e)) ||
        (err = phx_owner_recover(d, c->signature, signer, e)))
        return err;
    if (memcmp(signer, c->owner, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "the deploy is not signed by the owner it names");
    return PHX_OK;
}

/* Send body to every worker in the pool but `skip` (which has it already):
 * owner-signed ops reach all workers at once, because the gateway does not
 * keep sealed secrets to give a worker later. */
static void broadcast(phx_gateway_t *g, const char *skip, const char *path, const json_t *body)
{
    json_t *st = phx_gw_pool_status(g->pool);
    for (size_t i = 0; i < json_array_size(st); i++) {
        const char *url = json_string_value(json_object_get(json_array_get(st, i), "url"));
        if (!url || (skip && !strcmp(url, skip))) continue;
        fwd_t f = {0};
        phx_error_t e = {0};
        if (direct(g, url, path, body, &f, &e) || f.status / 100 != 2)
            PHX_WARN("gateway: %s to %s: %s (HTTP %d)", path, url,
                     e.message[0] ? e.message : "refused", f.status);
        fwd_free(&f);
    }
    json_decref(st);
}

/* POST /v1/contracts: check the owner's signature, store the code by hash
 * (charged to the owner's quota), forward the whole signed deploy to the
 * workers, remember the contract without its sealed secrets. */
static phx_err_t h_deploy(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *code, *id;
    if (!req->json || !json_is_object(req->json))
        return phx_fail(e, PHX_ERR_INVALID, "body must be a JSON object");
    phx_err_t err = phx_json_get_str(req->json, "code", &code, e);
    if (err) return err;
    contract_t c = {0};
    uint8_t hash[32];
    /* A routing hint for the gateway, not part of the owner's signed op: a
     * gateway routes calls as it likes anyway (docs/gateway.md). */
    const json_t *aj = json_object_get(req->json, "affinity");
    if (aj && !json_is_null(aj)) {
        const char *a = json_string_value(aj);
        if (!a || !affinity_ok(a))
            return phx_fail(e, PHX_ERR_INVALID,
                            "affinity is \"caller\" or \"input.FIELD\" (FIELD 1..64 of "
                            "[A-Za-z0-9_])");
        snprintf(c.affinity, sizeof c.affinity, "%s", a);
    }
    if ((err = deploy_signed(req->json, code, &c, e)) ||
        (err = blob_put_charged(g, c.owner, (const uint8_t *)code, strlen(code), hash, e)))
        return err;

    fwd_t f = {0};
    if ((err = phx_gw_pool_forward(g->pool, "POST", "/v1/contracts", req->json, &f.status, &f.body,
                                   f.worker, sizeof f.worker, e)))
        return pool_error(err, resp);
    respond(&f, resp);
    if ((id = answered_id(&f)) && !strcasecmp(id, c.id)) {
        broadcast(g, f.worker, "/v1/contracts", req->json);
        c.deployed_ms = phx_now_ms();
        pthread_mutex_lock(&g->lock);
        contract_t *have = contract_find(g, c.id);
        if (have && !aj) /* an update that names no affinity keeps the one held */
            memcpy(c.affinity, have->affinity, sizeof c.affinity);
        if (have)
            *have = c;
        else
            contract_add(g, &c, NULL);
        pthread_mutex_unlock(&g->lock);
        phx_error_t se = {0};
        if (contract_save(g, &c, &se)) PHX_WARN("gateway: %s", se.message);
        /* The gateway answers with the code hash it stored, so a client can
         * check its code went in unchanged. */
        if (json_is_object(resp->json) && !json_object_get(resp->json, "code_hash"))
            json_object_set_new(resp->json, "code_hash", phx_json_hex(c.code_hash, 32));
    }
    fwd_free(&f);
    return PHX_OK;
}

/* An owner-signed operation on a contract (POST /v1/contracts/:id/VERB) to
 * one worker, answered with its reply, then to every other worker when it
 * accepted (each checks the owner's signature itself). *accepted: a 2xx. */
static phx_err_t owner_op_to_all(phx_gateway_t *g, const phx_http_request_t *req,
                                 phx_http_response_t *resp, const char *verb, bool *accepted,
                                 phx_error_t *e)
{
    *accepted = false;
    const char *id = phx_http_param(req, "id");
    if (!valid_id(id))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of 0x hex");
    if (!req->json || !json_is_object(req->json))
        return phx_fail(e, PHX_ERR_INVALID, "body must be a JSON object");
    char path[128];
    snprintf(path, sizeof path, "/v1/contracts/%s/%s", id, verb);
    fwd_t f = {0};
    phx_err_t err = phx_gw_pool_forward(g->pool, "POST", path, req->json, &f.status, &f.body,
                                        f.worker, sizeof f.worker, e);
    if (err) return pool_error(err, resp);
    respond(&f, resp);
    if (f.status / 100 == 2) {
        broadcast(g, f.worker, path, req->json);
        *accepted = true;
    }
    fwd_free(&f);
    return PHX_OK;
}

/* POST /v1/contracts/:id/limits: the owner's signed spending limit for
 * phx.evm.send, to every worker. */
static phx_err_t h_limits(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    bool accepted;
    return owner_op_to_all(ctx, req, resp, "limits", &accepted, e);
}

/* POST /v1/contracts/:id/delete: the owner's signed delete, to every worker;
 * the gateway forgets the contract once a worker accepted it. */
static phx_err_t h_delete(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    bool accepted;
    phx_err_t err = owner_op_to_all(g, req, resp, "delete", &accepted, e);
    if (err || !accepted) return err;
    const char *id = phx_http_param(req, "id");
    pthread_mutex_lock(&g->lock);
    contract_t *c = contract_find(g, id);
    if (c) *c = g->contracts[--g->ncontracts];
    pthread_mutex_unlock(&g->lock);
    char file[1200];
    snprintf(file, sizeof file, "%s/contracts/%s.json", g->dir, id);
    unlink(file);
    return PHX_OK;
}

/* POST /v1/contracts/:id/hooks/:name: a webhook for the contract's http
 * trigger `name` (issue 15). The JSON body, the X-Phx-Secret and
 * X-Phx-Delivery headers go to a worker, which checks the secret against the
 * owner-signed trigger in constant time and journals the firing (202 with its
 * id); then to every other worker, so any of them can run it (the chain
 * records it once; docs/worker.md "Triggers"). */
static phx_err_t h_hook(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id"), *name = phx_http_param(req, "name");
    if (!valid_id(id))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of 0x hex");
    const char *secret = phx_http_header(req, "X-Phx-Secret");
    const char *delivery = phx_http_header(req, "X-Phx-Delivery");
    json_t *body = json_pack("{s:s,s:O}", "name", name ? name : "", "body",
                             req->json ? req->json : json_null());
    if (body && secret) json_object_set_new(body, "secret", json_string(secret));
    if (body && delivery) json_object_set_new(body, "delivery", json_string(delivery));
    if (!body) return phx_fail(e, PHX_ERR_INVALID, "headers must be UTF-8 text");
    char path[128];
    snprintf(path, sizeof path, "/v1/contracts/%s/hooks", id);
    fwd_t f = {0};
    phx_err_t err = phx_gw_pool_forward(g->pool, "POST", path, body, &f.status, &f.body, f.worker,
                                        sizeof f.worker, e);
    if (err || f.status >= 500) {
        /* Journaling a firing is idempotent (one per delivery), so unlike a
         * call it may be tried on the next worker: the first that answers. */
        json_t *st = phx_gw_pool_status(g->pool);
        for (size_t i = 0; i < json_array_size(st); i++) {
            const char *url = json_string_value(json_object_get(json_array_get(st, i), "url"));
            fwd_t t = {0};
            if (!url || !strcmp(url, f.worker) || direct(g, url, path, body, &t, NULL) ||
                t.status >= 500) {
                fwd_free(&t);
                continue;
            }
            fwd_free(&f);
            f = t;
            snprintf(f.worker, sizeof f.worker, "%s", url);
            err = PHX_OK;
            break;
        }
        json_decref(st);
    }
    if (!err) {
        respond(&f, resp);
        if (f.status / 100 == 2) broadcast(g, f.worker, path, body);
    }
    fwd_free(&f);
    json_decref(body);
    return err ? pool_error(err, resp) : PHX_OK;
}

/* Give the worker at base the owner's signed deploy of contract id again,
 * rebuilt from the code blob and the record. Only for a contract without
 * secrets: the gateway does not keep sealed secrets, and a worker refuses a
 * deploy whose secrets do not match what the owner signed. */
static bool contract_known(phx_gateway_t *g, const char *id)
{
    pthread_mutex_lock(&g->lock);
    bool known = contract_find(g, id) != NULL;
    pthread_mutex_unlock(&g->lock);
    return known;
}

static bool redeploy(phx_gateway_t *g, const char *base, const char *id)
{
    contract_t c;
    uint8_t zero[32] = {0};
    pthread_mutex_lock(&g->lock);
    contract_t *have = contract_find(g, id);
    if (have) c = *have;
    pthread_mutex_unlock(&g->lock);
    if (!have) return false;
    if (memcmp(c.secrets_hash, zero, 32)) {
        PHX_WARN("gateway: %s has sealed secrets, which only its owner's deploy carries; "
                 "%s did not get it",
                 id, base);
        return false;
    }
    phx_buf_t code = PHX_BUF_INIT;
    json_t *j = NULL;
    phx_error_t e = {0};
    fwd_t f = {0};
    bool ok = false;
    if (phx_blob_get(g->blob_dir, c.code_hash, &code, &e) ||
        !(j = json_pack("{s:s,s:s%,s:o,s:o,s:o,s:I,s:o}", "id", c.id, "code",
                        (const char *)code.ptr, code.len, "code_hash",
                        phx_json_hex(c.code_hash, 32), "owner", phx_json_hex(c.owner, 20), "salt",
                        phx_json_hex(c.salt, 32), "nonce", (json_int_t)c.nonce, "signature",
                        phx_json_hex(c.signature, 65))) ||
        direct(g, base, "/v1/contracts", j, &f, &e)) {
        PHX_WARN("gateway: re-deploy of %s to %s: %s", id, base,
                 e.message[0] ? e.message : "cannot build it");
    } else {
        const char *got = answered_id(&f);
        ok = got && strcasecmp(got, id) == 0;
    }
    fwd_free(&f);
    json_decref(j);
    phx_buf_free(&code);
    return ok;
}

/* The key a call gets from its contract's deploy when it names none: the
 * voucher's payer ("caller"; ctx.caller, which the worker checks) or the
 * input member FIELD ("input.FIELD"): a string as it is, anything else as
 * compact JSON, and either as sha256 hex when longer than out allows. false:
 * no affinity (none declared, a sealed input, no such member). */
static bool deploy_affinity(phx_gateway_t *g, const char *id, const json_t *body, char *out,
                            size_t cap)
{
    char a[72] = "";
    pthread_mutex_lock(&g->lock);
    contract_t *c = contract_find(g, id);
    if (c) snprintf(a, sizeof a, "%s", c->affinity);
    pthread_mutex_unlock(&g->lock);
    if (!a[0] || !json_is_object(body)) return false;
    const json_t *v = !strcmp(a, "caller")
                          ? json_object_get(json_object_get(body, "voucher"), "payer")
                          : json_object_get(json_object_get(body, "input"), a + 6); /* "input." */
    if (!v || json_is_null(v)) return false;
    char *text = json_is_string(v) ? strdup(json_string_value(v))
                                   : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (!text || !*text) {
        free(text);
        return false;
    }
    size_t n = strlen(text);
    if (n < cap) {
        memcpy(out, text, n + 1);
    } else {
        uint8_t d[32];
        phx_sha256(text, n, d);
        phx_hex_encode_to(out, d, 32);
        out[64] = 0;
    }
    free(text);
    return true;
}

/* POST /v1/contracts/:id/call */
static phx_err_t h_call(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id");
    if (!valid_id(id))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of 0x hex");
    char path[128];
    snprintf(path, sizeof path, "/v1/contracts/%s/call", id);
    /* Sticky routing: X-Phx-Affinity names a key that keeps this contract's
     * calls on one worker while it is healthy (docs/gateway.md). */
    const char *aff = phx_http_header(req, "x-phx-affinity");
    char key[PHX_GW_AFFINITY_MAX + 1], from_deploy[PHX_GW_AFFINITY_MAX - 67];
    if (aff && (!*aff || strlen(aff) > 255))
        return phx_fail(e, PHX_ERR_INVALID, "X-Phx-Affinity must be 1..255 bytes");
    if (!aff && deploy_affinity(g, id, req->json, from_deploy, sizeof from_deploy))
        aff = from_deploy;
    if (aff) snprintf(key, sizeof key, "%s/%s", id, aff);
    uint64_t t0 = phx_monotonic_ms();
    fwd_t f = {0};
    phx_err_t err = phx_gw_pool_forward_keyed(g->pool, "POST", path, req->json, aff ? key : NULL,
                                              &f.status, &f.body, f.worker, sizeof f.worker, e);
    /* A worker that has not seen the contract gets it from our blobs, then the
     * same call again. Its 404 means it ran nothing, so this runs it once. */
    if (!err && f.status == 404 && !contract_known(g, id)) {
        /* No deploy of it ever came through here: say so in the user's terms,
         * not the worker's ("not deployed on this worker"). */
        job_record(g, id, &f, 404, phx_monotonic_ms() - t0);
        fwd_free(&f);
        return phx_fail(e, PHX_ERR_NOT_FOUND,
                        "contract %s does not exist: this network has no deploy of it "
                        "(check the id, or `phx deploy` it)",
                        id);
    }
    if (!err && f.status == 404 && redeploy(g, f.worker, id)) {
        fwd_t again = {0};
        snprintf(again.worker, sizeof again.worker, "%s", f.worker);
        err = direct(g, f.worker, path, req->json, &again, e);
        fwd_free(&f);
        f = again;
    }
    job_record(g, id, &f, err ? 502 : f.status, phx_monotonic_ms() - t0);
    if (err) {
        fwd_free(&f);
        return pool_error(err, resp);
    }
    respond(&f, resp);
    fwd_free(&f);
    return PHX_OK;
}

static json_t *contract_json(const contract_t *c)
{
    /* Owner and salt are public (the id is derived from them); `phx update`
     * and `phx secrets` need the salt to re-deploy under the same id. */
    return json_pack("{s:s,s:o,s:o,s:o,s:I}", "id", c->id, "code_hash",
                     phx_json_hex(c->code_hash, 32), "owner", phx_json_hex(c->owner, 20), "salt",
                     phx_json_hex(c->salt, 32), "deployed_ms", (json_int_t)c->deployed_ms);
}

static json_t *job_json(const job_t *j)
{
    json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:i,s:I}", "seq", (json_int_t)j->seq, "time_ms",
                          (json_int_t)j->time_ms, "contract_id", j->contract, "worker", j->worker,
                          "status", j->status, "latency_ms", (json_int_t)j->latency_ms);
    if (o && j->request_id) json_object_set(o, "request_id", j->request_id);
    if (o && j->logs) json_object_set(o, "logs", j->logs);
    return o;
}

/* Recent jobs, newest first; contract (may be NULL) filters. */
static json_t *jobs_json(phx_gateway_t *g, const char *contract, size_t limit)
{
    json_t *a = json_array();
    for (uint64_t k = 0; k < MAX_JOBS && k < g->job_seq && json_array_size(a) < limit; k++) {
        const job_t *j = &g->jobs[(g->job_seq - 1 - k) % MAX_JOBS];
        if (contract && strcasecmp(j->contract, contract) != 0) continue;
        json_array_append_new(a, job_json(j));
    }
    return a;
}

/* One worker for /v1/network: what we know of it (registration, address,
 * measurement) merged with the pool's view (health, failures, calls served). */
static json_t *worker_json(const worker_t *w, const json_t *pool_status)
{
    const json_t *ps = NULL;
    for (size_t i = 0; w->pooled && i < json_array_size(pool_status) && !ps; i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(pool_status, i), "url")),
                    w->url))
            ps = json_array_get(pool_status, i);
    json_t *o =
        json_pack("{s:s,s:b,s:b,s:b,s:I}", "url", w->url, "healthy",
                  ps && json_is_true(json_object_get(ps, "healthy")), "registered", w->registered,
                  "in_pool", ps != NULL, "last_check_ms", (json_int_t)w->last_check_ms);
    if (o && ps) {
        json_object_set(o, "latency_ms", json_object_get(ps, "latency_ms"));
        json_object_set(o, "failures", json_object_get(ps, "failures"));
        json_object_set(o, "calls", json_object_get(ps, "served"));
        json_object_set(o, "last_ok_ms", json_object_get(ps, "last_ok_ms"));
    }
    if (o && w->has_address) {
        char cs[43];
        phx_eth_address_checksum(w->address, cs);
        json_object_set_new(o, "address", json_string(cs));
    }
    if (o && w->has_measurement)
        json_object_set_new(o, "measurement", phx_json_hex(w->measurement, 32));
    if (o) json_object_set_new(o, "source", json_string(w->discovered ? "chain" : "flag"));
    if (o && w->discovered) {
        json_object_set_new(o, "identity", json_string(w->proven ? "proven" : "unproven"));
        if (w->proof_error[0]) json_object_set_new(o, "why", json_string(w->proof_error));
    }
    if (o && w->has_chain_record) {
        char cs[43];
        phx_eth_address_checksum(w->operator_, cs);
        json_object_set_new(o, "operator", json_string(cs));
        json_object_set_new(o, "tee",
                            json_string(w->tee_type == 0x81 ? "tdx"
                                        : w->tee_type == 0  ? "sgx"
                                                            : "unknown"));
    }
    return o;
}

/* The network view: GET /v1/network and the console's Network page. */
json_t *gw_network_json(phx_gateway_t *g)
{
    json_t *workers = json_array(), *meas = json_array(), *contracts = json_array();
    json_t *pool_status = phx_gw_pool_status(g->pool);
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < g->nworkers; i++) {
        const worker_t *w = &g->workers[i];
        json_array_append_new(workers, worker_json(w, pool_status));
        if (!w->has_measurement) continue;
        bool seen = false;
        for (size_t k = 0; k < i; k++)
            seen |= g->workers[k].has_measurement &&
                    memcmp(g->workers[k].measurement, w->measurement, 32) == 0;
        if (!seen) json_array_append_new(meas, phx_json_hex(w->measurement, 32));
    }
    for (size_t i = 0; i < g->ncontracts; i++)
        json_array_append_new(contracts, contract_json(&g->contracts[i]));
    size_t ncalls = g->job_seq;
    pthread_mutex_unlock(&g->lock);
    json_decref(pool_status);
    /* Only counts: which contract was called when is its owner's to read. */
    json_t *o = json_pack("{s:o,s:I,s:o,s:o,s:I}", "workers", workers, "healthy",
                          (json_int_t)phx_gateway_healthy_count(g), "measurements", meas,
                          "contracts", contracts, "calls", (json_int_t)ncalls);
    if (!o) return NULL;
    if (g->has_deployment) {
        json_t *d = NULL;
        if (!phx_chain_deployment_to_json(&g->deployment, &d, NULL))
            json_object_set_new(o, "chain", d);
        if (g->rpc_url) json_object_set_new(o, "rpc", json_string(g->rpc_url));
    }
    if (g->kms_url) json_object_set_new(o, "kms", json_string(g->kms_url));
    return o;
}

/* GET /v1/network */
static phx_err_t h_network(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    resp->json = gw_network_json(ctx);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "network");
}

json_t *gw_contract_info(phx_gateway_t *g, const char *id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&g->lock);
    const contract_t *c = valid_id(id) ? contract_find(g, id) : NULL;
    if (c && (o = contract_json(c))) json_object_set_new(o, "owner", phx_json_hex(c->owner, 20));
    pthread_mutex_unlock(&g->lock);
    return o;
}

phx_err_t gw_blob_get(phx_gateway_t *g, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e)
{
    return phx_blob_get(g->blob_dir, hash, out, e);
}

bool gw_chain(const phx_gateway_t *g, const char **rpc_url, const phx_chain_deployment_t **d)
{
    *rpc_url = g->rpc_url;
    *d = &g->deployment;
    return g->rpc_url && g->has_deployment;
}

phx_err_t gw_requests(phx_gateway_t *g, phx_chain_requests_t **out, phx_error_t *e)
{
    const char *rpc_url;
    const phx_chain_deployment_t *d;
    *out = NULL;
    if (!gw_chain(g, &rpc_url, &d))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "this gateway has no chain (--rpc, --deployment)");
    phx_err_t err = PHX_OK;
    pthread_mutex_lock(&g->lock);
    if (!g->requests) err = phx_chain_requests_open(rpc_url, d, &g->requests, e);
    phx_chain_requests_t *r = g->requests;
    pthread_mutex_unlock(&g->lock);
    if (!err) err = phx_chain_requests_sync(r, e);
    if (!err) *out = r;
    return err;
}

const char *gw_sim_dir(const phx_gateway_t *g)
{
    return g->sim_dir;
}

/* The contract's owner asks (signed for action on the contract id). */
static phx_err_t owner_of(phx_gateway_t *g, const phx_http_request_t *req, const char *action,
                          const char *id, phx_error_t *e)
{
    uint8_t idb[32], owner[20], want[20];
    if (!valid_id(id) || phx_hex_decode_fixed(id, idb, 32, NULL))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of 0x hex");
    pthread_mutex_lock(&g->lock);
    const contract_t *c = contract_find(g, id);
    if (c) memcpy(want, c->owner, 20);
    pthread_mutex_unlock(&g->lock);
    if (!c) return phx_fail(e, PHX_ERR_NOT_FOUND, "no contract %s", id);
    phx_err_t err = owner_request(req, action, idb, owner, e);
    if (err) return err;
    if (memcmp(owner, want, 20))
        return phx_fail(e, PHX_ERR_VERIFY, "%s: signed by someone who does not own %s", action, id);
    return PHX_OK;
}

/* GET /v1/jobs?contract=0x..&owner=&expires=&signature=: one contract's
 * calls, for its owner only. */
static phx_err_t h_jobs(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *contract = phx_http_query(req, "contract");
    if (!contract)
        return phx_fail(e, PHX_ERR_VERIFY,
                        "job history is its contract owner's: give ?contract=0x.. and the "
                        "owner's signature");
    phx_err_t err = owner_of(g, req, "jobs", contract, e);
    if (err) return err;
    pthread_mutex_lock(&g->lock);
    json_t *jobs = jobs_json(g, contract, MAX_JOBS);
    pthread_mutex_unlock(&g->lock);
    resp->json = json_pack("{s:o}", "jobs", jobs);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "jobs");
}

/* GET /v1/contracts/:id */
static phx_err_t h_contract(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id");
    pthread_mutex_lock(&g->lock);
    const contract_t *c = contract_find(g, id);
    resp->json = c ? contract_json(c) : NULL;
    pthread_mutex_unlock(&g->lock);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOT_FOUND, "no contract %s", id);
}

/* GET /v1/contracts/:id/logs?owner=&expires=&signature=: the recent calls of
 * one contract with whatever logs their workers returned, for its owner only. */
static phx_err_t h_logs(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id");
    phx_err_t err = owner_of(g, req, "logs", id, e);
    if (err) return err;
    pthread_mutex_lock(&g->lock);
    bool known = contract_find(g, id) != NULL;
    json_t *jobs = known ? jobs_json(g, id, MAX_JOBS) : NULL;
    pthread_mutex_unlock(&g->lock);
    if (!known) return phx_fail(e, PHX_ERR_NOT_FOUND, "no contract %s", id);
    resp->json = json_pack("{s:s,s:o}", "contract_id", id, "jobs", jobs);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "logs");
}

/* GET /v1/blobs/:hash: code by its hash, so anyone can check what runs. */
static phx_err_t h_blob(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                        phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    uint8_t hash[32];
    phx_err_t err = phx_hex_decode_fixed(phx_http_param(req, "hash"), hash, 32, e);
    if (err) return err;
    if ((err = phx_blob_get(g->blob_dir, hash, &resp->text, e))) return err;
    resp->content_type = "application/octet-stream";
    return PHX_OK;
}

/* GET /v1/contracts/:id/pubkey: relayed from the KMS. The document is signed by
 * the KMS key, so the client checks it and need not trust us. */
static phx_err_t h_pubkey(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id");
    if (!g->kms_url) return phx_fail(e, PHX_ERR_UNSUPPORTED, "this gateway has no KMS configured");
    if (!valid_id(id))
        return phx_fail(e, PHX_ERR_INVALID, "contract id must be 32 bytes of 0x hex");
    char url[512];
    snprintf(url, sizeof url, "%s/v1/contracts/%s/pubkey", g->kms_url, id);
    return phx_http_json("GET", url, NULL, NULL, NULL, &resp->json, e);
}

/* The gateway is healthy when it can route somewhere. */
static phx_err_t h_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)req;
    size_t n = phx_gateway_healthy_count(ctx);
    if (!n) {
        resp->status = 503;
        return phx_fail(e, PHX_ERR_STATE, "no healthy worker");
    }
    resp->json = json_pack("{s:s,s:I}", "status", "ok", "healthy_workers", (json_int_t)n);
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "health");
}

/* GET /metrics: the server's per-route counters (src/net) plus ours. */
static phx_err_t h_metrics(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    phx_gateway_t *g = ctx;
    resp->content_type = "text/plain; version=0.0.4";
    phx_err_t err = phx_http_server_metrics(g->server, &resp->text, e);
    pthread_mutex_lock(&g->lock);
    size_t contracts = g->ncontracts;
    uint64_t jobs = g->job_seq;
    pthread_mutex_unlock(&g->lock);
    if (!err)
        err = phx_buf_printf(&resp->text,
                             "# TYPE phx_gateway_workers_healthy gauge\n"
                             "phx_gateway_workers_healthy %zu\n"
                             "# TYPE phx_gateway_contracts gauge\n"
                             "phx_gateway_contracts %zu\n"
                             "# TYPE phx_gateway_calls_total counter\n"
                             "phx_gateway_calls_total %llu\n",
                             phx_gateway_healthy_count(g), contracts, (unsigned long long)jobs);
    return err;
}

/* PUT /v1/blobs?owner=&expires=&signature= (raw body): store bytes by hash
 * for a contract owner (an OwnerRequest "blob-put" over the blob's keccak256),
 * charged to the owner's quota; answer {"code_hash"}. */
static phx_err_t h_blob_put(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    uint8_t hash[32], owner[20];
    if (req->body_len > PHX_BLOB_MAX_BYTES) {
        resp->status = 413;
        return phx_fail(e, PHX_ERR_LIMIT, "blob of %zu bytes; at most %u", req->body_len,
                        PHX_BLOB_MAX_BYTES);
    }
    phx_keccak256(req->body, req->body_len, hash);
    phx_err_t err = owner_request(req, "blob-put", hash, owner, e);
    if (err) return err;
    if (!owns_a_contract(g, owner))
        return phx_fail(e, PHX_ERR_VERIFY, "blob puts are for contract owners; this key owns none");
    if ((err = blob_put_charged(g, owner, req->body, req->body_len, hash, e))) return err;
    resp->status = 201;
    resp->json = json_pack("{s:o}", "code_hash", phx_json_hex(hash, 32));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "blob");
}

/* ---- health -------------------------------------------------------------------- */

/* One worker's health: /healthz answers 200; its JSON may name the worker's
 * address and measurement, which the Registry must then list as active. */
static void worker_url(phx_gateway_t *g, size_t i, char *out, size_t cap)
{
    pthread_mutex_lock(&g->lock);
    snprintf(out, cap, "%s", g->workers[i].url);
    pthread_mutex_unlock(&g->lock);
}

static void pool_set(phx_gateway_t *g, size_t i, const char *base, bool in);

/* Who a worker is: its /healthz may name its address and measurement. With a
 * chain, it is in the pool exactly while the Registry lists that address as
 * active; without one, every configured worker is. Health itself is the
 * pool's business. */
static void admit_one(phx_gateway_t *g, size_t i, phx_rpc_t *rpc, bool chain)
{
    char base[256], url[300];
    worker_url(g, i, base, sizeof base);
    snprintf(url, sizeof url, "%s/healthz", base);
    phx_http_client_opts_t co = {.timeout_ms = 2000, .connect_timeout_ms = 1000};
    int status = 0;
    json_t *j = NULL;
    phx_error_t e = {0};
    bool answered = phx_http_json("GET", url, NULL, &co, &status, &j, &e) == PHX_OK;
    bool has_addr = false, has_meas = false, known = false, registered = !chain;
    phx_chain_worker_t cw = {0};
    uint8_t addr[20], meas[32];
    const char *s;
    if (answered && j) {
        has_addr = (!phx_json_get_str(j, "address", &s, NULL) ||
                    !phx_json_get_str(j, "worker", &s, NULL)) &&
                   !phx_hex_decode_fixed(s, addr, 20, NULL);
        has_meas = !phx_json_get_str(j, "measurement", &s, NULL) &&
                   !phx_hex_decode_fixed(s, meas, 32, NULL);
    }
    json_decref(j);
    if (chain) {
        if (!answered || !has_addr) {
            /* Unreachable now: the pool's checks deal with that; keep the
             * Registry's last verdict. */
        } else if (!rpc || phx_chain_worker_get(rpc, &g->deployment, addr, &cw, &e)) {
            PHX_WARN("gateway: Registry lookup for %s: %s", base, rpc ? e.message : "no chain");
        } else {
            known = true;
            registered = cw.status == PHX_CHAIN_WORKER_ACTIVE;
            /* The chain's record of the measurement wins over what the worker says. */
            if (registered) memcpy(meas, cw.measurement, 32), has_meas = true;
        }
    }
    pthread_mutex_lock(&g->lock);
    worker_t *w = &g->workers[i];
    if (!chain || known) {
        if (w->registered != registered)
            PHX_INFO("gateway: worker %s %s", w->url,
                     registered ? "admitted" : "not registered on chain: left out");
        w->registered = registered;
    }
    registered = w->registered;
    if (answered) w->last_check_ms = phx_now_ms();
    if (has_addr) memcpy(w->address, addr, 20), w->has_address = true;
    if (has_meas) memcpy(w->measurement, meas, 32), w->has_measurement = true;
    if (known && cw.status != PHX_CHAIN_WORKER_NONE) {
        memcpy(w->operator_, cw.operator_, 20);
        w->tee_type = cw.tee_type;
        w->has_chain_record = true;
    }
    pthread_mutex_unlock(&g->lock);
    pool_set(g, i, base, registered);
}

/* Put entry i's URL in the pool or take it out; an entry takes out only what
 * it put in, so a worker that names another's URL cannot evict it. */
static void pool_set(phx_gateway_t *g, size_t i, const char *base, bool in)
{
    pthread_mutex_lock(&g->lock);
    worker_t *w = &g->workers[i];
    bool was = w->pooled, same = strcmp(w->url, base) == 0;
    if (same) w->pooled = in;
    pthread_mutex_unlock(&g->lock);
    if (!same) return; /* its URL changed meanwhile: the next round decides */
    if (in && (!was || !phx_gw_pool_has(g->pool, base))) phx_gw_pool_add(g->pool, base, NULL);
    if (!in && was) phx_gw_pool_remove(g->pool, base, NULL);
}

/* Ask the server at base to sign a fresh challenge with its worker key: 1 it
 * did, as addr; 0 it answered with anything else; -1 it could not be reached
 * (the last verdict stands; the pool's health checks deal with that). */
static int prove(phx_gateway_t *g, const char *base, const uint8_t addr[20], char *why, size_t cap)
{
    uint8_t challenge[32], sig[65], signer[20];
    char url[400], hex[65];
    if (phx_random_bytes(challenge, 32)) return -1;
    phx_hex_encode_to(hex, challenge, 32);
    snprintf(url, sizeof url, "%s/v1/identity?challenge=0x%s", base, hex);
    phx_http_client_opts_t co = {
        .timeout_ms = 2000, .connect_timeout_ms = 1000, .max_response_bytes = 16u << 10};
    phx_buf_t body = PHX_BUF_INIT;
    json_t *j = NULL;
    int status = 0;
    phx_error_t e = {0};
    int verdict = 0;
    phx_err_t err = phx_http_fetch("GET", url, NULL, NULL, 0, &co, &status, &body, &e);
    if (err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT) {
        snprintf(why, cap, "unreachable: %s", e.message);
        verdict = -1;
    } else if (err || status != 200) {
        snprintf(why, cap, "no identity proof (%s%d)", err ? "error " : "HTTP ",
                 err ? (int)err : status);
    } else if (phx_json_parse((const char *)body.ptr, body.len, &j, &e) ||
               phx_json_get_hex_fixed(j, "signature", sig, 65, &e) ||
               phx_chain_identity_signer(g->deployment.chain_id, g->deployment.registry, challenge,
                                         sig, signer, &e)) {
        snprintf(why, cap, "bad identity proof: %s", e.message);
    } else if (memcmp(signer, addr, 20) != 0) {
        char cs[43];
        phx_eth_address_checksum(signer, cs);
        snprintf(why, cap, "the server there holds another key (%s)", cs);
    } else {
        why[0] = '\0';
        verdict = 1;
    }
    json_decref(j);
    phx_buf_free(&body);
    return verdict;
}

/* Registry.activeOperatorOf(addr) is not zero: registered, active, its
 * measurement allowed and its operator's stake enough for its active workers. */
static phx_err_t eligible_on_chain(phx_gateway_t *g, phx_rpc_t *rpc, const uint8_t addr[20],
                                   bool *eligible, phx_error_t *e)
{
    json_t *args = json_pack("[o]", phx_json_hex(addr, 20)), *res = NULL;
    uint8_t op[20], zero[20] = {0};
    phx_err_t err = args ? phx_chain_read(rpc, g->deployment.registry, "activeOperatorOf(address)",
                                          args, "(address)", &res, e)
                         : phx_fail(e, PHX_ERR_NOMEM, "args");
    const char *s = err ? NULL : json_string_value(json_array_get(res, 0));
    if (!err && (!s || phx_hex_decode_fixed(s, op, 20, NULL)))
        err = phx_fail(e, PHX_ERR_REMOTE, "activeOperatorOf: no address");
    if (!err) *eligible = memcmp(op, zero, 20) != 0;
    json_decref(res);
    json_decref(args);
    return err;
}

/* A worker found on chain: in the pool while the Registry says it is eligible
 * and the server at its URL proves its key. */
static void admit_discovered(phx_gateway_t *g, size_t i, phx_rpc_t *rpc)
{
    char base[256], why[160];
    uint8_t addr[20];
    pthread_mutex_lock(&g->lock);
    worker_t *w = &g->workers[i];
    snprintf(base, sizeof base, "%s", w->url);
    memcpy(addr, w->address, 20);
    bool listed = w->chain_status == PHX_CHAIN_WORKER_ACTIVE;
    pthread_mutex_unlock(&g->lock);
    phx_error_t e = {0};
    phx_chain_worker_t cw = {0};
    bool eligible = false, known = false;
    if (!listed) {
        known = true; /* its last event took it out: no need to ask */
    } else if (!rpc || phx_chain_worker_get(rpc, &g->deployment, addr, &cw, &e) ||
               eligible_on_chain(g, rpc, addr, &eligible, &e)) {
        PHX_WARN("gateway: Registry lookup for %s: %s", base, rpc ? e.message : "no chain");
    } else {
        known = true;
    }
    /* Only a worker the chain lets serve is worth a challenge. */
    int proof = known && !eligible ? 0 : prove(g, base, addr, why, sizeof why);
    if (known && !eligible) snprintf(why, sizeof why, "not eligible on chain");
    pthread_mutex_lock(&g->lock);
    w = &g->workers[i];
    bool was = w->registered && w->proven;
    if (known) {
        w->registered = eligible;
        if (cw.status != PHX_CHAIN_WORKER_NONE) {
            memcpy(w->operator_, cw.operator_, 20);
            memcpy(w->measurement, cw.measurement, 32);
            w->tee_type = cw.tee_type;
            w->has_chain_record = w->has_measurement = true;
        }
    }
    if (proof >= 0) w->proven = proof == 1;
    if (proof == 1) w->last_check_ms = phx_now_ms();
    if (proof != 1 || !eligible)
        snprintf(w->proof_error, sizeof w->proof_error, "%s", why);
    else
        w->proof_error[0] = '\0';
    bool now = w->registered && w->proven;
    if (was != now)
        PHX_INFO("gateway: discovered worker %s %s%s%s", w->url, now ? "admitted" : "left out",
                 now ? "" : ": ", now ? "" : w->proof_error);
    pthread_mutex_unlock(&g->lock);
    pool_set(g, i, base, now);
}

/* Bring the configured list in line with what the Registry's events say: a
 * new worker with a URL gets an entry, a changed URL replaces the old one (out
 * of the pool until proven again), a deregistered or invalidated one is
 * marked so the round takes it out. */
static void sync_discovered(phx_gateway_t *g)
{
    phx_chain_registry_worker_t *list = NULL;
    size_t n = phx_chain_registry_follow_list(g->disc, &list);
    for (size_t k = 0; k < n; k++) {
        const phx_chain_registry_worker_t *cw = &list[k];
        char old[256] = "";
        bool full = false;
        pthread_mutex_lock(&g->lock);
        worker_t *w = NULL;
        for (size_t i = 0; i < g->nworkers && !w; i++)
            if (g->workers[i].discovered && !memcmp(g->workers[i].address, cw->address, 20))
                w = &g->workers[i];
        if (!w && cw->status == PHX_CHAIN_WORKER_ACTIVE && cw->url[0]) {
            if (g->nworkers == MAX_WORKERS) {
                full = true;
            } else {
                w = &g->workers[g->nworkers++];
                memset(w, 0, sizeof *w);
                snprintf(w->url, sizeof w->url, "%s", cw->url);
                memcpy(w->address, cw->address, 20);
                w->has_address = w->discovered = true;
            }
        } else if (w && cw->url[0] && strcmp(w->url, cw->url) != 0) {
            PHX_INFO("gateway: worker %s moved to %s: out until it proves its key there", w->url,
                     cw->url);
            if (w->pooled) snprintf(old, sizeof old, "%s", w->url);
            snprintf(w->url, sizeof w->url, "%s", cw->url);
            w->pooled = w->proven = false;
        }
        if (w) w->chain_status = cw->url[0] ? cw->status : PHX_CHAIN_WORKER_NONE;
        pthread_mutex_unlock(&g->lock);
        if (old[0]) phx_gw_pool_remove(g->pool, old, NULL);
        if (full) PHX_WARN("gateway: more than %d workers; %s left out", MAX_WORKERS, cw->url);
    }
    free(list);
}

/* Follow the Registry's worker events (opened on the first round). */
static void discover(phx_gateway_t *g)
{
    phx_error_t e = {0};
    if (!g->disc &&
        phx_chain_registry_follow_open(g->rpc_url, &g->deployment, g->dir, &g->disc, &e)) {
        PHX_WARN("gateway: cannot follow the Registry: %s", e.message);
        return;
    }
    if (phx_chain_registry_follow_poll(g->disc, NULL, NULL, &e))
        PHX_WARN("gateway: following the Registry: %s", e.message);
    sync_discovered(g); /* what it has, even when this poll fell short */
}

/* One Registry round over every configured worker (caller holds check_lock). */
static void admit_all(phx_gateway_t *g)
{
    phx_rpc_t *rpc = NULL;
    phx_error_t e = {0};
    bool chain = g->rpc_url && g->has_deployment;
    phx_rpc_opts_t ro = {.timeout_ms = 3000, .retries = 1};
    if (chain && phx_rpc_open(g->rpc_url, &ro, &rpc, &e)) {
        PHX_WARN("gateway: chain node %s: %s", g->rpc_url, e.message);
        rpc = NULL;
    }
    if (chain) discover(g);
    pthread_mutex_lock(&g->lock);
    size_t n = g->nworkers;
    pthread_mutex_unlock(&g->lock);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&g->lock);
        bool found = g->workers[i].discovered;
        pthread_mutex_unlock(&g->lock);
        if (found)
            admit_discovered(g, i, rpc);
        else
            admit_one(g, i, rpc, chain);
    }
    phx_rpc_close(rpc);
}

void phx_gateway_check_workers(phx_gateway_t *g)
{
    pthread_mutex_lock(&g->check_lock);
    admit_all(g);
    phx_gw_pool_check(g->pool);
    pthread_mutex_unlock(&g->check_lock);
}

size_t phx_gateway_healthy_count(phx_gateway_t *g)
{
    return phx_gw_pool_healthy(g->pool);
}

size_t phx_gateway_worker_count(phx_gateway_t *g)
{
    pthread_mutex_lock(&g->lock);
    size_t n = g->nworkers;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* The Registry round, every health interval; the pool runs its own health
 * checks on its own thread. */
static void *registry_thread(void *arg)
{
    phx_gateway_t *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (g->opts.health_interval_ms % 1000) * 1000000ull;
        ts.tv_sec += (time_t)(g->opts.health_interval_ms / 1000 + ns / 1000000000ull);
        ts.tv_nsec = (long)(ns % 1000000000ull);
        pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        if (g->stopping) break;
        pthread_mutex_unlock(&g->lock);
        pthread_mutex_lock(&g->check_lock);
        admit_all(g);
        pthread_mutex_unlock(&g->check_lock);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

phx_err_t phx_gateway_add_worker(phx_gateway_t *g, const char *url, phx_error_t *e)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "worker URL must be http(s)://: %s", url);
    size_t n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    if (n >= sizeof g->workers[0].url) return phx_fail(e, PHX_ERR_RANGE, "worker URL too long");
    phx_err_t err = PHX_OK;
    pthread_mutex_lock(&g->lock);
    bool known = false;
    for (size_t i = 0; i < g->nworkers; i++)
        known |= !g->workers[i].discovered && strncmp(g->workers[i].url, url, n) == 0 &&
                 g->workers[i].url[n] == '\0';
    if (!known && g->nworkers == MAX_WORKERS) {
        err = phx_fail(e, PHX_ERR_LIMIT, "at most %d workers", MAX_WORKERS);
    } else if (!known) {
        worker_t *w = &g->workers[g->nworkers++];
        memset(w, 0, sizeof *w);
        memcpy(w->url, url, n);
        w->url[n] = '\0';
    }
    pthread_mutex_unlock(&g->lock);
    return err;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

phx_err_t phx_gateway_start(const phx_gateway_opts_t *opts, phx_gateway_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!opts || !opts->dir) return phx_fail(e, PHX_ERR_INVALID, "gateway needs a state directory");
    phx_gateway_t *g = calloc(1, sizeof *g);
    if (!g) return phx_fail(e, PHX_ERR_NOMEM, "gateway");
    g->opts = *opts;
    if (!g->opts.health_interval_ms) g->opts.health_interval_ms = 2000;
    if (!g->opts.worker_timeout_ms) g->opts.worker_timeout_ms = 30000;
    if (!g->opts.max_body_bytes) g->opts.max_body_bytes = 6u << 20;
    if (!g->opts.owner_quota_bytes) g->opts.owner_quota_bytes = 8u << 20;
    if (!g->opts.total_quota_bytes) g->opts.total_quota_bytes = 256u << 20;
    pthread_mutex_init(&g->lock, NULL);
    pthread_mutex_init(&g->check_lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    phx_err_t err = PHX_OK;
    g->dir = strdup(opts->dir);
    g->rpc_url = dup_or_null(opts->rpc_url);
    g->kms_url = dup_or_null(opts->kms_url);
    g->sim_dir = dup_or_null(opts->sim_dir);
    if (!g->dir || (opts->rpc_url && !g->rpc_url) || (opts->kms_url && !g->kms_url) ||
        (opts->sim_dir && !g->sim_dir)) {
        err = phx_fail(e, PHX_ERR_NOMEM, "gateway");
        goto out;
    }
    if (opts->deployment) g->deployment = *opts->deployment, g->has_deployment = true;
    phx_gw_pool_opts_t po = {.health_interval_ms = (uint32_t)g->opts.health_interval_ms,
                             .request_timeout_ms = g->opts.worker_timeout_ms};
    if ((err = phx_gw_pool_new(&po, &g->pool, e))) goto out;
    size_t dl = strlen(g->dir) + sizeof "/blobs";
    if (!(g->blob_dir = malloc(dl))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "gateway");
        goto out;
    }
    snprintf(g->blob_dir, dl, "%s/blobs", g->dir);
    if ((err = phx_dir_ensure(g->dir, 0700, e))) goto out;
    if ((err = contracts_load(g, e))) goto out;
    usage_load(g);
    for (size_t i = 0; i < opts->worker_count; i++)
        if ((err = phx_gateway_add_worker(g, opts->workers[i], e))) goto out;
    phx_gateway_check_workers(g);
    if ((err = phx_gw_pool_start(g->pool, e))) goto out;

    if ((err = phx_http_router_new(&g->router, e))) goto out;
    struct {
        const char *method, *pattern;
        phx_http_handler_fn fn;
        unsigned flags;
    } routes[] = {
        {"GET", "/healthz", h_health, 0},
        {"GET", "/v1/network", h_network, 0},
        {"GET", "/v1/jobs", h_jobs, 0},
        {"POST", "/v1/contracts", h_deploy, 0},
        {"GET", "/v1/contracts/:id", h_contract, 0},
        {"POST", "/v1/contracts/:id/call", h_call, 0},
        {"POST", "/v1/contracts/:id/delete", h_delete, 0},
        {"POST", "/v1/contracts/:id/hooks/:name", h_hook, 0},
        {"POST", "/v1/contracts/:id/limits", h_limits, 0},
        {"GET", "/v1/contracts/:id/logs", h_logs, 0},
        {"GET", "/v1/contracts/:id/pubkey", h_pubkey, 0},
        {"GET", "/v1/blobs/:hash", h_blob, 0},
        {"PUT", "/v1/blobs", h_blob_put, PHX_HTTP_RAW_BODY},
        {"GET", "/metrics", h_metrics, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((err = phx_http_router_add(g->router, routes[i].method, routes[i].pattern, routes[i].fn,
                                       g, routes[i].flags, e)))
            goto out;
    if ((err = gw_console_routes(g->router, g, e))) goto out;
    phx_http_server_opts_t so = {.host = opts->host,
                                 .port = opts->port,
                                 .max_body_bytes = g->opts.max_body_bytes,
                                 .rate_per_s = opts->rate_per_s,
                                 .rate_burst = opts->rate_burst,
                                 /* each forwarded call holds a handler thread
                                  * while the worker runs it */
                                 .handler_threads = 256};
    if ((err = phx_http_server_start(g->router, &so, &g->server, e))) goto out;
    snprintf(g->url, sizeof g->url, "http://%s:%u",
             opts->host && *opts->host ? opts->host : "127.0.0.1",
             (unsigned)phx_http_server_port(g->server));
    if (pthread_create(&g->thread, NULL, registry_thread, g) != 0) {
        err = phx_fail(e, PHX_ERR_INTERNAL, "cannot start the health thread");
        goto out;
    }
    g->thread_started = true;
    *out = g;
    return PHX_OK;
out:
    phx_gateway_stop(g, 0);
    return err;
}

const char *phx_gateway_url(const phx_gateway_t *g)
{
    return g->url;
}

void phx_gateway_stop(phx_gateway_t *g, uint64_t grace_ms)
{
    if (!g) return;
    /* Stop taking requests first, so no handler runs while state is freed. */
    phx_http_server_stop(g->server, grace_ms);
    if (g->thread_started) {
        pthread_mutex_lock(&g->lock);
        g->stopping = true;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
    }
    phx_gw_pool_free(g->pool);
    phx_chain_registry_follow_close(g->disc);
    phx_http_router_free(g->router);
    phx_chain_requests_close(g->requests);
    for (size_t i = 0; i < MAX_JOBS; i++)
        jobs_clear(&g->jobs[i]);
    free(g->contracts);
    free(g->usage);
    free(g->dir);
    free(g->blob_dir);
    free(g->rpc_url);
    free(g->kms_url);
    free(g->sim_dir);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->check_lock);
    pthread_mutex_destroy(&g->lock);
    free(g);
}
