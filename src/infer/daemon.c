/* `phx infer`: the attested model endpoint. OpenAI-compatible routes
 * (/v1/chat/completions, /v1/completions, /v1/models) and vllm-proxy's two
 * (/v1/attestation/report, /v1/signature/{id}). Every answer's exact bytes are
 * hashed with the request body's and the pair is signed with both TEE keys;
 * the quote binds those keys, the model file's SHA-256 and the client's nonce.
 * Prompts and answers are never logged or written: only sizes and ids are. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/net.h"

#define SIG_SLOTS 4096      /* signatures kept for GET /v1/signature */
#define SIG_TTL_MS 1200000u /* vllm-proxy's CHAT_CACHE_EXPIRATION, 1200 s */

typedef struct {
    char id[48];
    char text[160]; /* "<sha256(request)>:<sha256(response)>" */
    uint8_t ecdsa[65];
    uint8_t ed25519[64];
    uint64_t at_ms;
} sig_record_t;

struct phx_infer {
    phx_infer_engine_t *engine;
    phx_tee_t *tee;
    phx_http_router_t *router;
    phx_http_server_t *server;
    char *model_name;
    uint8_t model_sha256[32];
    uint8_t ecdsa_sk[32], ecdsa_pub[64], address[20];
    uint8_t ed_sk[64], ed_pub[32];
    uint8_t x_sk[32], x_pub[32]; /* sealed requests are sealed to this */
    char url[300];
    /* Proxy mode (engine NULL): the OpenAI-compatible engine in the same TEE. */
    char *upstream, *upstream_model;
    unsigned max_tokens, slots, n_ctx;
    unsigned in_flight; /* proxied requests now (under sig_lock) */
    phx_http_conns_t *conns;
    pthread_mutex_t sig_lock;
    sig_record_t *sigs;
    size_t sig_next;
};

/* ---- OpenAI error objects ---------------------------------------------------- */

static phx_err_t oai_error(phx_http_response_t *resp, int status, const char *type,
                           const char *param, const char *code, const char *message)
{
    resp->status = status;
    resp->json = json_pack("{s:{s:s,s:s,s:s?,s:s?}}", "error", "message", message, "type", type,
                           "param", param, "code", code);
    if (!resp->json) resp->status = 500;
    return PHX_OK;
}

/* ---- signatures ------------------------------------------------------------------ */

static void hex_of(char *dst, const uint8_t *p, size_t n)
{
    phx_hex_encode_to(dst, p, n);
}

/* Sign sha256(request):sha256(response) with both keys and keep it under id. */
static phx_err_t sign_exchange(phx_infer_t *d, const char *id, const uint8_t *req, size_t req_len,
                               const uint8_t *resp, size_t resp_len)
{
    sig_record_t r = {0};
    uint8_t h[32];
    snprintf(r.id, sizeof r.id, "%s", id);
    phx_sha256(req, req_len, h);
    hex_of(r.text, h, 32);
    r.text[64] = ':';
    phx_sha256(resp, resp_len, h);
    hex_of(r.text + 65, h, 32);
    size_t tl = strlen(r.text);
    if (phx_eip191_sign(d->ecdsa_sk, r.text, tl, r.ecdsa)) return PHX_ERR_CRYPTO;
    if (phx_ed25519_sign(d->ed_sk, r.text, tl, r.ed25519)) return PHX_ERR_CRYPTO;
    r.at_ms = phx_monotonic_ms();
    pthread_mutex_lock(&d->sig_lock);
    d->sigs[d->sig_next] = r;
    d->sig_next = (d->sig_next + 1) % SIG_SLOTS;
    pthread_mutex_unlock(&d->sig_lock);
    return PHX_OK;
}

static void new_id(const char *prefix, char *out, size_t cap)
{
    uint8_t rnd[12];
    char hex[25];
    phx_random_bytes(rnd, sizeof rnd);
    hex_of(hex, rnd, sizeof rnd);
    snprintf(out, cap, "%s-%s", prefix, hex);
}

/* ---- completions ------------------------------------------------------------------ */

typedef struct {
    phx_infer_t *d;
    phx_infer_request_t req;
    phx_infer_job_t *job;
    phx_buf_t req_body;  /* the exact request bytes (hashed for the signature) */
    phx_buf_t text;      /* the answer so far (non-stream; also for stop strings) */
    phx_buf_t token_ids; /* int32 each */
    phx_buf_t sent;      /* stream: every byte sent, for the signature */
    phx_http_stream_t *stream;
    char id[48];
    long created;
    bool sealed; /* the request came HPKE-sealed: every answer byte goes back sealed */
    uint8_t reply_key[32];
    bool stopped;             /* a stop string matched */
    bool failed;              /* a stream write failed: the client went away */
    phx_buf_t plain;          /* proxy mode: the plaintext request (secret) */
    struct upstream_call *up; /* proxy mode: the call to the upstream engine */
} gen_t;

static void upstream_end(struct upstream_call *u);

static void gen_free(gen_t *g)
{
    if (!g) return;
    phx_secure_zero(g->reply_key, sizeof g->reply_key);
    phx_infer_job_free(g->job);
    phx_infer_request_free(&g->req);
    phx_buf_free(&g->req_body);
    phx_buf_free(&g->text);
    phx_buf_free(&g->token_ids);
    phx_buf_free(&g->sent);
    phx_buf_free(&g->plain);
    upstream_end(g->up);
    free(g);
}

/* A sealed request: open it to the plaintext request (secret) and derive the
 * reply key. *sealed false (and PHX_OK) when the body is not a sealed
 * envelope; PHX_ERR_VERIFY when it is one this endpoint's key cannot open. */
static phx_err_t open_sealed(phx_infer_t *d, const uint8_t *body, size_t len, bool *sealed,
                             phx_buf_t *plain, uint8_t reply_key[32], phx_error_t *e)
{
    *sealed = false;
    json_t *root = NULL;
    phx_error_t pe = {0};
    if (phx_json_parse((const char *)body, len, &root, &pe)) return PHX_OK;
    const json_t *env = json_object_get(root, "sealed");
    if (!json_is_object(root) || !env) {
        json_decref(root);
        return PHX_OK;
    }
    *sealed = true;
    uint8_t enc[32], info[sizeof PHX_INFER_SEAL_INFO - 1 + 32];
    phx_buf_t ct = PHX_BUF_INIT;
    phx_hpke_ctx_t ctx;
    memset(&ctx, 0, sizeof ctx);
    phx_err_t err;
    if (!json_is_object(env) || phx_json_get_hex_fixed(env, "enc", enc, 32, &pe) ||
        phx_json_get_hex(env, "ciphertext", &ct, &pe) || ct.len < PHX_AEAD_TAG_LEN) {
        err = phx_fail(e, PHX_ERR_INVALID,
                       "'sealed' must be {\"enc\": 32 bytes hex, \"ciphertext\": hex}");
        goto out;
    }
    memcpy(info, PHX_INFER_SEAL_INFO, sizeof PHX_INFER_SEAL_INFO - 1);
    memcpy(info + sizeof PHX_INFER_SEAL_INFO - 1, d->model_sha256, 32);
    if (phx_hpke_setup_receiver(&ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305, enc,
                                d->x_sk, NULL, info, sizeof info) ||
        phx_buf_reserve(plain, ct.len) ||
        phx_hpke_ctx_open(&ctx, NULL, 0, ct.ptr, ct.len, plain->ptr) ||
        phx_hpke_ctx_export(&ctx, PHX_INFER_REPLY_LABEL, sizeof PHX_INFER_REPLY_LABEL - 1,
                            reply_key, 32)) {
        err = phx_fail(e, PHX_ERR_VERIFY,
                       "the sealed request does not open with this endpoint's key (fetch its "
                       "attestation report for e2ee_public_key)");
        goto out;
    }
    plain->len = ct.len - PHX_AEAD_TAG_LEN;
    err = PHX_OK;
out:
    phx_hpke_ctx_clear(&ctx);
    phx_buf_free(&ct);
    json_decref(root);
    return err;
}

/* {"id":..,"sealed":{"nonce","ciphertext"}} over plaintext, as a string. */
static char *seal_text(const gen_t *g, const char *pt, size_t len)
{
    uint8_t nonce[12];
    phx_random_bytes(nonce, sizeof nonce);
    uint8_t *ct = malloc(len + PHX_AEAD_TAG_LEN);
    if (!ct) return NULL;
    char *out = NULL;
    if (!phx_aead_seal(PHX_AEAD_CHACHA20_POLY1305, g->reply_key, nonce, sizeof nonce, g->id,
                       strlen(g->id), pt, len, ct)) {
        json_t *w = json_pack("{s:s,s:{s:o,s:o}}", "id", g->id, "sealed", "nonce",
                              phx_json_hex(nonce, sizeof nonce), "ciphertext",
                              phx_json_hex(ct, len + PHX_AEAD_TAG_LEN));
        out = w ? phx_json_dump(w, false) : NULL;
        json_decref(w);
    }
    free(ct);
    return out;
}

static json_t *token_array(const int32_t *t, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(t[i]));
    return a;
}

/* Append piece to the answer; true when a stop string now matches, with *keep
 * set to how much of the piece comes before it. */
static bool stop_match(gen_t *g, const char *piece, size_t len, size_t *keep)
{
    size_t before = g->text.len;
    *keep = len;
    if (phx_buf_append(&g->text, piece, len)) return false;
    for (size_t i = 0; i < g->req.nstop; i++) {
        size_t sl = strlen(g->req.stop[i]);
        if (sl > g->text.len) continue;
        /* Only where the stop string could end within this piece. */
        size_t from = before >= sl ? before - sl + 1 : 0;
        for (size_t p = from; p + sl <= g->text.len; p++) {
            if (memcmp(g->text.ptr + p, g->req.stop[i], sl) == 0) {
                *keep = p > before ? p - before : 0;
                g->text.len = p;
                return true;
            }
        }
    }
    return false;
}

static json_t *chunk_json(gen_t *g, const char *piece, size_t len, const char *finish, bool role)
{
    bool chat = g->req.kind == PHX_INFER_CHAT;
    json_t *choice;
    if (chat) {
        json_t *delta = json_object();
        if (role) json_object_set_new(delta, "role", json_string("assistant"));
        if (piece) json_object_set_new(delta, "content", json_stringn(piece, len));
        choice = json_pack("{s:i,s:o,s:n,s:o}", "index", 0, "delta", delta, "logprobs",
                           "finish_reason", finish ? json_string(finish) : json_null());
    } else {
        choice = json_pack("{s:i,s:o,s:n,s:o}", "index", 0, "text",
                           json_stringn(piece ? piece : "", piece ? len : 0), "logprobs",
                           "finish_reason", finish ? json_string(finish) : json_null());
    }
    return json_pack("{s:s,s:s,s:I,s:s,s:[o]}", "id", g->id, "object",
                     chat ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)g->created, "model", g->d->model_name, "choices", choice);
}

/* Send one SSE event (and keep its bytes for the signature). */
static bool send_event(gen_t *g, json_t *ev)
{
    if (g->failed) {
        json_decref(ev);
        return false;
    }
    char *s = ev ? phx_json_dump(ev, false) : NULL;
    json_decref(ev);
    if (s && g->sealed) {
        char *w = seal_text(g, s, strlen(s));
        phx_secure_zero(s, strlen(s));
        free(s);
        s = w;
    }
    phx_buf_t line = PHX_BUF_INIT;
    line.secret = true;
    bool ok = s && !phx_buf_append_str(&line, "data: ") && !phx_buf_append_str(&line, s) &&
              !phx_buf_append_str(&line, "\n\n");
    if (s) {
        phx_secure_zero(s, strlen(s));
        free(s);
    }
    ok = ok && !phx_buf_append(&g->sent, line.ptr, line.len) &&
         !phx_http_stream_write(g->stream, line.ptr, line.len, NULL);
    phx_buf_free(&line);
    if (!ok) g->failed = true;
    return ok;
}

static bool on_piece_stream(void *ctx, const char *piece, size_t len, int32_t token)
{
    gen_t *g = ctx;
    if (token >= 0 && phx_buf_append(&g->token_ids, &token, sizeof token)) return false;
    size_t keep;
    bool stop = stop_match(g, piece, len, &keep);
    if (keep && !send_event(g, chunk_json(g, piece, keep, NULL, false))) return false;
    if (stop) g->stopped = true;
    return !stop;
}

static bool on_piece_collect(void *ctx, const char *piece, size_t len, int32_t token)
{
    gen_t *g = ctx;
    if (token >= 0 && phx_buf_append(&g->token_ids, &token, sizeof token)) return false;
    size_t keep;
    if (stop_match(g, piece, len, &keep)) {
        g->stopped = true;
        return false;
    }
    return true;
}

static json_t *usage_json(const phx_infer_usage_t *u)
{
    return json_pack("{s:i,s:i,s:i}", "prompt_tokens", (int)u->prompt_tokens, "completion_tokens",
                     (int)u->completion_tokens, "total_tokens",
                     (int)(u->prompt_tokens + u->completion_tokens));
}

static void stream_main(void *ctx, phx_http_stream_t *stream)
{
    gen_t *g = ctx;
    g->stream = stream;
    phx_error_t e = {0};
    phx_infer_usage_t u;
    bool chat = g->req.kind == PHX_INFER_CHAT;
    if (phx_http_stream_gone(stream)) goto out;
    if (chat && !send_event(g, chunk_json(g, "", 0, NULL, true))) goto out;
    phx_err_t err = phx_infer_job_run(g->job, on_piece_stream, g, &u, &e);
    size_t np;
    const int32_t *pt = phx_infer_job_prompt(g->job, &np);
    json_t *prompt_ids = g->req.return_token_ids ? token_array(pt, np) : NULL;
    /* The sequence is free from here on, whatever the client does next. */
    phx_infer_job_free(g->job);
    g->job = NULL;
    if (g->failed) {
        json_decref(prompt_ids);
        PHX_INFO("infer: %s: client went away after %u tokens; slot freed", g->id,
                 u.completion_tokens);
        goto out;
    }
    if (err) {
        json_decref(prompt_ids);
        json_t *ev = json_pack("{s:{s:s,s:s,s:n,s:n}}", "error", "message", e.message, "type",
                               "server_error", "param", "code");
        send_event(g, ev);
        goto out;
    }
    const char *finish = g->stopped ? "stop" : u.finish_reason;
    json_t *last = chunk_json(g, chat ? NULL : "", 0, finish, false);
    if (last && prompt_ids) {
        json_object_set_new(last, "prompt_token_ids", prompt_ids);
        prompt_ids = NULL;
        json_t *c0 = json_array_get(json_object_get(last, "choices"), 0);
        json_object_set_new(
            c0, "token_ids",
            token_array((const int32_t *)g->token_ids.ptr, g->token_ids.len / sizeof(int32_t)));
    }
    json_decref(prompt_ids);
    if (!send_event(g, last)) goto out;
    if (g->req.include_usage) {
        json_t *ev = json_pack("{s:s,s:s,s:I,s:s,s:[],s:o}", "id", g->id, "object",
                               chat ? "chat.completion.chunk" : "text_completion", "created",
                               (json_int_t)g->created, "model", g->d->model_name, "choices",
                               "usage", usage_json(&u));
        if (!send_event(g, ev)) goto out;
    }
    static const char done[] = "data: [DONE]\n\n";
    if (phx_buf_append(&g->sent, done, sizeof done - 1) ||
        phx_http_stream_write(stream, done, sizeof done - 1, NULL))
        goto out;
    /* Signed only when the whole stream went out, as vllm-proxy does. */
    if (sign_exchange(g->d, g->id, g->req_body.ptr, g->req_body.len, g->sent.ptr, g->sent.len))
        PHX_WARN("infer: %s: signing failed", g->id);
    PHX_INFO("infer: %s streamed %u+%u tokens", g->id, u.prompt_tokens, u.completion_tokens);
out:
    gen_free(g);
}

/* ---- proxy mode ---------------------------------------------------------------- */
/* `phx infer --upstream URL`: the same API in front of any OpenAI-compatible
 * engine in the same TEE (vLLM, llama.cpp's server, Ollama, another phx infer).
 * The request is parsed and checked here as in engine mode (sealed requests
 * opened, the model name, --max-tokens, --slots), forwarded in plaintext over
 * loopback inside the TEE, and every answer byte that leaves is made here:
 * the upstream's documents and stream events get this endpoint's id and model
 * name, are sealed when the request was, and are signed like engine mode's. */

#define UPSTREAM_TIMEOUT_MS 600000L    /* a long generation on a slow engine */
#define UPSTREAM_MAX_BYTES (64u << 20) /* one answer, streamed or not */

/* One call to the upstream on its own thread, feeding the stream's thread. */
struct upstream_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    phx_infer_t *d;
    phx_buf_t url, body; /* body: the plaintext request (secret) */
    phx_buf_t pending;   /* received, not yet taken (secret) */
    int status;          /* 0 until the upstream's status is known */
    bool finished;       /* the fetch returned */
    bool stop;           /* the client went away: abort the upstream transfer */
    phx_err_t err;
    char errmsg[200];
    bool started; /* th runs */
    pthread_t th;
};

static bool upstream_on_data(void *ctx, int status, const uint8_t *p, size_t n)
{
    struct upstream_call *u = ctx;
    pthread_mutex_lock(&u->mu);
    bool go = !u->stop && (!n || !phx_buf_append(&u->pending, p, n)); /* n 0: an idle poll */
    u->status = status;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return go;
}

static void *upstream_main(void *arg)
{
    struct upstream_call *u = arg;
    phx_error_t e = {0};
    phx_buf_t unused = PHX_BUF_INIT;
    int status = 0;
    phx_http_client_opts_t ho = {.timeout_ms = UPSTREAM_TIMEOUT_MS,
                                 .max_response_bytes = UPSTREAM_MAX_BYTES,
                                 .conns = u->d->conns,
                                 .on_data = upstream_on_data,
                                 .on_data_ctx = u};
    phx_err_t err = phx_http_fetch("POST", (const char *)u->url.ptr, "application/json",
                                   u->body.ptr, u->body.len, &ho, &status, &unused, &e);
    phx_buf_free(&unused);
    pthread_mutex_lock(&u->mu);
    u->finished = true;
    u->err = err;
    if (!u->status) u->status = status;
    snprintf(u->errmsg, sizeof u->errmsg, "%s", e.message);
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

/* Stop (if still running), wait for and free the call; one fewer in flight. */
static void upstream_end(struct upstream_call *u)
{
    if (!u) return;
    if (u->started) {
        pthread_mutex_lock(&u->mu);
        u->stop = true;
        pthread_mutex_unlock(&u->mu);
        pthread_join(u->th, NULL);
    }
    pthread_mutex_lock(&u->d->sig_lock);
    u->d->in_flight--;
    pthread_mutex_unlock(&u->d->sig_lock);
    phx_buf_free(&u->url);
    phx_buf_free(&u->body);
    phx_buf_free(&u->pending);
    pthread_cond_destroy(&u->cv);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

/* The upstream request: the client's, for the upstream's model name, with our
 * token cap made explicit. NULL when out of memory. */
static char *upstream_request(gen_t *g)
{
    json_t *j = NULL;
    phx_error_t pe = {0};
    if (phx_json_parse((const char *)g->plain.ptr, g->plain.len, &j, &pe)) return NULL;
    json_object_set_new(j, "model", json_string(g->d->upstream_model));
    if (!json_object_get(j, "max_tokens") && !json_object_get(j, "max_completion_tokens"))
        json_object_set_new(j, "max_tokens", json_integer(g->d->max_tokens));
    char *s = phx_json_dump(j, false);
    json_decref(j);
    return s;
}

/* An upstream document or event, as this endpoint sends it: our id and
 * model name. NULL when it is not a JSON object. */
static json_t *restamp(gen_t *g, const char *text, size_t len)
{
    json_t *j = NULL;
    phx_error_t pe = {0};
    if (phx_json_parse(text, len, &j, &pe)) return NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    if (json_object_get(j, "id")) json_object_set_new(j, "id", json_string(g->id));
    if (json_object_get(j, "model")) json_object_set_new(j, "model", json_string(g->d->model_name));
    return j;
}

/* The upstream's answer was not a success: an OpenAI error for our client.
 * Unreachable, broken or timed out is 502; an error object passes through
 * with its status (for a sealed request without its message, which an
 * engine may fill with prompt text). */
static void upstream_failed(gen_t *g, struct upstream_call *u, phx_http_response_t *resp)
{
    if (u->err && !(u->status && u->status != 200)) {
        char msg[300];
        snprintf(msg, sizeof msg, "the upstream engine did not answer: %s", u->errmsg);
        PHX_WARN("infer: %s: upstream: %s", g->id, u->errmsg);
        oai_error(resp, 502, "server_error", NULL, "upstream_unavailable", msg);
        return;
    }
    json_t *j = NULL;
    phx_error_t pe = {0};
    phx_json_parse((const char *)u->pending.ptr, u->pending.len, &j, &pe);
    const json_t *eo = json_object_get(j, "error");
    const char *m = json_string_value(json_object_get(eo, "message"));
    char msg[300];
    snprintf(msg, sizeof msg, "the upstream engine answered HTTP %d%s%.200s", u->status,
             m && !g->sealed ? ": " : "", m && !g->sealed ? m : "");
    const char *type = json_string_value(json_object_get(eo, "type"));
    int st = u->status >= 400 && u->status < 600 ? u->status : 502;
    oai_error(resp, st, type ? type : "server_error",
              json_string_value(json_object_get(eo, "param")),
              json_string_value(json_object_get(eo, "code")), msg);
    PHX_INFO("infer: %s: upstream answered %d", g->id, u->status);
    json_decref(j);
}

static void proxy_stream_main(void *ctx, phx_http_stream_t *stream)
{
    gen_t *g = ctx;
    struct upstream_call *u = g->up;
    g->stream = stream;
    bool done = false, bad = false;
    phx_buf_t ev = PHX_BUF_INIT;
    ev.secret = true;
    unsigned events = 0;
    uint64_t quiet_since = phx_monotonic_ms();
    for (;;) {
        pthread_mutex_lock(&u->mu);
        bool got, fin;
        while (!(got = phx_infer_sse_take(&u->pending, &ev)) && !u->finished) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&u->cv, &u->mu, &ts);
            if (phx_monotonic_ms() - quiet_since >= 1000) break;
        }
        fin = u->finished;
        pthread_mutex_unlock(&u->mu);
        if (phx_http_stream_gone(stream)) g->failed = true;
        if (g->failed || (!got && fin)) break;
        if (!got) {
            /* A second of upstream silence: an SSE comment. It keeps proxies
             * on the way from timing out, and a write is what tells a client
             * that has gone (an idle connection is not watched). It is sent,
             * so it is in the signed bytes. */
            static const char ka[] = ": keep-alive\n\n";
            if (phx_buf_append(&g->sent, ka, sizeof ka - 1) ||
                phx_http_stream_write(stream, ka, sizeof ka - 1, NULL))
                g->failed = true;
            quiet_since = phx_monotonic_ms();
            continue;
        }
        quiet_since = phx_monotonic_ms();
        if (!ev.len) continue; /* a comment or a keep-alive */
        if (strcmp((const char *)ev.ptr, "[DONE]") == 0) {
            done = true;
        } else {
            json_t *j = restamp(g, (const char *)ev.ptr, ev.len);
            if (!j)
                bad = true;
            else if (send_event(g, j))
                events++;
        }
        phx_buf_reset(&ev);
        if (done || bad || g->failed) break;
    }
    phx_buf_free(&ev);
    if (g->failed) {
        PHX_INFO("infer: %s: client went away after %u events; upstream stream closed", g->id,
                 events);
    } else if (!done) {
        /* The upstream broke off mid-stream: say so; nothing is signed. */
        send_event(g, json_pack("{s:{s:s,s:s,s:n,s:s}}", "error", "message",
                                "the upstream engine broke off the stream", "type", "server_error",
                                "param", "code", "upstream_unavailable"));
        PHX_WARN("infer: %s: upstream stream ended without [DONE]", g->id);
    } else {
        static const char fin[] = "data: [DONE]\n\n";
        if (!phx_buf_append(&g->sent, fin, sizeof fin - 1) &&
            !phx_http_stream_write(stream, fin, sizeof fin - 1, NULL) &&
            sign_exchange(g->d, g->id, g->req_body.ptr, g->req_body.len, g->sent.ptr, g->sent.len))
            PHX_WARN("infer: %s: signing failed", g->id);
        PHX_INFO("infer: %s proxied %u events", g->id, events);
    }
    gen_free(g); /* stops the upstream transfer if it still runs */
}

/* Forward g to the upstream. true: a stream now owns g; false: resp holds the
 * answer or the error and the caller frees g. */
static bool proxy_completion(gen_t *g, phx_http_response_t *resp)
{
    phx_infer_t *d = g->d;
    pthread_mutex_lock(&d->sig_lock);
    bool full = d->in_flight >= d->slots;
    if (!full) d->in_flight++;
    pthread_mutex_unlock(&d->sig_lock);
    if (full) {
        oai_error(resp, 429, "rate_limit_error", NULL, "rate_limit_exceeded",
                  "every slot is busy; try again");
        return false;
    }
    struct upstream_call *u = calloc(1, sizeof *u);
    if (!u) {
        pthread_mutex_lock(&d->sig_lock);
        d->in_flight--;
        pthread_mutex_unlock(&d->sig_lock);
        oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    g->up = u; /* from here gen_free ends the call and counts it out */
    u->d = d;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    u->body.secret = u->pending.secret = true;
    char *body = upstream_request(g);
    if (!body || phx_buf_append_str(&u->body, body)) {
        free(body);
        oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
        return false;
    }
    phx_secure_zero(body, strlen(body));
    free(body);
    phx_buf_printf(&u->url, "%s%s", d->upstream,
                   g->req.kind == PHX_INFER_CHAT ? "/v1/chat/completions" : "/v1/completions");
    if (pthread_create(&u->th, NULL, upstream_main, u) != 0) {
        oai_error(resp, 500, "server_error", NULL, NULL, "cannot start the upstream call");
        return false;
    }
    u->started = true;
    /* Wait for the upstream's status (or its failure) before answering ours,
     * so that an engine that is down is a plain 502, even for a stream. */
    pthread_mutex_lock(&u->mu);
    while (!u->finished && !(u->status && (u->status != 200 || u->pending.len)))
        pthread_cond_wait(&u->cv, &u->mu);
    bool ok = u->status == 200 && !(u->finished && u->err);
    pthread_mutex_unlock(&u->mu);
    if (ok && g->req.stream) {
        resp->stream = proxy_stream_main;
        resp->stream_ctx = g;
        resp->content_type = "text/event-stream";
        return true;
    }
    if (!ok || !g->req.stream) { /* the whole answer (or error) */
        pthread_join(u->th, NULL);
        u->started = false;
        ok = u->status == 200 && !u->err;
    }
    if (!ok) {
        upstream_failed(g, u, resp);
        return false;
    }
    json_t *j = restamp(g, (const char *)u->pending.ptr, u->pending.len);
    char *out = j ? phx_json_dump(j, false) : NULL;
    json_decref(j);
    if (out && g->sealed) {
        char *w = seal_text(g, out, strlen(out));
        phx_secure_zero(out, strlen(out));
        free(out);
        out = w;
    }
    if (!out) {
        oai_error(resp, 502, "server_error", NULL, "upstream_unavailable",
                  "the upstream engine's answer is not a JSON object");
        return false;
    }
    resp->text.secret = true;
    if (phx_buf_append_str(&resp->text, out) ||
        sign_exchange(d, g->id, g->req_body.ptr, g->req_body.len, resp->text.ptr, resp->text.len)) {
        phx_buf_free(&resp->text);
        oai_error(resp, 500, "server_error", NULL, NULL, "signing failed");
    } else {
        resp->content_type = "application/json";
        PHX_INFO("infer: %s proxied, %zu bytes", g->id, resp->text.len);
    }
    phx_secure_zero(out, strlen(out));
    free(out);
    return false;
}

static phx_err_t handle_completion(phx_infer_t *d, phx_infer_kind_t kind,
                                   const phx_http_request_t *req, phx_http_response_t *resp)
{
    phx_error_t e = {0};
    const char *param = NULL;
    gen_t *g = calloc(1, sizeof *g);
    if (!g) return oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
    g->d = d;
    g->text.secret = g->sent.secret = g->req_body.secret = g->plain.secret = true;
    g->created = (long)time(NULL);
    new_id(kind == PHX_INFER_CHAT ? "chatcmpl" : "cmpl", g->id, sizeof g->id);
    phx_buf_t plain = PHX_BUF_INIT;
    plain.secret = true;
    phx_err_t err = open_sealed(d, req->body, req->body_len, &g->sealed, &plain, g->reply_key, &e);
    if (err) {
        oai_error(resp, 400, "invalid_request_error", "sealed",
                  err == PHX_ERR_VERIFY ? "decryption_failed" : NULL, e.message);
        phx_buf_free(&plain);
        goto done;
    }
    if (g->sealed)
        err = phx_infer_request_parse(kind, plain.ptr, plain.len, &g->req, &param, &e);
    else
        err = phx_infer_request_parse(kind, req->body, req->body_len, &g->req, &param, &e);
    if (!err && d->upstream)
        err = phx_buf_append(&g->plain, g->sealed ? plain.ptr : req->body,
                             g->sealed ? plain.len : req->body_len);
    phx_buf_free(&plain);
    if (err) {
        oai_error(resp, 400, "invalid_request_error", param,
                  err == PHX_ERR_RANGE ? "invalid_value" : NULL, e.message);
        goto done;
    }
    if (strcmp(g->req.model, d->model_name) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "The model '%.100s' does not exist; this endpoint serves '%.60s'",
                 g->req.model, d->model_name);
        oai_error(resp, 404, "invalid_request_error", "model", "model_not_found", msg);
        goto done;
    }
    unsigned cap = d->engine ? phx_infer_engine_max_tokens(d->engine) : d->max_tokens;
    if (g->req.max_tokens > (int64_t)cap) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "max_tokens is too large: %lld. This endpoint supports at most %u completion "
                 "tokens.",
                 (long long)g->req.max_tokens, cap);
        oai_error(resp, 400, "invalid_request_error", "max_tokens", "invalid_value", msg);
        goto done;
    }
    if (d->upstream) {
        if (phx_buf_append(&g->req_body, req->body, req->body_len)) {
            oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
            goto done;
        }
        if (proxy_completion(g, resp)) return PHX_OK; /* g is the stream's now */
        goto done;
    }
    if ((err = phx_infer_job_prepare(d->engine, &g->req, &g->job, &e))) {
        if (err == PHX_ERR_LIMIT)
            oai_error(resp, 429, "rate_limit_error", NULL, "rate_limit_exceeded", e.message);
        else if (err == PHX_ERR_RANGE)
            oai_error(resp, 400, "invalid_request_error",
                      kind == PHX_INFER_CHAT ? "messages" : "prompt", "context_length_exceeded",
                      e.message);
        else if (err == PHX_ERR_INVALID || err == PHX_ERR_UNSUPPORTED)
            oai_error(resp, 400, "invalid_request_error", NULL, NULL, e.message);
        else
            oai_error(resp, 500, "server_error", NULL, NULL, "the engine failed");
        goto done;
    }
    if (phx_buf_append(&g->req_body, req->body, req->body_len)) {
        oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
        goto done;
    }
    if (g->req.stream) {
        resp->stream = stream_main;
        resp->stream_ctx = g;
        resp->content_type = "text/event-stream";
        return PHX_OK;
    }
    phx_infer_usage_t u;
    err = phx_infer_job_run(g->job, on_piece_collect, g, &u, &e);
    size_t np;
    const int32_t *pt = phx_infer_job_prompt(g->job, &np);
    json_t *prompt_ids = g->req.return_token_ids ? token_array(pt, np) : NULL;
    phx_infer_job_free(g->job);
    g->job = NULL;
    if (err) {
        json_decref(prompt_ids);
        oai_error(resp, 500, "server_error", NULL, NULL, e.message);
        goto done;
    }
    const char *finish = g->stopped ? "stop" : u.finish_reason;
    json_t *content = json_stringn((const char *)g->text.ptr, g->text.len);
    json_t *choice =
        kind == PHX_INFER_CHAT
            ? json_pack("{s:i,s:{s:s,s:o},s:n,s:s}", "index", 0, "message", "role", "assistant",
                        "content", content, "logprobs", "finish_reason", finish)
            : json_pack("{s:i,s:o,s:n,s:s}", "index", 0, "text", content, "logprobs",
                        "finish_reason", finish);
    json_t *out = json_pack("{s:s,s:s,s:I,s:s,s:[o],s:o}", "id", g->id, "object",
                            kind == PHX_INFER_CHAT ? "chat.completion" : "text_completion",
                            "created", (json_int_t)g->created, "model", d->model_name, "choices",
                            choice, "usage", usage_json(&u));
    if (out && prompt_ids) {
        json_object_set_new(out, "prompt_token_ids", prompt_ids);
        prompt_ids = NULL;
        json_object_set_new(
            choice, "token_ids",
            token_array((const int32_t *)g->token_ids.ptr, g->token_ids.len / sizeof(int32_t)));
    }
    json_decref(prompt_ids);
    char *body = out ? phx_json_dump(out, false) : NULL;
    json_decref(out);
    if (body && g->sealed) {
        char *w = seal_text(g, body, strlen(body));
        phx_secure_zero(body, strlen(body));
        free(body);
        body = w;
    }
    if (!body) {
        oai_error(resp, 500, "server_error", NULL, NULL, "out of memory");
        goto done;
    }
    /* Sign the exact bytes that go on the wire. */
    resp->text.secret = true;
    if (phx_buf_append_str(&resp->text, body) ||
        sign_exchange(d, g->id, req->body, req->body_len, resp->text.ptr, resp->text.len)) {
        phx_buf_free(&resp->text);
        oai_error(resp, 500, "server_error", NULL, NULL, "signing failed");
    } else {
        resp->content_type = "application/json";
        PHX_INFO("infer: %s answered %u+%u tokens", g->id, u.prompt_tokens, u.completion_tokens);
    }
    phx_secure_zero(body, strlen(body));
    free(body);
done:
    gen_free(g);
    return PHX_OK;
}

static phx_err_t on_chat(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                         phx_error_t *e)
{
    (void)e;
    return handle_completion(ctx, PHX_INFER_CHAT, req, resp);
}

static phx_err_t on_completion(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    (void)e;
    return handle_completion(ctx, PHX_INFER_COMPLETION, req, resp);
}

static phx_err_t on_models(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    (void)e;
    phx_infer_t *d = ctx;
    char sha[65];
    hex_of(sha, d->model_sha256, 32);
    resp->json = json_pack("{s:s,s:[{s:s,s:s,s:i,s:s,s:s,s:i}]}", "object", "list", "data", "id",
                           d->model_name, "object", "model", "created", 0, "owned_by", "phalanx",
                           "sha256", sha, "max_model_len",
                           (int)(d->engine ? phx_infer_engine_n_ctx(d->engine) : d->n_ctx));
    return resp->json ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "models");
}

/* ---- attestation and signatures ------------------------------------------------- */

static bool algo_ok(const char *a, bool *ed)
{
    if (!a || strcmp(a, "ecdsa") == 0) {
        *ed = false;
        return true;
    }
    if (strcmp(a, "ed25519") == 0) {
        *ed = true;
        return true;
    }
    return false;
}

static phx_err_t on_report(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    phx_infer_t *d = ctx;
    bool ed;
    if (!algo_ok(phx_http_query(req, "signing_algo"), &ed))
        return oai_error(resp, 400, "invalid_signing_algo", "signing_algo", NULL,
                         "signing_algo must be ecdsa or ed25519");
    const char *model = phx_http_query(req, "model");
    if (model && *model && strcmp(model, d->model_name) != 0)
        return oai_error(resp, 404, "invalid_request_error", "model", "model_not_found",
                         "this endpoint does not serve that model");
    uint8_t nonce[32];
    const char *nq = phx_http_query(req, "nonce");
    if (nq) {
        phx_error_t he = {0};
        if (strncmp(nq, "0x", 2) == 0) nq += 2;
        if (strlen(nq) != 64)
            return oai_error(resp, 400, "invalid_request_error", "nonce", NULL,
                             "Nonce must be 32 bytes");
        if (phx_hex_decode_fixed(nq, nonce, 32, &he))
            return oai_error(resp, 400, "invalid_request_error", "nonce", NULL,
                             "Nonce must be hex-encoded");
    } else {
        phx_random_bytes(nonce, sizeof nonce);
    }
    char checksum[43], edhex[65], xhex[65], pubhex[129], sha[65], noncehex[65], rdhex[129];
    phx_eth_address_checksum(d->address, checksum);
    hex_of(edhex, d->ed_pub, 32);
    hex_of(xhex, d->x_pub, 32);
    hex_of(pubhex, d->ecdsa_pub, 64);
    hex_of(sha, d->model_sha256, 32);
    hex_of(noncehex, nonce, 32);
    const char *want = phx_http_query(req, "signing_address");
    if (want && strcasecmp(want, ed ? edhex : checksum) != 0)
        return oai_error(resp, 404, "not_found", "signing_address", NULL,
                         "Signing address not found on this server");
    uint8_t rd[64];
    phx_infer_report_data(d->address, d->ed_pub, d->x_pub, d->model_sha256, nonce, rd);
    hex_of(rdhex, rd, 64);
    phx_buf_t quote = PHX_BUF_INIT;
    phx_err_t err = phx_tee_quote(d->tee, rd, &quote, e);
    if (err) {
        phx_buf_free(&quote);
        return oai_error(resp, 500, "server_error", NULL, NULL, "the TEE could not quote");
    }
    char *qhex = malloc(quote.len * 2 + 1);
    if (!qhex) {
        phx_buf_free(&quote);
        return phx_fail(e, PHX_ERR_NOMEM, "quote");
    }
    hex_of(qhex, quote.ptr, quote.len);
    phx_buf_free(&quote);
    json_t *att = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:n,s:[],s:{s:s,s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "signing_address",
        ed ? edhex : checksum, "signing_algo", ed ? "ed25519" : "ecdsa", "signing_public_key",
        ed ? edhex : pubhex, "request_nonce", noncehex, "intel_quote", qhex, "nvidia_payload",
        "event_log", "info", "tee", phx_tee_kind_name(phx_tee_kind(d->tee)), "engine",
        d->upstream ? "proxy" : "llama.cpp", "model_name", d->model_name, "model_sha256", sha,
        "ecdsa_address", checksum, "ed25519_public_key", edhex, "e2ee_public_key", xhex,
        "report_data", rdhex, "report_data_layout",
        "sha256(\"phx-infer-v1\"||ecdsa_address||ed25519_public_key||e2ee_public_key||"
        "model_sha256)||nonce");
    free(qhex);
    if (!att) return phx_fail(e, PHX_ERR_NOMEM, "report");
    json_t *out = json_deep_copy(att);
    if (!out || json_object_set_new(out, "all_attestations", json_pack("[o]", att))) {
        json_decref(out);
        return phx_fail(e, PHX_ERR_NOMEM, "report");
    }
    resp->json = out;
    return PHX_OK;
}

static phx_err_t on_signature(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                              phx_error_t *e)
{
    (void)e;
    phx_infer_t *d = ctx;
    bool ed;
    if (!algo_ok(phx_http_query(req, "signing_algo"), &ed))
        return oai_error(resp, 400, "invalid_signing_algo", "signing_algo", NULL,
                         "signing_algo must be ecdsa or ed25519");
    const char *id = phx_http_param(req, "id");
    sig_record_t r;
    bool found = false;
    uint64_t now = phx_monotonic_ms();
    pthread_mutex_lock(&d->sig_lock);
    for (size_t i = 0; i < SIG_SLOTS && id; i++) {
        if (d->sigs[i].id[0] && strcmp(d->sigs[i].id, id) == 0 &&
            now - d->sigs[i].at_ms < SIG_TTL_MS) {
            r = d->sigs[i];
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&d->sig_lock);
    if (!found)
        return oai_error(resp, 404, "not_found", NULL, NULL, "Chat id not found or expired");
    char sig[2 + 130 + 1], addr[65];
    if (ed) {
        hex_of(sig, r.ed25519, 64);
        hex_of(addr, d->ed_pub, 32);
    } else {
        sig[0] = '0';
        sig[1] = 'x';
        hex_of(sig + 2, r.ecdsa, 65);
        phx_eth_address_checksum(d->address, addr);
    }
    resp->json = json_pack("{s:s,s:s,s:s,s:s}", "text", r.text, "signature", sig, "signing_address",
                           addr, "signing_algo", ed ? "ed25519" : "ecdsa");
    return resp->json ? PHX_OK : PHX_ERR_NOMEM;
}

static phx_err_t on_health(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)req;
    (void)e;
    phx_infer_t *d = ctx;
    pthread_mutex_lock(&d->sig_lock);
    unsigned proxied = d->in_flight;
    pthread_mutex_unlock(&d->sig_lock);
    resp->json = json_pack("{s:s,s:i}", "status", "ok", "busy_sequences",
                           (int)(d->engine ? phx_infer_engine_busy(d->engine) : proxied));
    return resp->json ? PHX_OK : PHX_ERR_NOMEM;
}

/* ---- lifecycle --------------------------------------------------------------------- */

static phx_err_t hash_file(const char *path, uint8_t out[32], phx_error_t *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return phx_fail(e, PHX_ERR_IO, "%s: cannot open", path);
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return phx_fail(e, PHX_ERR_IO, "%s: not a model file", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return phx_fail(e, PHX_ERR_IO, "%s: cannot map", path);
    phx_sha256(p, (size_t)st.st_size, out);
    munmap(p, (size_t)st.st_size);
    return PHX_OK;
}

static char *default_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 5 && strcmp(b + n - 5, ".gguf") == 0) n -= 5;
    return strndup(b, n);
}

phx_err_t phx_infer_start(const phx_infer_opts_t *opts, phx_infer_t **out, phx_error_t *e)
{
    *out = NULL;
    if (!opts || (!opts->model_path && !(opts->upstream && opts->model_sha256)))
        return phx_fail(e, PHX_ERR_INVALID, "no --model (or --upstream with a model hash)");
    if (opts->upstream && !opts->model_name && !opts->model_path)
        return phx_fail(e, PHX_ERR_INVALID, "--upstream needs --model-name");
    if (opts->upstream && strncmp(opts->upstream, "http://", 7) != 0 &&
        strncmp(opts->upstream, "https://", 8) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "--upstream wants http(s)://HOST:PORT, got '%.64s'",
                        opts->upstream);
    phx_err_t err = phx_crypto_init();
    if (err) return phx_fail(e, err, "crypto init");
    phx_infer_t *d = calloc(1, sizeof *d);
    if (!d) return phx_fail(e, PHX_ERR_NOMEM, "infer");
    pthread_mutex_init(&d->sig_lock, NULL);
    d->sigs = calloc(SIG_SLOTS, sizeof *d->sigs);
    d->model_name = opts->model_name ? strdup(opts->model_name) : default_name(opts->model_path);
    if (!d->sigs || !d->model_name) {
        err = phx_fail(e, PHX_ERR_NOMEM, "infer");
        goto fail;
    }
    if (opts->upstream) {
        d->upstream = strdup(opts->upstream);
        d->upstream_model = strdup(opts->upstream_model ? opts->upstream_model : d->model_name);
        d->max_tokens = opts->engine.max_tokens ? opts->engine.max_tokens : 512;
        d->slots = opts->engine.n_slots ? opts->engine.n_slots : 4;
        d->n_ctx = opts->engine.n_ctx ? opts->engine.n_ctx : 2048;
        if (!d->upstream || !d->upstream_model) {
            err = phx_fail(e, PHX_ERR_NOMEM, "infer");
            goto fail;
        }
        size_t n = strlen(d->upstream);
        while (n && d->upstream[n - 1] == '/')
            d->upstream[--n] = 0;
        if (opts->model_sha256)
            memcpy(d->model_sha256, opts->model_sha256, 32);
        else if ((err = hash_file(opts->model_path, d->model_sha256, e)))
            goto fail;
        if ((err = phx_http_conns_new(&d->conns, e))) goto fail;
    } else if ((err = hash_file(opts->model_path, d->model_sha256, e))) {
        goto fail;
    }
    if ((err = phx_tee_open(opts->tee, opts->tee_config, &d->tee, e))) goto fail;
    /* Keys made here, in the TEE, held in memory only: a fresh identity per
     * start, bound to this run by the quote a client asks for. */
    if ((err = phx_secp256k1_keygen(d->ecdsa_sk)) ||
        (err = phx_secp256k1_pubkey(d->ecdsa_sk, d->ecdsa_pub)) ||
        (err = phx_ed25519_keygen(d->ed_pub, d->ed_sk)) ||
        (err = phx_x25519_keygen(d->x_sk, d->x_pub))) {
        err = phx_fail(e, err, "making the signing keys");
        goto fail;
    }
    phx_eth_address_from_pubkey(d->ecdsa_pub, d->address);
    phx_infer_engine_opts_t eo = opts->engine;
    eo.model_path = opts->model_path;
    if (!opts->upstream && (err = phx_infer_engine_open(&eo, &d->engine, e))) goto fail;
    if ((err = phx_http_router_new(&d->router, e))) goto fail;
    struct {
        const char *m, *p;
        phx_http_handler_fn fn;
        unsigned flags;
    } routes[] = {
        {"POST", "/v1/chat/completions", on_chat, PHX_HTTP_RAW_BODY},
        {"POST", "/v1/completions", on_completion, PHX_HTTP_RAW_BODY},
        {"GET", "/v1/models", on_models, 0},
        {"GET", "/v1/attestation/report", on_report, 0},
        {"GET", "/v1/signature/:id", on_signature, 0},
        {"GET", "/health", on_health, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((err = phx_http_router_add(d->router, routes[i].m, routes[i].p, routes[i].fn, d,
                                       routes[i].flags, e)))
            goto fail;
    phx_http_server_opts_t so = {0};
    so.host = opts->host ? opts->host : "127.0.0.1";
    so.port = opts->port;
    so.max_body_bytes = 4u << 20;
    so.per_client_connections = 1024;
    if ((err = phx_http_server_start(d->router, &so, &d->server, e))) goto fail;
    snprintf(d->url, sizeof d->url, strchr(so.host, ':') ? "http://[%s]:%u" : "http://%s:%u",
             so.host, (unsigned)phx_http_server_port(d->server));
    *out = d;
    return PHX_OK;
fail:
    phx_infer_stop(d, 0);
    return err;
}

void phx_infer_stop(phx_infer_t *d, uint64_t grace_ms)
{
    if (!d) return;
    phx_http_server_stop(d->server, grace_ms);
    phx_http_router_free(d->router);
    phx_infer_engine_close(d->engine);
    phx_http_conns_free(d->conns);
    free(d->upstream);
    free(d->upstream_model);
    phx_tee_close(d->tee);
    phx_secure_zero(d->ecdsa_sk, sizeof d->ecdsa_sk);
    phx_secure_zero(d->ed_sk, sizeof d->ed_sk);
    phx_secure_zero(d->x_sk, sizeof d->x_sk);
    free(d->sigs);
    free(d->model_name);
    pthread_mutex_destroy(&d->sig_lock);
    free(d);
}

const char *phx_infer_url(const phx_infer_t *d)
{
    return d->url;
}

void phx_infer_identity(const phx_infer_t *d, const char **model, uint8_t model_sha256[32],
                        uint8_t address[20], uint8_t ed25519_pub[32])
{
    if (model) *model = d->model_name;
    if (model_sha256) memcpy(model_sha256, d->model_sha256, 32);
    if (address) memcpy(address, d->address, 20);
    if (ed25519_pub) memcpy(ed25519_pub, d->ed_pub, 32);
}
