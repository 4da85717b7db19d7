/* Outbound HTTP for contracts, performed by the worker with libcurl under the
 * egress policy: http/https only, and every address curl is about to connect to
 * (after DNS, for every hop of a redirect, each happy-eyeballs attempt) is
 * checked in the open-socket callback; loopback, private, link-local, multicast,
 * reserved and cloud-metadata addresses are refused unless the URL's host and
 * port are exactly an operator's --allow-host HOST:PORT (then only that port
 * is reachable: a chain RPC on another port of the same loopback stays out).
 * Redirects are followed here, one hop at a time, so each hop's host and port
 * are checked against that list too, and a hop to another origin (scheme,
 * host, port) drops Authorization, Cookie and Proxy-Authorization, as the
 * fetch standard and browsers do, so a credential meant for one API is never
 * handed to whatever host that API redirects to. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "phx/json.h"

static const char *classify_v4(uint32_t a) /* host byte order */
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    if (a == 0xA9FEA9FEu) return "metadata";       /* 169.254.169.254: AWS/GCP/Azure IMDS */
    if (a == 0x64646400u + 200) return "metadata"; /* 100.100.100.200: Alibaba Cloud */
    if (b0 == 0) return "reserved";                /* 0.0.0.0/8 "this network" */
    if (b0 == 127) return "loopback";
    if (b0 == 10) return "private";
    if (b0 == 172 && (b1 & 0xF0) == 16) return "private";
    if (b0 == 192 && b1 == 168) return "private";
    if (b0 == 100 && (b1 & 0xC0) == 64) return "private"; /* 100.64/10 carrier-grade NAT */
    if (b0 == 169 && b1 == 254) return "link-local";
    if (b0 == 192 && b1 == 0 && (uint8_t)(a >> 8) == 0) return "reserved"; /* 192.0.0/24 */
    if (b0 == 198 && (b1 & 0xFE) == 18) return "reserved";                 /* benchmarking */
    if (b0 >= 224 && b0 < 240) return "multicast";
    if (b0 >= 240) return "reserved"; /* includes 255.255.255.255 */
    return NULL;
}

const char *phx_egress_classify(const struct sockaddr *sa, socklen_t len)
{
    if (!sa) return "invalid";
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return classify_v4(ntohl(s->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t zero[16];
        if (!memcmp(b, zero, 15) && b[15] <= 1) return b[15] ? "loopback" : "reserved";
        /* IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d and NAT64
         * 64:ff9b::a.b.c.d all reach an IPv4 address: judge that one. */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
        if (!memcmp(b, mapped, 12) || !memcmp(b, zero, 12) || !memcmp(b, nat64, 12)) {
            uint32_t v4 =
                (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
            const char *why = classify_v4(v4);
            return why ? why : (!memcmp(b, zero, 12) ? "reserved" : NULL);
        }
        if ((b[0] & 0xFE) == 0xFC) return "private"; /* fc00::/7 (incl. fd00:ec2::254) */
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "link-local"; /* fe80::/10 */
        if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "private";    /* fec0::/10 site-local */
        if (b[0] == 0xFF) return "multicast";
        if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return "reserved";
        return NULL;
    }
    return "unsupported address family";
}

phx_err_t phx_egress_allowance_parse(const char *s, char *host, size_t host_cap, uint16_t *port,
                                     phx_error_t *e)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *hend = colon;
    if (!colon || colon == s)
        return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": want HOST:PORT", s);
    if (*s == '[') { /* [IPv6]:PORT */
        if (hend[-1] != ']' || hend - s < 3)
            return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": want [IPV6]:PORT", s);
        h = s + 1;
        hend--;
        struct in6_addr a6;
        char tmp[INET6_ADDRSTRLEN + 1];
        size_t n = (size_t)(hend - h);
        if (n >= sizeof tmp || (memcpy(tmp, h, n), tmp[n] = 0, inet_pton(AF_INET6, tmp, &a6) != 1))
            return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": bad IPv6 address", s);
    } else {
        for (const char *c = h; c < hend; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
                return phx_fail(e, PHX_ERR_INVALID,
                                "allowance \"%.100s\": want HOST:PORT (IPv6 in brackets)", s);
    }
    const char *p = colon + 1;
    unsigned long v = 0;
    if (!*p || strlen(p) > 5)
        return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": port must be 1..65535", s);
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": port must be 1..65535", s);
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < 1 || v > 65535)
        return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": port must be 1..65535", s);
    size_t n = (size_t)(hend - h);
    if (n >= host_cap)
        return phx_fail(e, PHX_ERR_INVALID, "allowance \"%.100s\": host too long", s);
    for (size_t i = 0; i < n; i++)
        host[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
    host[n] = 0;
    *port = (uint16_t)v;
    return PHX_OK;
}

typedef struct {
    sbx_host_t *h;
    bool host_allowed;
    uint16_t allowed_port; /* with host_allowed: the only port that may be reached */
    char denied[128];
    phx_buf_t body;
    uint64_t body_cap;
    bool too_big;
    json_t *headers;
    char status_text[128];
} req_t;

static curl_socket_t open_socket_cb(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    req_t *r = ud;
    (void)purpose;
    uint16_t port = 0;
    if (addr->family == AF_INET && addr->addrlen >= sizeof(struct sockaddr_in))
        port = ntohs(((struct sockaddr_in *)&addr->addr)->sin_port);
    else if (addr->family == AF_INET6 && addr->addrlen >= sizeof(struct sockaddr_in6))
        port = ntohs(((struct sockaddr_in6 *)&addr->addr)->sin6_port);
    /* An allowance covers its port only, whatever curl was told. */
    if (!r->host_allowed || port != r->allowed_port) {
        const char *why = phx_egress_classify(&addr->addr, addr->addrlen);
        if (why) {
            char ip[INET6_ADDRSTRLEN] = "?";
            if (addr->family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)&addr->addr)->sin_addr, ip, sizeof ip);
            else if (addr->family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr->addr)->sin6_addr, ip,
                          sizeof ip);
            snprintf(r->denied, sizeof r->denied, "%s address %s", why, ip);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t len = size * n;
    if (r->body.len + len > r->body_cap) {
        r->too_big = true;
        return 0;
    }
    return phx_buf_append(&r->body, p, len) ? 0 : len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t len = size * n;
    if (len >= 5 && !memcmp(p, "HTTP/", 5)) { /* a new response (1xx, redirect): start over */
        json_array_clear(r->headers);
        const char *sp = memchr(p, ' ', len);
        const char *sp2 = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - p)) : NULL;
        r->status_text[0] = 0;
        if (sp2) {
            const char *t = sp2 + 1;
            size_t tl = len - (size_t)(t - p);
            while (tl && (t[tl - 1] == '\r' || t[tl - 1] == '\n'))
                tl--;
            snprintf(r->status_text, sizeof r->status_text, "%.*s", (int)tl, t);
        }
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || json_array_size(r->headers) >= 256) return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t'))
        v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    char name[256];
    if (nl == 0 || nl >= sizeof name) return len;
    for (size_t i = 0; i < nl; i++)
        name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
    name[nl] = 0;
    json_t *pair = json_pack("[s,s%]", name, v, vl);
    if (pair) json_array_append_new(r->headers, pair); /* non-UTF-8 header values are dropped */
    return len;
}

static bool host_is_allowed(const sbx_host_t *h, const char *host, uint16_t port)
{
    size_t hl = strlen(host);
    /* curl gives IPv6 literals in brackets */
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') host++, hl -= 2;
    for (int i = 0; i < h->cfg->nallow_hosts; i++) {
        char ah[256];
        uint16_t ap;
        if (phx_egress_allowance_parse(h->cfg->allow_hosts[i], ah, sizeof ah, &ap, NULL)) continue;
        if (ap == port && strlen(ah) == hl && !strncasecmp(ah, host, hl)) return true;
    }
    return false;
}

/* Headers a redirect to another origin must not carry. */
static bool is_credential(const char *name)
{
    return !strcasecmp(name, "authorization") || !strcasecmp(name, "cookie") ||
           !strcasecmp(name, "proxy-authorization");
}

static bool header_ok(const char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n') return false;
    return true;
}

/* The contract's headers as curl lines, without the credentials when
 * strip_credentials (the request has left its first origin). */
static phx_err_t build_headers(const json_t *hdrs, bool strip_credentials, struct curl_slist **out,
                               phx_error_t *e)
{
    struct curl_slist *hl = NULL;
    size_t nh = json_array_size(hdrs);
    for (size_t i = 0; i < nh && i < 100; i++) {
        const char *k = json_string_value(json_array_get(json_array_get(hdrs, i), 0));
        const char *v = json_string_value(json_array_get(json_array_get(hdrs, i), 1));
        if (!k || !v || !*k || !header_ok(k) || !header_ok(v) || strchr(k, ':')) {
            curl_slist_free_all(hl);
            return phx_fail(e, PHX_ERR_INVALID, "fetch: bad header");
        }
        if (strip_credentials && is_credential(k)) continue;
        char line[8192];
        if ((size_t)snprintf(line, sizeof line, "%s: %s", k, v) >= sizeof line) {
            curl_slist_free_all(hl);
            return phx_fail(e, PHX_ERR_INVALID, "fetch: header too long");
        }
        struct curl_slist *n2 = curl_slist_append(hl, line);
        if (!n2) {
            curl_slist_free_all(hl);
            return phx_fail(e, PHX_ERR_NOMEM, "fetch");
        }
        hl = n2;
    }
    *out = hl;
    return PHX_OK;
}

phx_err_t sbx_fetch(sbx_host_t *h, const json_t *spec, uint64_t timeout_ms, json_t **out,
                    phx_error_t *e)
{
    const char *url0 = json_string_value(json_object_get(spec, "url"));
    const char *method0 = json_string_value(json_object_get(spec, "method"));
    const char *body_b64 = json_string_value(json_object_get(spec, "body"));
    json_t *hdrs = json_object_get(spec, "headers");
    if (!url0) return phx_fail(e, PHX_ERR_INVALID, "fetch: url missing");
    if (!method0) method0 = "GET";
    for (const char *m = method0; *m; m++)
        if (!((*m >= 'A' && *m <= 'Z') || *m == '-'))
            return phx_fail(e, PHX_ERR_INVALID, "fetch: bad method");

    phx_buf_t body = PHX_BUF_INIT;
    if (body_b64 && phx_base64_decode(body_b64, strlen(body_b64), &body, e)) {
        phx_buf_free(&body);
        return phx_error_wrap(e, PHX_ERR_INVALID, "fetch body");
    }
    if (body.len > h->limits->response_bytes) {
        phx_buf_free(&body);
        return phx_fail(e, PHX_ERR_LIMIT, "fetch: request body larger than %llu bytes",
                        (unsigned long long)h->limits->response_bytes);
    }

    phx_err_t err = PHX_OK;
    CURL *c = curl_easy_init();
    CURLU *u = curl_url();
    struct curl_slist *hl = NULL, *pins = NULL;
    req_t r = {.h = h, .body_cap = h->limits->response_bytes, .headers = json_array()};
    char *url = strdup(url0);
    char method[16];
    snprintf(method, sizeof method, "%s", method0);
    bool redirected = false, stripped = false;
    char first_origin[600] = "";
    long status = 0;
    if (!c || !u || !url || !r.headers) {
        err = phx_fail(e, PHX_ERR_NOMEM, "fetch");
        goto out;
    }
    for (int i = 0; i < h->cfg->nresolve; i++) {
        struct curl_slist *n2 = curl_slist_append(pins, h->cfg->resolve[i]);
        if (n2) pins = n2;
    }
    if ((err = build_headers(hdrs, false, &hl, e))) goto out;

    for (int hop = 0;; hop++) {
        if (hop > 5) {
            err = phx_fail(e, PHX_ERR_REMOTE, "fetch: too many redirects");
            goto out;
        }
        char *scheme = NULL, *host = NULL;
        if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
            curl_free(scheme);
            err = phx_fail(e, PHX_ERR_INVALID, "fetch: bad URL %.200s", url);
            goto out;
        }
        bool scheme_ok = !strcasecmp(scheme, "http") || !strcasecmp(scheme, "https");
        char scheme_lc[8];
        snprintf(scheme_lc, sizeof scheme_lc, "%s", scheme_ok ? scheme : "");
        curl_free(scheme);
        if (!scheme_ok) {
            snprintf(h->fatal_code, sizeof h->fatal_code, "egress_denied");
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "fetch %.120s: only http and https are allowed", url);
            err = phx_fail(e, PHX_ERR_POLICY, "%s", h->fatal_message);
            goto out;
        }
        char *port_s = NULL;
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &port_s, CURLU_DEFAULT_PORT) != CURLUE_OK) {
            curl_free(host);
            err = phx_fail(e, PHX_ERR_INVALID, "fetch: no host in %.200s", url);
            goto out;
        }
        uint16_t port = (uint16_t)atoi(port_s);
        curl_free(port_s);
        char origin[600];
        snprintf(origin, sizeof origin, "%s://%s:%u", scheme_lc, host, (unsigned)port);
        for (char *o = origin; *o; o++)
            *o = (char)((*o >= 'A' && *o <= 'Z') ? *o + 32 : *o);
        if (!hop) {
            snprintf(first_origin, sizeof first_origin, "%s", origin);
        } else if (!stripped && strcmp(origin, first_origin)) {
            /* Left the first origin: the credentials stay behind, for this
             * hop and every later one (even one that comes back). */
            curl_slist_free_all(hl);
            hl = NULL;
            if ((err = build_headers(hdrs, true, &hl, e))) {
                curl_free(host);
                goto out;
            }
            stripped = true;
        }
        r.host_allowed = host_is_allowed(h, host, port);
        r.allowed_port = port;
        curl_free(host);
        uint64_t now = phx_monotonic_ms();
        uint64_t left = h->deadline_ms > now ? h->deadline_ms - now : 1;
        uint64_t tmo = timeout_ms < left ? timeout_ms : left;

        curl_easy_reset(c);
        phx_buf_reset(&r.body);
        r.too_big = false;
        r.denied[0] = 0;
        json_array_clear(r.headers);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an environment proxy */
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)tmo);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
        curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &r);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        if (pins) curl_easy_setopt(c, CURLOPT_RESOLVE, pins);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "phx-contract/0.1");
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->limits->response_bytes);
        if (!strcmp(method, "HEAD")) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (strcmp(method, "GET") || body.len) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
            if (body.len || strcmp(method, "GET")) {
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.ptr ? (char *)body.ptr : "");
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
            }
        }
        CURLcode rc = curl_easy_perform(c);
        if (r.denied[0]) {
            snprintf(h->fatal_code, sizeof h->fatal_code, "egress_denied");
            snprintf(h->fatal_message, sizeof h->fatal_message, "fetch %.120s: refused %s%s", url,
                     r.denied, hop ? " (after a redirect)" : "");
            err = phx_fail(e, PHX_ERR_POLICY, "%s", h->fatal_message);
            goto out;
        }
        if (r.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(h->fatal_code, sizeof h->fatal_code, "response_limit");
            snprintf(h->fatal_message, sizeof h->fatal_message,
                     "fetch %.120s: response larger than %llu bytes", url,
                     (unsigned long long)h->limits->response_bytes);
            err = phx_fail(e, PHX_ERR_LIMIT, "%s", h->fatal_message);
            goto out;
        }
        if (rc != CURLE_OK) {
            /* Network trouble is the contract's to handle: a TypeError, as in browsers. */
            err = phx_fail(e, rc == CURLE_OPERATION_TIMEDOUT ? PHX_ERR_TIMEOUT : PHX_ERR_REMOTE,
                           "fetch %.200s failed: %s", url, curl_easy_strerror(rc));
            goto out;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        char *loc = NULL;
        curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
        if ((status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
            loc) {
            char *next = strdup(loc);
            if (!next) {
                err = phx_fail(e, PHX_ERR_NOMEM, "fetch");
                goto out;
            }
            free(url);
            url = next;
            redirected = true;
            if (status == 303 || ((status == 301 || status == 302) && strcmp(method, "GET") &&
                                  strcmp(method, "HEAD"))) {
                snprintf(method, sizeof method, "GET");
                phx_buf_free(&body);
            }
            continue;
        }
        break;
    }
    {
        char *b64 = phx_base64_encode(r.body.ptr ? r.body.ptr : (const uint8_t *)"", r.body.len);
        json_t *o = b64 ? json_pack("{s:i,s:s,s:O,s:s,s:s,s:b}", "status", (int)status,
                                    "statusText", r.status_text, "headers", r.headers, "body", b64,
                                    "url", url, "redirected", redirected)
                        : NULL;
        free(b64);
        if (!o) {
            err = phx_fail(e, PHX_ERR_NOMEM, "fetch");
            goto out;
        }
        *out = o;
    }
out:
    free(url);
    phx_buf_free(&body);
    phx_buf_free(&r.body);
    json_decref(r.headers);
    curl_slist_free_all(hl);
    curl_slist_free_all(pins);
    curl_url_cleanup(u);
    if (c) curl_easy_cleanup(c);
    return err;
}
