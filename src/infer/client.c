/* phx.ai.chat's worker side: route a contract's chat request to the endpoint
 * that serves its model (from the chain's InferenceRegistry: the newest
 * active registration whose live report matches its record; configured
 * routes only when the chain has none, as a test override), check that
 * endpoint's attestation once (a fresh
 * nonce, the quote to the trusted root, the report data over its keys and
 * model hash), then for every answer fetch its signature record and check it
 * against the attested key before the contract sees a word. What the contract
 * gets carries the exact bytes and the signature, so its own signed result can
 * carry the proof (`phx infer verify --receipt`). Needs no llama.cpp. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/json.h"
#include "phx/net.h"

typedef struct {
    char *model, *url;
    json_t *report; /* the checked report; NULL until the first call */
    bool on_chain;  /* from the InferenceRegistry: signer is its record's key */
    uint8_t signer[20];
} route_t;

/* What the chain says serves one model: endpointsFor as read at a block,
 * less the endpoints refused since (their record or live report failed a
 * check). The registry cannot change within a block, so the list is read
 * again only when the head moves or after list_ttl_ms (which also ends a
 * refusal); each chat costs one eth_blockNumber. Model names come from
 * contracts: at most MAX_LISTS are kept, the least recently read giving way. */
#define MAX_LISTS 64
typedef struct {
    char *model;
    uint8_t (*signers)[20]; /* oldest registration first, as endpointsFor */
    size_t n;
    uint64_t block, read_ms, version;
    phx_err_t refused_err; /* the last refusal's error; PHX_OK: none */
    char refused[512];
} model_list_t;

struct phx_infer_client {
    route_t *routes;
    int nroutes;
    /* Routing from the chain: the endpoints met so far, by signing address. */
    phx_rpc_t *rpc;
    phx_chain_deployment_t dep;
    route_t **chain_routes;
    size_t nchain;
    model_list_t *lists;
    size_t nlists;
    uint64_t list_ttl_ms, list_versions;
    pthread_mutex_t chain_mu; /* rpc, chain_routes and lists */
    phx_attest_verifier_t *verifier;
    phx_buf_t collateral;
    phx_http_conns_t *conns;
    pthread_mutex_t mu; /* routes[].report and the verifier */
};

void phx_infer_client_free(phx_infer_client_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->nroutes; i++) {
        free(c->routes[i].model);
        free(c->routes[i].url);
        json_decref(c->routes[i].report);
    }
    free(c->routes);
    for (size_t i = 0; i < c->nchain; i++) {
        free(c->chain_routes[i]->model);
        free(c->chain_routes[i]->url);
        json_decref(c->chain_routes[i]->report);
        free(c->chain_routes[i]);
    }
    free(c->chain_routes);
    for (size_t i = 0; i < c->nlists; i++) {
        free(c->lists[i].model);
        free(c->lists[i].signers);
    }
    free(c->lists);
    phx_rpc_close(c->rpc);
    pthread_mutex_destroy(&c->chain_mu);
    phx_attest_verifier_free(c->verifier);
    phx_buf_free(&c->collateral);
    phx_http_conns_free(c->conns);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

phx_err_t phx_infer_client_new(const phx_infer_client_opts_t *o, phx_infer_client_t **out,
                               phx_error_t *e)
{
    *out = NULL;
    phx_infer_client_t *c = calloc(1, sizeof *c);
    if (!c) return phx_fail(e, PHX_ERR_NOMEM, "infer client");
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->chain_mu, NULL);
    c->routes = calloc((size_t)o->nendpoints + 1, sizeof *c->routes);
    phx_err_t err = c->routes ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "infer client");
    for (int i = 0; !err && i < o->nendpoints; i++) {
        const char *s = o->endpoints[i], *eq = strchr(s, '=');
        if (!eq || eq == s || (strncmp(eq + 1, "http://", 7) && strncmp(eq + 1, "https://", 8))) {
            err = phx_fail(e, PHX_ERR_INVALID,
                           "AI endpoint '%.64s': want MODEL=http(s)://HOST:PORT", s);
            break;
        }
        route_t *r = &c->routes[c->nroutes++];
        r->model = strndup(s, (size_t)(eq - s));
        r->url = strdup(eq + 1);
        if (!r->model || !r->url) err = phx_fail(e, PHX_ERR_NOMEM, "infer client");
        size_t n = r->url ? strlen(r->url) : 0;
        while (n && r->url[n - 1] == '/')
            r->url[--n] = 0;
    }
    if (!err && o->collateral_len)
        err = phx_buf_append(&c->collateral, o->collateral, o->collateral_len)
                  ? phx_fail(e, PHX_ERR_NOMEM, "infer client")
                  : PHX_OK;
    if (!err && o->deployment) {
        if (!o->chain_rpc || !phx_chain_has_inference_registry(o->deployment))
            err = phx_fail(e, PHX_ERR_INVALID,
                           "AI routing from chain needs an RPC URL and a deployment with an "
                           "InferenceRegistry");
        else
            err = phx_rpc_open(o->chain_rpc, NULL, &c->rpc, e);
        c->dep = *o->deployment;
        c->list_ttl_ms = o->route_ttl_ms ? o->route_ttl_ms : PHX_INFER_ROUTE_TTL_MS;
    }
    if (!err) err = phx_attest_verifier_new(o->root_der, o->root_len, &c->verifier, e);
    if (!err) err = phx_http_conns_new(&c->conns, e);
    if (err) {
        phx_infer_client_free(c);
        return err;
    }
    *out = c;
    return PHX_OK;
}

static void query_escape(phx_buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            phx_buf_append(b, p, 1);
        else
            phx_buf_printf(b, "%%%02X", *p);
    }
}

/* The report of r's endpoint (*out, a new reference), checked on first use: a
 * fresh nonce, the quote to the root, the report data over the report's keys,
 * model hash and that nonce, and the model it serves is the one routed to.
 * The fetch runs unlocked, so a slow endpoint holds up no other route; two
 * first calls at once both check, and the last one's report is kept. */
static phx_err_t attested(phx_infer_client_t *c, route_t *r, const phx_http_client_opts_t *ho,
                          json_t **out, phx_error_t *e)
{
    pthread_mutex_lock(&c->mu);
    *out = json_incref(r->report);
    pthread_mutex_unlock(&c->mu);
    if (*out) return PHX_OK;
    uint8_t nonce[32];
    char nhex[65];
    if (phx_random_bytes(nonce, sizeof nonce)) return phx_fail(e, PHX_ERR_CRYPTO, "random");
    phx_hex_encode_to(nhex, nonce, 32);
    nhex[64] = 0;
    phx_buf_t url = PHX_BUF_INIT;
    phx_buf_printf(&url, "%s/v1/attestation/report?model=", r->url);
    query_escape(&url, r->model);
    phx_buf_printf(&url, "&nonce=%s&signing_algo=ecdsa", nhex);
    json_t *rep = NULL;
    phx_err_t err = phx_http_json("GET", (const char *)url.ptr, NULL, ho, NULL, &rep, e);
    phx_buf_free(&url);
    if (err) return phx_error_wrap(e, err, "endpoint %s: attestation report", r->url);
    phx_infer_evidence_t ev = {.report = rep,
                               .nonce = nonce,
                               .collateral = c->collateral.ptr,
                               .collateral_len = c->collateral.len,
                               .now = (int64_t)(phx_now_ms() / 1000)};
    phx_attest_result_t ar;
    pthread_mutex_lock(&c->mu);
    err = phx_infer_verify_report(c->verifier, &ev, &ar, e);
    pthread_mutex_unlock(&c->mu);
    const char *served = json_string_value(json_object_get(rep, "model_name"));
    if (!err && (!served || strcmp(served, r->model) != 0))
        err = phx_fail(e, PHX_ERR_VERIFY, "the endpoint attests model '%.64s', not '%.64s'",
                       served ? served : "", r->model);
    /* A route from the chain: the live report is the registered endpoint's,
     * with the keys, model hash and measurement it registered with. */
    uint8_t live[20];
    const char *la = json_string_value(json_object_get(rep, "ecdsa_address"));
    if (!err && r->on_chain &&
        (!la || phx_hex_decode_fixed(la, live, 20, NULL) || memcmp(live, r->signer, 20) != 0))
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "registered on chain: the endpoint at this URL has another key than its "
                       "on-chain record (restarted, or not the endpoint registered)");
    if (!err && r->on_chain) {
        pthread_mutex_lock(&c->chain_mu);
        err = phx_infer_check_registered(c->rpc, &c->dep, rep, true, NULL, e);
        pthread_mutex_unlock(&c->chain_mu);
    }
    if (err) {
        json_decref(rep);
        return phx_error_wrap(e, err, "endpoint %s is not attested", r->url);
    }
    pthread_mutex_lock(&c->mu);
    json_decref(r->report);
    r->report = json_incref(rep);
    pthread_mutex_unlock(&c->mu);
    *out = rep;
    return PHX_OK;
}

/* Drop r's cached report if it is still report: the endpoint is checked
 * afresh on the next call (a restarted endpoint has new keys). */
static void forget(phx_infer_client_t *c, route_t *r, const json_t *report)
{
    pthread_mutex_lock(&c->mu);
    if (r->report == report) {
        json_decref(r->report);
        r->report = NULL;
    }
    pthread_mutex_unlock(&c->mu);
}

static route_t *route_for(phx_infer_client_t *c, const char *model)
{
    for (int i = 0; i < c->nroutes; i++)
        if (strcmp(c->routes[i].model, model) == 0) return &c->routes[i];
    return NULL;
}

/* The route of the registered endpoint signer (its record read once). */
static phx_err_t chain_route_of(phx_infer_client_t *c, const uint8_t signer[20], route_t **out,
                                phx_error_t *e)
{
    *out = NULL;
    pthread_mutex_lock(&c->chain_mu);
    for (size_t i = 0; i < c->nchain && !*out; i++)
        if (memcmp(c->chain_routes[i]->signer, signer, 20) == 0) *out = c->chain_routes[i];
    phx_err_t err = PHX_OK;
    phx_chain_endpoint_t rec;
    if (!*out) err = phx_chain_endpoint_get(c->rpc, &c->dep, signer, &rec, e);
    /* The chain's URL is anyone's text: only plain http(s) is fetched. */
    if (!*out && !err && strncmp(rec.url, "http://", 7) && strncmp(rec.url, "https://", 8))
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "registered on chain: endpoint URL '%.64s' is not http(s)", rec.url);
    if (!*out && !err) {
        route_t *r = calloc(1, sizeof *r);
        route_t **grown = realloc(c->chain_routes, (c->nchain + 1) * sizeof *grown);
        if (grown) c->chain_routes = grown;
        size_t n = strlen(rec.url);
        while (n && rec.url[n - 1] == '/')
            rec.url[--n] = 0;
        if (r) {
            r->model = strdup(rec.model);
            r->url = strdup(rec.url);
            r->on_chain = true;
            memcpy(r->signer, signer, 20);
        }
        if (!r || !grown || !r->model || !r->url) {
            if (r) free(r->model), free(r->url);
            free(r);
            err = phx_fail(e, PHX_ERR_NOMEM, "infer client");
        } else {
            c->chain_routes[c->nchain++] = r;
            *out = r;
        }
    }
    pthread_mutex_unlock(&c->chain_mu);
    return err;
}

/* The list for model (under chain_mu), read again when it is stale: a copy
 * in *out (malloc'ed; NULL when *n is 0) with its version. When every
 * endpoint in it was refused, *why is set (PHX_OK otherwise) and e says why. */
static phx_err_t current_list(phx_infer_client_t *c, const char *model, uint8_t (**out)[20],
                              size_t *n, uint64_t *version, phx_err_t *why, phx_error_t *e)
{
    *out = NULL;
    *n = 0;
    *why = PHX_OK;
    uint64_t head;
    phx_err_t err = phx_rpc_block_number(c->rpc, &head, e);
    if (err) return err;
    model_list_t *l = NULL;
    for (size_t i = 0; i < c->nlists && !l; i++)
        if (strcmp(c->lists[i].model, model) == 0) l = &c->lists[i];
    uint64_t now = phx_monotonic_ms();
    if (!l || l->block != head || now - l->read_ms >= c->list_ttl_ms) {
        uint8_t(*signers)[20] = NULL;
        size_t count = 0;
        if ((err = phx_chain_endpoints_for(c->rpc, &c->dep, model, &signers, &count, e)))
            return err;
        if (!l) {
            char *name = strdup(model);
            model_list_t *grown = NULL;
            if (name && c->nlists == MAX_LISTS) {
                l = &c->lists[0];
                for (size_t i = 1; i < c->nlists; i++)
                    if (c->lists[i].read_ms < l->read_ms) l = &c->lists[i];
                free(l->model);
                free(l->signers);
            } else if (name && (grown = realloc(c->lists, (c->nlists + 1) * sizeof *grown))) {
                c->lists = grown;
                l = &c->lists[c->nlists++];
            }
            if (!l) {
                free(name);
                free(signers);
                return phx_fail(e, PHX_ERR_NOMEM, "infer client");
            }
            memset(l, 0, sizeof *l);
            l->model = name;
        }
        free(l->signers);
        l->signers = signers;
        l->n = count;
        l->block = head;
        l->read_ms = now;
        l->version = ++c->list_versions;
        l->refused_err = PHX_OK;
        l->refused[0] = 0;
    }
    if (l->n && !(*out = malloc(l->n * sizeof *l->signers)))
        return phx_fail(e, PHX_ERR_NOMEM, "infer client");
    if (l->n) memcpy(*out, l->signers, l->n * sizeof *l->signers);
    *n = l->n;
    *version = l->version;
    if (!l->n && l->refused_err) *why = phx_fail(e, l->refused_err, "%s", l->refused);
    return PHX_OK;
}

/* Strike signer from model's list, if the list is still the given version,
 * for the rest of its life: the next chat goes straight to the next one. */
static void refuse(phx_infer_client_t *c, const char *model, uint64_t version,
                   const uint8_t signer[20], phx_err_t err, const phx_error_t *why)
{
    pthread_mutex_lock(&c->chain_mu);
    for (size_t i = 0; i < c->nlists; i++) {
        model_list_t *l = &c->lists[i];
        if (l->version != version || strcmp(l->model, model) != 0) continue;
        for (size_t k = 0; k < l->n; k++)
            if (memcmp(l->signers[k], signer, 20) == 0) {
                memmove(l->signers[k], l->signers[k + 1], (l->n - k - 1) * sizeof *l->signers);
                l->n--;
                l->refused_err = err;
                snprintf(l->refused, sizeof l->refused, "%s", why->message);
                break;
            }
    }
    pthread_mutex_unlock(&c->chain_mu);
}

/* The endpoint for model from the chain: the active registrations, newest
 * first, the first whose live report checks out (to the root, and against
 * its record). *r NULL and PHX_OK when none is registered; the last
 * endpoint's error when every one failed (now, or earlier in this block). */
static phx_err_t chain_route(phx_infer_client_t *c, const char *model,
                             const phx_http_client_opts_t *ho, route_t **r, json_t **report,
                             phx_error_t *e)
{
    *r = NULL;
    uint8_t(*list)[20] = NULL;
    size_t n = 0;
    uint64_t version = 0;
    phx_err_t why = PHX_OK;
    pthread_mutex_lock(&c->chain_mu);
    phx_err_t err = current_list(c, model, &list, &n, &version, &why, e);
    pthread_mutex_unlock(&c->chain_mu);
    if (err) return phx_error_wrap(e, err, "AI endpoints for '%.64s' on chain", model);
    if (why) return why;
    for (size_t i = n; i-- > 0;) {
        route_t *cand = NULL;
        /* A record that cannot be routed to is skipped like one that fails its check. */
        if (!(err = chain_route_of(c, list[i], &cand, e)) && strcmp(cand->model, model) != 0)
            err = phx_fail(e, PHX_ERR_VERIFY, "registered on chain: the record serves '%.64s'",
                           cand->model);
        if (!err && !(err = attested(c, cand, ho, report, e))) {
            *r = cand;
            break;
        }
        refuse(c, model, version, list[i], err, e);
    }
    free(list);
    return err;
}

phx_err_t phx_infer_client_chat(void *ctx, const json_t *request, uint64_t timeout_ms, json_t **out,
                                phx_error_t *e)
{
    phx_infer_client_t *c = ctx;
    *out = NULL;
    const char *model = json_string_value(json_object_get(request, "model"));
    if (!model) return phx_fail(e, PHX_ERR_NOT_FOUND, "no AI endpoint serves model ''");
    uint64_t deadline = phx_monotonic_ms() + timeout_ms;
    phx_http_client_opts_t ho = {.timeout_ms = (long)timeout_ms, .conns = c->conns};
    json_t *report = NULL;
    route_t *r = NULL;
    phx_err_t err = c->rpc ? chain_route(c, model, &ho, &r, &report, e) : PHX_OK;
    if (err) return err;
    if (!r) {
        r = route_for(c, model);
        if (!r)
            return phx_fail(e, PHX_ERR_NOT_FOUND, "no AI endpoint serves model '%.64s'%s", model,
                            c->rpc ? " (none registered on chain)" : "");
        if ((err = attested(c, r, &ho, &report, e))) return err;
    }

    /* The request goes sealed to the key the checked report binds: only the
     * attested endpoint reads the prompt, and only we read the answer. */
    char *body = json_dumps(request, JSON_COMPACT);
    phx_buf_t url = PHX_BUF_INIT, resp = PHX_BUF_INIT, sent = PHX_BUF_INIT, plain = PHX_BUF_INIT;
    resp.secret = plain.secret = true; /* the answer is the contract's business */
    uint8_t xpub[32], model_sha[32], reply_key[32] = {0};
    json_t *doc = NULL, *sig = NULL;
    int status = 0;
    phx_error_t he = {0};
    if (!body) err = phx_fail(e, PHX_ERR_NOMEM, "ai.chat");
    if (!err && (phx_hex_decode_fixed(json_string_value(json_object_get(report, "e2ee_public_key")),
                                      xpub, 32, &he) ||
                 phx_hex_decode_fixed(json_string_value(json_object_get(report, "model_sha256")),
                                      model_sha, 32, &he)))
        err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: the report has no e2ee_public_key", r->url);
    if (!err)
        err = phx_infer_seal_request(xpub, model_sha, body, strlen(body), &sent, reply_key, e);
    if (!err) {
        phx_buf_printf(&url, "%s/v1/chat/completions", r->url);
        err = phx_http_fetch("POST", (const char *)url.ptr, "application/json", sent.ptr, sent.len,
                             &ho, &status, &resp, e);
    }
    if (!err && status != 200) {
        /* Errors come back clear (they carry no prompt text). */
        json_t *ej = NULL;
        phx_error_t pe = {0};
        phx_json_parse((const char *)resp.ptr, resp.len, &ej, &pe);
        const json_t *eo = json_object_get(ej, "error");
        const char *msg = json_string_value(json_object_get(eo, "message"));
        const char *code = json_string_value(json_object_get(eo, "code"));
        err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: HTTP %d%s%s: %.200s", r->url, status,
                       code ? " " : "", code ? code : "", msg ? msg : "(no message)");
        if (code && strcmp(code, "decryption_failed") == 0) forget(c, r, report);
        json_decref(ej);
    }
    if (!err && phx_infer_open_reply(reply_key, resp.ptr, resp.len, &plain, e))
        err = phx_error_wrap(e, PHX_ERR_REMOTE, "endpoint %s: the sealed answer", r->url);
    if (!err && phx_json_parse((const char *)plain.ptr, plain.len, &doc, e))
        err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: the answer is not JSON", r->url);
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (!err &&
        (!id || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
                    strlen(id)))
        err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: the answer has no usable id", r->url);
    if (!err) {
        uint64_t now = phx_monotonic_ms();
        ho.timeout_ms = now < deadline ? (long)(deadline - now) : 1;
        phx_buf_reset(&url);
        phx_buf_printf(&url, "%s/v1/signature/%s?model=", r->url, id);
        query_escape(&url, model);
        phx_buf_append_str(&url, "&signing_algo=ecdsa");
        err = phx_http_json("GET", (const char *)url.ptr, NULL, &ho, NULL, &sig, e);
        if (err) phx_error_wrap(e, err, "endpoint %s: signature record", r->url);
    }
    if (!err) {
        phx_infer_evidence_t ev = {.request = sent.ptr,
                                   .request_len = sent.len,
                                   .response = resp.ptr,
                                   .response_len = resp.len,
                                   .signature = sig,
                                   .report = report};
        err = phx_infer_verify_answer(&ev, e);
        if (err) {
            forget(c, r, report); /* a restarted endpoint has new keys */
            phx_error_wrap(e, err, "endpoint %s: the answer's signature", r->url);
        }
    }
    if (!err) {
        const json_t *ch = json_array_get(json_object_get(doc, "choices"), 0);
        const json_t *text = json_object_get(json_object_get(ch, "message"), "content");
        char rk[65];
        phx_hex_encode_to(rk, reply_key, 32);
        rk[64] = 0;
        /* The signed bytes are the sealed ones. The reply key lets whoever
         * holds the receipt open the answer (never the prompt). */
        json_t *receipt =
            json_pack("{s:s%,s:s%,s:O,s:O,s:O,s:O,s:s,s:O,s:O,s:s}", "request", sent.ptr, sent.len,
                      "response", resp.ptr, resp.len, "text", json_object_get(sig, "text"),
                      "signature", json_object_get(sig, "signature"), "signing_address",
                      json_object_get(sig, "signing_address"), "signing_algo",
                      json_object_get(sig, "signing_algo"), "endpoint", r->url, "model_sha256",
                      json_object_get(report, "model_sha256"), "report", report, "reply_key", rk);
        phx_secure_zero(rk, sizeof rk);
        const char *t = json_string_value(text);
        *out = json_pack("{s:s,s:O?,s:s,s:s,s:O?,s:o}", "text", t ? t : "", "finish_reason",
                         json_object_get(ch, "finish_reason"), "model", model, "id", id, "usage",
                         json_object_get(doc, "usage"), "receipt", receipt);
        if (!*out)
            err = phx_fail(e, PHX_ERR_REMOTE, "endpoint %s: the answer is incomplete", r->url);
    }
    json_decref(doc);
    json_decref(sig);
    json_decref(report);
    phx_buf_free(&url);
    phx_buf_free(&resp);
    phx_buf_free(&sent);
    phx_buf_free(&plain);
    phx_secure_zero(reply_key, sizeof reply_key);
    if (body) phx_secure_zero(body, strlen(body)); /* the prompt */
    free(body);
    return err;
}
