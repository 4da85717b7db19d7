/* The HTTP client daemons use to reach each other (worker -> kms, gateway ->
 * worker, CLI -> gateway): libcurl with hard timeouts, a response size cap that
 * aborts the transfer as soon as it is crossed, http/https only, no redirects. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "phx/net.h"

/* The only curl_global_init in the project (phx_net_curl_init). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;

static void curl_init(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

phx_err_t phx_net_curl_init(phx_error_t *e)
{
    pthread_once(&curl_once, curl_init);
    if (curl_init_result != CURLE_OK)
        return phx_fail(e, PHX_ERR_INTERNAL, "curl_global_init failed: %s",
                        curl_easy_strerror(curl_init_result));
    return PHX_OK;
}

/* The shared cache: curl's share interface holding connections (and DNS
 * answers), with one lock per kind of shared data as curl asks for. */
struct phx_http_conns {
    CURLSH *sh;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void conns_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h, (void)access;
    struct phx_http_conns *c = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_lock(&c->locks[data]);
}

static void conns_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct phx_http_conns *c = ud;
    if ((unsigned)data < CURL_LOCK_DATA_LAST) pthread_mutex_unlock(&c->locks[data]);
}

phx_err_t phx_http_conns_new(phx_http_conns_t **out, phx_error_t *e)
{
    *out = NULL;
    phx_err_t err = phx_net_curl_init(e);
    if (err) return err;
    phx_http_conns_t *c = calloc(1, sizeof *c);
    if (!c) return phx_fail(e, PHX_ERR_NOMEM, "connection cache");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    if (!(c->sh = curl_share_init()) ||
        curl_share_setopt(c->sh, CURLSHOPT_LOCKFUNC, conns_lock) != CURLSHE_OK ||
        curl_share_setopt(c->sh, CURLSHOPT_UNLOCKFUNC, conns_unlock) != CURLSHE_OK ||
        curl_share_setopt(c->sh, CURLSHOPT_USERDATA, c) != CURLSHE_OK ||
        curl_share_setopt(c->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
        curl_share_setopt(c->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK) {
        phx_http_conns_free(c);
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "this libcurl cannot share connections");
    }
    *out = c;
    return PHX_OK;
}

void phx_http_conns_free(phx_http_conns_t *c)
{
    if (!c) return;
    if (c->sh) curl_share_cleanup(c->sh);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    free(c);
}

typedef struct {
    phx_buf_t *out;
    size_t limit, got;
    bool over;
    const phx_http_client_opts_t *o; /* on_data: streamed to the caller */
    CURL *c;
    bool stopped; /* on_data asked to stop */
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    sink_t *k = userdata;
    size_t n = size * nmemb;
    if (n > k->limit - k->got) {
        k->over = true;
        return 0; /* curl aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (k->o->on_data) {
        long code = 0;
        curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
        if (!k->o->on_data(k->o->on_data_ctx, (int)code, (const uint8_t *)ptr, n)) {
            k->stopped = true;
            return 0;
        }
    } else if (phx_buf_append(k->out, ptr, n)) {
        return 0;
    }
    k->got += n;
    return n;
}

/* curl's progress callback, about once a second even while the peer is
 * silent: on_data with no bytes asks whether the receiver still wants the
 * rest, so a stalled transfer can be stopped too. */
static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    sink_t *k = userdata;
    long code = 0;
    curl_easy_getinfo(k->c, CURLINFO_RESPONSE_CODE, &code);
    if (k->o->on_data(k->o->on_data_ctx, (int)code, NULL, 0)) return 0;
    k->stopped = true;
    return 1; /* curl aborts with CURLE_ABORTED_BY_CALLBACK */
}

phx_err_t phx_http_fetch(const char *method, const char *url, const char *content_type,
                         const void *body, size_t body_len, const phx_http_client_opts_t *opts,
                         int *status, phx_buf_t *out, phx_error_t *e)
{
    phx_http_client_opts_t o = {0};
    if (opts) o = *opts;
    if (!o.timeout_ms) o.timeout_ms = 10000;
    if (!o.connect_timeout_ms) o.connect_timeout_ms = 3000;
    if (!o.max_response_bytes) o.max_response_bytes = 4u << 20;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return phx_fail(e, PHX_ERR_INVALID, "only http:// and https:// URLs: %.64s", url);

    phx_err_t ierr = phx_net_curl_init(e);
    if (ierr) return ierr;

    phx_err_t err = PHX_OK;
    struct curl_slist *headers = NULL;
    char ctype[128];
    size_t mark = out->len;
    sink_t sink = {out, o.max_response_bytes, 0, false, &o, NULL, false};
    CURL *c = curl_easy_init();
    if (!c) return phx_fail(e, PHX_ERR_NOMEM, "curl_easy_init");
    sink.c = c;

    if (content_type && body) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
        headers = curl_slist_append(headers, ctype);
    }
    /* curl would otherwise send Expect: 100-continue and wait for large bodies. */
    headers = curl_slist_append(headers, "Expect:");
    for (const char *const *h = o.headers; h && *h; h++)
        headers = curl_slist_append(headers, *h);
    if (!headers) {
        err = phx_fail(e, PHX_ERR_NOMEM, "headers");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    if (o.on_data) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, o.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o.max_response_bytes);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "phalanx/0.1");
    if (o.conns) {
        curl_easy_setopt(c, CURLOPT_SHARE, o.conns->sh);
        curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 64L); /* idle ones kept in the cache */
    }

    CURLcode rc = curl_easy_perform(c);
    if (sink.stopped) {
        err = phx_fail(e, PHX_ERR_STATE, "%s %.64s: stopped by the receiver", method, url);
    } else if (sink.over || rc == CURLE_FILESIZE_EXCEEDED) {
        err = phx_fail(e, PHX_ERR_LIMIT, "response from %.64s larger than %zu bytes", url,
                       o.max_response_bytes);
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        err = phx_fail(e, PHX_ERR_TIMEOUT, "%s %.64s: timed out", method, url);
    } else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_URL_MALFORMAT ||
               rc == CURLE_UNSUPPORTED_PROTOCOL) {
        /* Nothing reached the peer: safe to try elsewhere, even for a POST. */
        err = phx_fail(e, PHX_ERR_IO, "%s %.64s: %s", method, url, curl_easy_strerror(rc));
    } else if (rc != CURLE_OK) {
        /* Connected, then the exchange broke: the peer may have acted on it. */
        err = phx_fail(e, PHX_ERR_REMOTE, "%s %.64s: connection broke: %s", method, url,
                       curl_easy_strerror(rc));
    } else {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (status) *status = (int)code;
    }
out:
    if (err) out->len = mark; /* leave no partial body behind */
    if (out->ptr) out->ptr[out->len] = '\0';
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return err;
}

phx_err_t phx_http_json(const char *method, const char *url, const json_t *body,
                        const phx_http_client_opts_t *opts, int *status, json_t **out,
                        phx_error_t *e)
{
    char *text = NULL;
    phx_buf_t resp = PHX_BUF_INIT;
    json_t *v = NULL;
    int code = 0;
    phx_err_t err;
    *out = NULL;
    if (body && !(text = phx_json_dump(body, false)))
        return phx_fail(e, PHX_ERR_NOMEM, "serialising the request");
    err = phx_http_fetch(method, url, "application/json", text, text ? strlen(text) : 0, opts,
                         &code, &resp, e);
    if (err) goto out;
    if (status) *status = code;
    if (resp.len && phx_json_parse((const char *)resp.ptr, resp.len, &v, NULL)) v = NULL;
    if (code < 200 || code > 299) {
        /* Prefer the peer's own words: {"error":{"code","message"}}. */
        json_t *eo = v ? json_object_get(v, "error") : NULL;
        const char *ecode = json_string_value(json_object_get(eo, "code"));
        const char *emsg = json_string_value(json_object_get(eo, "message"));
        if (ecode)
            err = phx_fail(e, PHX_ERR_REMOTE, "HTTP %d %s: %s", code, ecode, emsg ? emsg : "");
        else
            err = phx_fail(e, PHX_ERR_REMOTE, "HTTP %d from %.64s", code, url);
        goto out;
    }
    if (resp.len && !v) {
        err = phx_fail(e, PHX_ERR_INVALID, "response from %.64s is not JSON", url);
        goto out;
    }
    *out = v;
    v = NULL;
out:
    json_decref(v);
    phx_buf_free(&resp);
    free(text);
    return err;
}
