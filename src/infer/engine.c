/* The inference engine: llama.cpp through its C API (the pinned prebuilt
 * libraries, docs/infer.md). One model, one context with n_slots sequences;
 * each request takes a free sequence (none free: overload), decodes its
 * prompt and samples token by token. Generation steps of concurrent requests
 * are batched: a request queues its next token and whichever waiting thread
 * finds the context free decodes every queued token in one llama_decode (one
 * sequence each) and samples each from its own row, so 4 streams cost little
 * more than one per step.
 * Prompts and answers stay in memory only, and llama.cpp's own log is kept
 * to errors, none of which carry text. */
#include <ggml-backend.h>
#include <llama.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/infer.h"

#ifndef PHX_LLAMA_BACKEND_DIR
#define PHX_LLAMA_BACKEND_DIR ""
#endif

#define PROMPT_CHUNK 512 /* prompt tokens per llama_decode */

struct phx_infer_engine {
    struct llama_model *model;
    struct llama_context *ctx;
    const struct llama_vocab *vocab;
    const char *tmpl;              /* the model's chat template (owned by the model) */
    pthread_mutex_t lock;          /* the slot table, the step queue, ctx_busy */
    pthread_cond_t cv;             /* ctx_busy cleared or steps done */
    bool ctx_busy;                 /* one thread is inside the context (decoding) */
    struct step *queue;            /* generation steps waiting for the next batch */
    struct llama_batch step_batch; /* n_slots tokens, used by the batching thread */
    bool have_step_batch;
    bool *busy;
    unsigned n_slots, n_busy, n_ctx, max_tokens;
};

static void on_llama_log(enum ggml_log_level level, const char *text, void *ud)
{
    (void)ud;
    if (level == GGML_LOG_LEVEL_ERROR) PHX_WARN("llama.cpp: %s", text);
}

static char backend_dir[1024];

static void backend_init_once(void)
{
    llama_log_set(on_llama_log, NULL);
    ggml_log_set(on_llama_log, NULL);
    ggml_backend_load_all_from_path(backend_dir[0] ? backend_dir : NULL);
    llama_backend_init();
}

phx_err_t phx_infer_engine_open(const phx_infer_engine_opts_t *opts, phx_infer_engine_t **out,
                                phx_error_t *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    *out = NULL;
    if (!opts || !opts->model_path) return phx_fail(e, PHX_ERR_INVALID, "no model file");
    if (!backend_dir[0])
        snprintf(backend_dir, sizeof backend_dir, "%s",
                 opts->backend_dir ? opts->backend_dir : PHX_LLAMA_BACKEND_DIR);
    pthread_once(&once, backend_init_once);
    if (!ggml_backend_dev_count())
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "no llama.cpp backend could be loaded from %s",
                        backend_dir[0] ? backend_dir : "the default path");
    phx_infer_engine_t *eng = calloc(1, sizeof *eng);
    if (!eng) return phx_fail(e, PHX_ERR_NOMEM, "engine");
    pthread_mutex_init(&eng->lock, NULL);
    pthread_cond_init(&eng->cv, NULL);
    eng->n_slots = opts->n_slots ? opts->n_slots : 4;
    eng->n_ctx = opts->n_ctx ? opts->n_ctx : 2048;
    eng->max_tokens = opts->max_tokens ? opts->max_tokens : 512;
    unsigned threads = opts->n_threads ? opts->n_threads : 2;
    phx_err_t err;
    if (eng->n_slots > 64 || eng->n_ctx < 64 || eng->n_ctx > 131072) {
        err = phx_fail(e, PHX_ERR_RANGE, "slots must be 1..64 and the context 64..131072");
        goto fail;
    }
    eng->busy = calloc(eng->n_slots, sizeof *eng->busy);
    if (!eng->busy) {
        err = phx_fail(e, PHX_ERR_NOMEM, "engine");
        goto fail;
    }
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    eng->model = llama_model_load_from_file(opts->model_path, mp);
    if (!eng->model) {
        err = phx_fail(e, PHX_ERR_INVALID, "%s: llama.cpp could not load this model",
                       opts->model_path);
        goto fail;
    }
    eng->vocab = llama_model_get_vocab(eng->model);
    eng->tmpl = llama_model_chat_template(eng->model, NULL);
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = eng->n_ctx * eng->n_slots;
    cp.n_seq_max = eng->n_slots;
    cp.n_batch = PROMPT_CHUNK;
    cp.n_ubatch = PROMPT_CHUNK;
    cp.n_threads = (int32_t)threads;
    cp.n_threads_batch = (int32_t)threads;
    /* Same attention path as node-llama-cpp's default, so that the
     * differential test compares like with like. */
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.kv_unified = false;
    cp.no_perf = true;
    eng->ctx = llama_init_from_model(eng->model, cp);
    if (!eng->ctx) {
        err = phx_fail(e, PHX_ERR_NOMEM, "llama.cpp could not make a context of %u x %u tokens",
                       eng->n_slots, eng->n_ctx);
        goto fail;
    }
    eng->step_batch = llama_batch_init((int32_t)eng->n_slots, 0, 1);
    eng->have_step_batch = true;
    *out = eng;
    return PHX_OK;
fail:
    phx_infer_engine_close(eng);
    return err;
}

void phx_infer_engine_close(phx_infer_engine_t *eng)
{
    if (!eng) return;
    if (eng->have_step_batch) llama_batch_free(eng->step_batch);
    if (eng->ctx) llama_free(eng->ctx);
    if (eng->model) llama_model_free(eng->model);
    free(eng->busy);
    pthread_cond_destroy(&eng->cv);
    pthread_mutex_destroy(&eng->lock);
    free(eng);
}

unsigned phx_infer_engine_n_ctx(const phx_infer_engine_t *eng)
{
    return eng->n_ctx;
}
unsigned phx_infer_engine_max_tokens(const phx_infer_engine_t *eng)
{
    return eng->max_tokens;
}

unsigned phx_infer_engine_busy(phx_infer_engine_t *eng)
{
    pthread_mutex_lock(&eng->lock);
    unsigned n = eng->n_busy;
    pthread_mutex_unlock(&eng->lock);
    return n;
}

/* The chat template applied to the messages, with the assistant's turn opened. */
static phx_err_t render_chat(phx_infer_engine_t *eng, const phx_infer_request_t *req,
                             phx_buf_t *out, phx_error_t *e)
{
    if (!eng->tmpl) return phx_fail(e, PHX_ERR_UNSUPPORTED, "this model has no chat template");
    struct llama_chat_message *msgs = calloc(req->nmessages, sizeof *msgs);
    if (!msgs) return phx_fail(e, PHX_ERR_NOMEM, "chat");
    size_t total = 64;
    for (size_t i = 0; i < req->nmessages; i++) {
        msgs[i].role = req->messages[i].role;
        msgs[i].content = req->messages[i].content;
        total += strlen(req->messages[i].content) + 64;
    }
    phx_err_t err = PHX_OK;
    for (int pass = 0; pass < 2; pass++) {
        if (total > INT32_MAX) {
            err = phx_fail(e, PHX_ERR_LIMIT, "the conversation is too long");
            break;
        }
        phx_buf_reset(out);
        if (phx_buf_reserve(out, total + 1)) {
            err = phx_fail(e, PHX_ERR_NOMEM, "chat");
            break;
        }
        int32_t n = llama_chat_apply_template(eng->tmpl, msgs, req->nmessages, true,
                                              (char *)out->ptr, (int32_t)total);
        if (n < 0) {
            err = phx_fail(e, PHX_ERR_UNSUPPORTED, "llama.cpp does not know this chat template");
            break;
        }
        if ((size_t)n <= total) {
            out->len = (size_t)n;
            break;
        }
        total = (size_t)n;
    }
    free(msgs);
    return err;
}

static phx_err_t tokenize(phx_infer_engine_t *eng, const char *text, size_t len, bool special,
                          llama_token **toks, int32_t *ntoks, phx_error_t *e)
{
    if (len > INT32_MAX / 2) return phx_fail(e, PHX_ERR_LIMIT, "the prompt is too long");
    int32_t cap = (int32_t)len + 8;
    llama_token *t = malloc((size_t)cap * sizeof *t);
    if (!t) return phx_fail(e, PHX_ERR_NOMEM, "tokens");
    int32_t n = llama_tokenize(eng->vocab, text, (int32_t)len, t, cap, true, special);
    if (n < 0) {
        cap = -n;
        llama_token *t2 = realloc(t, (size_t)cap * sizeof *t);
        if (!t2) {
            free(t);
            return phx_fail(e, PHX_ERR_NOMEM, "tokens");
        }
        t = t2;
        n = llama_tokenize(eng->vocab, text, (int32_t)len, t, cap, true, special);
    }
    if (n < 0) {
        free(t);
        return phx_fail(e, PHX_ERR_INTERNAL, "tokenizing failed");
    }
    *toks = t;
    *ntoks = n;
    return PHX_OK;
}

static struct llama_sampler *make_sampler(const phx_infer_request_t *req)
{
    struct llama_sampler_chain_params sp = llama_sampler_chain_default_params();
    sp.no_perf = true;
    struct llama_sampler *s = llama_sampler_chain_init(sp);
    if (!s) return NULL;
    if (req->temperature <= 0) {
        llama_sampler_chain_add(s, llama_sampler_init_greedy());
        return s;
    }
    uint32_t seed = req->has_seed ? req->seed : 0;
    if (!req->has_seed) phx_random_bytes(&seed, sizeof seed);
    if (req->top_p < 1.0)
        llama_sampler_chain_add(s, llama_sampler_init_top_p((float)req->top_p, 1));
    llama_sampler_chain_add(s, llama_sampler_init_temp((float)req->temperature));
    llama_sampler_chain_add(s, llama_sampler_init_dist(seed));
    return s;
}

struct phx_infer_job {
    phx_infer_engine_t *eng;
    const phx_infer_request_t *req;
    llama_token *toks;
    int32_t ntoks;
    int seq;
};

void phx_infer_job_free(phx_infer_job_t *job)
{
    if (!job) return;
    phx_infer_engine_t *eng = job->eng;
    if (job->seq >= 0) {
        pthread_mutex_lock(&eng->lock);
        while (eng->ctx_busy)
            pthread_cond_wait(&eng->cv, &eng->lock);
        llama_memory_seq_rm(llama_get_memory(eng->ctx), job->seq, -1, -1);
        eng->busy[job->seq] = false;
        eng->n_busy--;
        pthread_mutex_unlock(&eng->lock);
    }
    if (job->toks) {
        phx_secure_zero(job->toks, (size_t)job->ntoks * sizeof *job->toks);
        free(job->toks);
    }
    free(job);
}

const int32_t *phx_infer_job_prompt(const phx_infer_job_t *job, size_t *n)
{
    *n = (size_t)job->ntoks;
    return job->toks;
}

phx_err_t phx_infer_job_prepare(phx_infer_engine_t *eng, const phx_infer_request_t *req,
                                phx_infer_job_t **out, phx_error_t *e)
{
    *out = NULL;
    phx_infer_job_t *job = calloc(1, sizeof *job);
    if (!job) return phx_fail(e, PHX_ERR_NOMEM, "job");
    job->eng = eng;
    job->req = req;
    job->seq = -1;
    phx_buf_t text = PHX_BUF_INIT;
    text.secret = true;
    phx_err_t err;
    if (req->kind == PHX_INFER_CHAT) {
        if ((err = render_chat(eng, req, &text, e))) goto out;
        err = tokenize(eng, (const char *)text.ptr, text.len, true, &job->toks, &job->ntoks, e);
    } else {
        err = tokenize(eng, req->prompt, strlen(req->prompt), false, &job->toks, &job->ntoks, e);
    }
    if (err) goto out;
    if (job->ntoks < 1) {
        err = phx_fail(e, PHX_ERR_INVALID, "the prompt is empty");
        goto out;
    }
    if ((unsigned)job->ntoks >= eng->n_ctx) {
        err = phx_fail(e, PHX_ERR_RANGE,
                       "This model's maximum context length is %u tokens. However, your "
                       "prompt is %d tokens.",
                       eng->n_ctx, job->ntoks);
        goto out;
    }
    pthread_mutex_lock(&eng->lock);
    for (unsigned i = 0; i < eng->n_slots; i++) {
        if (!eng->busy[i]) {
            eng->busy[i] = true;
            eng->n_busy++;
            job->seq = (int)i;
            break;
        }
    }
    pthread_mutex_unlock(&eng->lock);
    if (job->seq < 0) {
        err = phx_fail(e, PHX_ERR_LIMIT, "all %u sequences are busy; retry later", eng->n_slots);
        goto out;
    }
    err = PHX_OK;
out:
    phx_buf_free(&text);
    if (err)
        phx_infer_job_free(job);
    else
        *out = job;
    return err;
}

/* One generation step of one sequence, queued for the next batch. */
typedef struct step {
    struct step *next;
    llama_token tok;
    int32_t pos;
    int seq;
    struct llama_sampler *smpl;
    llama_token out;
    int32_t rc;
    bool done;
} step_t;

/* Decode tok at pos in seq and sample the next token, batched with whatever
 * other sequences are stepping at the same time. Returns llama_decode's code. */
static int32_t step_batched(phx_infer_engine_t *eng, step_t *st)
{
    pthread_mutex_lock(&eng->lock);
    st->done = false;
    st->next = eng->queue;
    eng->queue = st;
    while (!st->done) {
        if (eng->ctx_busy) {
            pthread_cond_wait(&eng->cv, &eng->lock);
            continue;
        }
        /* This thread runs the batch: everything queued now, its own step too. */
        eng->ctx_busy = true;
        step_t *list = eng->queue;
        eng->queue = NULL;
        pthread_mutex_unlock(&eng->lock);
        struct llama_batch *b = &eng->step_batch;
        int32_t n = 0;
        for (step_t *p = list; p; p = p->next, n++) {
            b->token[n] = p->tok;
            b->pos[n] = p->pos;
            b->n_seq_id[n] = 1;
            b->seq_id[n][0] = p->seq;
            b->logits[n] = true;
        }
        b->n_tokens = n;
        int32_t rc = llama_decode(eng->ctx, *b);
        int32_t i = 0;
        for (step_t *p = list; p; p = p->next, i++) {
            p->rc = rc;
            if (!rc) p->out = llama_sampler_sample(p->smpl, eng->ctx, i);
        }
        pthread_mutex_lock(&eng->lock);
        /* Read next before done: a finished step's owner may free it. */
        for (step_t *p = list, *nx; p; p = nx) {
            nx = p->next;
            p->done = true;
        }
        eng->ctx_busy = false;
        pthread_cond_broadcast(&eng->cv);
    }
    pthread_mutex_unlock(&eng->lock);
    return st->rc;
}

/* Exclusive use of the context for a prompt chunk. */
static void ctx_enter(phx_infer_engine_t *eng)
{
    pthread_mutex_lock(&eng->lock);
    while (eng->ctx_busy)
        pthread_cond_wait(&eng->cv, &eng->lock);
    eng->ctx_busy = true;
    pthread_mutex_unlock(&eng->lock);
}

static void ctx_leave(phx_infer_engine_t *eng)
{
    pthread_mutex_lock(&eng->lock);
    eng->ctx_busy = false;
    pthread_cond_broadcast(&eng->cv);
    pthread_mutex_unlock(&eng->lock);
}

phx_err_t phx_infer_job_run(phx_infer_job_t *job, phx_infer_piece_fn fn, void *fctx,
                            phx_infer_usage_t *usage, phx_error_t *e)
{
    phx_infer_engine_t *eng = job->eng;
    const phx_infer_request_t *req = job->req;
    const llama_token *toks = job->toks;
    int32_t ntoks = job->ntoks;
    int seq = job->seq;
    memset(usage, 0, sizeof *usage);
    usage->prompt_tokens = (uint32_t)ntoks;
    phx_buf_t pending = PHX_BUF_INIT, piece = PHX_BUF_INIT;
    pending.secret = piece.secret = true;
    struct llama_sampler *smpl = NULL;
    struct llama_batch batch = {0};
    bool have_batch = false;
    phx_err_t err;
    int64_t budget = req->max_tokens > 0 ? req->max_tokens : (int64_t)eng->max_tokens;
    if (budget > (int64_t)eng->max_tokens) budget = eng->max_tokens;
    int64_t room = (int64_t)eng->n_ctx - ntoks;
    if (budget > room) budget = room;
    if (!(smpl = make_sampler(req))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "sampler");
        goto out;
    }
    batch = llama_batch_init(PROMPT_CHUNK, 0, 1);
    have_batch = true;
    llama_token tok = 0;
    int32_t pos = 0;
    /* Prompt, in chunks; logits for its last token only. */
    while (pos < ntoks) {
        int32_t n = ntoks - pos < PROMPT_CHUNK ? ntoks - pos : PROMPT_CHUNK;
        batch.n_tokens = n;
        for (int32_t i = 0; i < n; i++) {
            batch.token[i] = toks[pos + i];
            batch.pos[i] = pos + i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = seq;
            batch.logits[i] = pos + i == ntoks - 1;
        }
        ctx_enter(eng);
        int32_t rc = llama_decode(eng->ctx, batch);
        if (!rc && pos + n == ntoks) tok = llama_sampler_sample(smpl, eng->ctx, n - 1);
        ctx_leave(eng);
        if (rc) {
            err = phx_fail(e, rc == 1 ? PHX_ERR_LIMIT : PHX_ERR_INTERNAL,
                           "llama_decode failed (%d)", (int)rc);
            goto out;
        }
        pos += n;
    }
    usage->finish_reason = "length";
    for (int64_t generated = 0; generated < budget;) {
        if (llama_vocab_is_eog(eng->vocab, tok)) {
            usage->finish_reason = "stop";
            break;
        }
        generated++;
        usage->completion_tokens = (uint32_t)generated;
        char buf[256];
        int32_t n = llama_token_to_piece(eng->vocab, tok, buf, sizeof buf, 0, false);
        if (n < 0) n = 0; /* a piece over 256 bytes: no real vocabulary has one */
        if (phx_buf_append(&pending, buf, (size_t)n)) {
            err = phx_fail(e, PHX_ERR_NOMEM, "answer");
            goto out;
        }
        phx_buf_reset(&piece);
        bool last = generated == budget;
        if (phx_infer_utf8_take(&pending, last, &piece)) {
            err = phx_fail(e, PHX_ERR_NOMEM, "answer");
            goto out;
        }
        if (!fn(fctx, (const char *)piece.ptr, piece.len, tok)) {
            usage->aborted = true;
            break;
        }
        if (last) break;
        step_t st = {.tok = tok, .pos = pos++, .seq = seq, .smpl = smpl};
        int32_t rc = step_batched(eng, &st);
        if (!rc) tok = st.out;
        if (rc) {
            err = phx_fail(e, PHX_ERR_INTERNAL, "llama_decode failed (%d)", (int)rc);
            goto out;
        }
    }
    /* An incomplete character left at a stop becomes U+FFFD, as text. */
    if (pending.len && !usage->aborted) {
        phx_buf_reset(&piece);
        if (!phx_infer_utf8_take(&pending, true, &piece) && piece.len)
            fn(fctx, (const char *)piece.ptr, piece.len, -1);
    }
    err = PHX_OK;
out:
    if (have_batch) llama_batch_free(batch);
    if (smpl) llama_sampler_free(smpl);
    phx_buf_free(&pending);
    phx_buf_free(&piece);
    return err;
}
