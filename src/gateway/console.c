/* The web console (docs/console.md): server-rendered HTML pages over the same
 * records the JSON API serves, so the read-only pages work without
 * JavaScript, and the Verify page, whose checks run in the browser against the
 * chain node the user names (never trusting this gateway). Every string that
 * reaches a page is escaped here: contract code, outputs and logs are the
 * untrusted text of whoever deployed or called a contract. Pages go out with a
 * strict Content-Security-Policy: scripts only from this origin (the bundle
 * built into the binary), no inline script or style. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "console_assets.h"
#include "gateway_internal.h"
#include "phx/attest.h"
#include "phx/chain.h"
#include "phx/crypto.h"

/* Scripts only from here ('wasm-unsafe-eval' lets the bundle compile the
 * quote verifier's WebAssembly, not evaluate strings); connect-src must reach
 * any chain node the user names on the Verify page, since the point is not to
 * take the gateway's word for it. */
static const char *const page_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self'; connect-src 'self' http: https:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "Referrer-Policy",
    "no-referrer",
    NULL};

/* ---- escaping -------------------------------------------------------------------- */

/* Append s as HTML text or a quoted attribute value: the five characters that
 * can end either are replaced, everything else is copied. */
static void esc(phx_buf_t *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            phx_buf_append_str(b, "&amp;");
            break;
        case '<':
            phx_buf_append_str(b, "&lt;");
            break;
        case '>':
            phx_buf_append_str(b, "&gt;");
            break;
        case '"':
            phx_buf_append_str(b, "&quot;");
            break;
        case '\'':
            phx_buf_append_str(b, "&#39;");
            break;
        default:
            phx_buf_append(b, s, 1);
        }
    }
}

static void esc_n(phx_buf_t *b, const char *s, size_t n)
{
    char *t = strndup(s, n);
    esc(b, t);
    free(t);
}

/* Escaped value of key in o, or "—" when absent. */
/* <p class="bad" id="ID">PREFIX message</p>: a part of a page that could not be
 * read, saying why (the message is untrusted text, escaped). */
static void bad_para(phx_buf_t *b, const char *id, const char *prefix, const char *message)
{
    phx_buf_printf(b, "<p class=\"bad\" id=\"%s\">%s", id, prefix);
    esc(b, message);
    phx_buf_append_str(b, "</p>");
}

static void esc_field(phx_buf_t *b, const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    char num[32];
    if (json_is_string(v))
        esc(b, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), esc(b, num);
    else if (json_is_boolean(v))
        esc(b, json_is_true(v) ? "yes" : "no");
    else
        phx_buf_append_str(b, "\xe2\x80\x94");
}

static void page_start(phx_buf_t *b, const char *title, const char *nav)
{
    phx_buf_append_str(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                          "<meta name=\"viewport\" content=\"width=device-width\">"
                          "<link rel=\"stylesheet\" href=\"/console/style.css\">");
    /* The Jobs table is live without script: the browser reloads it. */
    if (!strcmp(nav, "jobs")) phx_buf_append_str(b, "<meta http-equiv=\"refresh\" content=\"5\">");
    phx_buf_append_str(b, "<title>");
    esc(b, title);
    phx_buf_append_str(b, " \xc2\xb7 Phalanx</title></head><body><header><strong>Phalanx</strong>"
                          "<nav aria-label=\"pages\">");
    static const struct {
        const char *id, *href, *label;
    } links[] = {
        {"network", "/", "Network"}, {"jobs", "/jobs", "Jobs"}, {"verify", "/verify", "Verify"}};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        phx_buf_printf(b, "<a href=\"%s\"%s>%s</a>", links[i].href,
                       strcmp(nav, links[i].id) ? "" : " aria-current=\"page\"", links[i].label);
    phx_buf_append_str(b, "</nav></header><main>");
}

static void page_end(phx_buf_t *b, phx_http_response_t *resp)
{
    phx_buf_append_str(b, "</main></body></html>\n");
    resp->content_type = "text/html; charset=utf-8";
    resp->headers = page_headers;
}

/* ---- pages ------------------------------------------------------------------------ */

static void time_cell(phx_buf_t *b, const json_t *ms)
{
    char t[32];
    time_t s = (time_t)(json_integer_value(ms) / 1000);
    struct tm tm;
    if (!json_is_integer(ms) || !json_integer_value(ms) || !gmtime_r(&s, &tm)) {
        phx_buf_append_str(b, "\xe2\x80\x94");
        return;
    }
    strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC", &tm);
    esc(b, t);
}

/* Unix seconds as a UTC date and time (certificate windows reach far ahead). */
static void time_cell_s(phx_buf_t *b, json_int_t secs)
{
    char t[40];
    time_t v = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&v, &tm) || !strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S UTC", &tm)) {
        phx_buf_append_str(b, "\xe2\x80\x94");
        return;
    }
    esc(b, t);
}

/* wei (decimal) as PHA: 18 decimals, trailing zeros dropped. */
static void pha_cell(phx_buf_t *b, const char *wei)
{
    char t[100];
    size_t n = strlen(wei);
    if (n <= 18) {
        snprintf(t, sizeof t, "0.%0*d%s", (int)(18 - n), 0, wei);
        if (n == 18) snprintf(t, sizeof t, "0.%s", wei);
    } else {
        snprintf(t, sizeof t, "%.*s.%s", (int)(n - 18), wei, wei + n - 18);
    }
    size_t m = strlen(t);
    while (m && t[m - 1] == '0')
        t[--m] = 0;
    if (m && t[m - 1] == '.') t[--m] = 0;
    esc(b, t);
    phx_buf_append_str(b, " PHA");
}

/* What the Network page reads from the chain itself, not from the gateway's
 * flags: each worker operator's stake (Registry.stakeOf: bonded PHA, or its
 * StakePool stake once the Registry has a staking contract) and every KMS key
 * the Registry admitted, with its record. Adds "stake" (wei, decimal) to each
 * worker of net and returns the KMS rows, or sets *why. */
static json_t *chain_view(phx_gateway_t *g, json_t *net, phx_error_t *why)
{
    const char *rpc_url;
    const phx_chain_deployment_t *d;
    if (!gw_chain(g, &rpc_url, &d)) {
        phx_fail(why, PHX_ERR_UNSUPPORTED, "this gateway has no chain (--rpc, --deployment)");
        return NULL;
    }
    phx_rpc_t *rpc = NULL;
    phx_rpc_opts_t ro = {.timeout_ms = 5000};
    uint8_t(*kms)[20] = NULL;
    size_t nkms = 0, i;
    json_t *rows = NULL, *w;
    if (phx_rpc_open(rpc_url, &ro, &rpc, why)) return NULL;
    json_array_foreach(json_object_get(net, "workers"), i, w)
    {
        uint8_t op[20];
        phx_u256_t stake;
        char dec[80];
        if (phx_json_get_hex_fixed(w, "operator", op, 20, NULL)) continue; /* not on chain */
        /* A node that does not answer: say so once, not once per worker. */
        if (phx_chain_stake_of(rpc, d, op, &stake, why)) goto out;
        phx_u256_to_dec(&stake, dec);
        json_object_set_new(w, "stake", json_string(dec));
    }
    if (phx_chain_kms_list(rpc, d, &kms, &nkms, why)) goto out;
    rows = json_array();
    for (i = 0; rows && i < nkms; i++) {
        phx_chain_kms_t k;
        bool active = false;
        if (phx_chain_kms_get(rpc, d, kms[i], &k, why) ||
            phx_chain_is_kms(rpc, d, kms[i], &active, why)) {
            json_decref(rows);
            rows = NULL;
            break;
        }
        char cs[43];
        phx_eth_address_checksum(kms[i], cs);
        json_array_append_new(rows, json_pack("{s:s,s:o,s:s,s:b,s:o,s:s,s:I}", "address", cs,
                                              "x25519", phx_json_hex(k.x25519, 32), "status",
                                              k.status == PHX_CHAIN_KMS_ADMITTED  ? "admitted"
                                              : k.status == PHX_CHAIN_KMS_REVOKED ? "revoked"
                                                                                  : "none",
                                              "signs", active, "measurement",
                                              phx_json_hex(k.measurement, 32), "tee",
                                              k.tee_type == PHX_CHAIN_TEE_TDX ? "tdx" : "sgx",
                                              "admitted_ms", (json_int_t)k.admitted_at * 1000));
    }
out:
    free(kms);
    phx_rpc_close(rpc);
    return rows;
}

/* How the gateway knows a worker: from the Registry (and whether the server at
 * its URL proved the worker key, or why not), or from --worker. */
static void found_cell(phx_buf_t *b, const json_t *w)
{
    if (strcmp(json_string_value(json_object_get(w, "source")) ?: "", "chain") != 0) {
        phx_buf_append_str(b, "--worker");
        return;
    }
    bool proven = !strcmp(json_string_value(json_object_get(w, "identity")) ?: "", "proven");
    phx_buf_append_str(b, proven ? "on chain, <span class=\"ok\">key proven</span>"
                                 : "on chain, <span class=\"bad\">key not proven</span>");
    if (json_object_get(w, "why")) {
        phx_buf_append_str(b, ": ");
        esc_field(b, w, "why");
    }
}

/* GET /: workers, KMS, chain, contracts. */
static phx_err_t h_page_network(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                                phx_error_t *e)
{
    (void)req;
    json_t *n = gw_network_json(ctx), *v;
    if (!n) return phx_fail(e, PHX_ERR_NOMEM, "network");
    phx_buf_t *b = &resp->text;
    size_t i;
    page_start(b, "Network", "network");
    phx_buf_printf(b,
                   "<h1>Network</h1><p id=\"summary\">%lld healthy worker(s), %lld call(s) "
                   "through this gateway.</p>",
                   (long long)json_integer_value(json_object_get(n, "healthy")),
                   (long long)json_integer_value(json_object_get(n, "calls")));
    phx_error_t ce = {0};
    json_t *kms_rows = chain_view(ctx, n, &ce);
    phx_buf_append_str(
        b, "<h2>Workers</h2><table id=\"workers\"><thead><tr><th>address</th>"
           "<th>operator</th><th>stake</th><th>TEE</th><th>measurement</th><th>health</th>"
           "<th>registered</th><th>calls</th><th>failures</th><th>latency ms</th>"
           "<th>found</th><th>URL</th></tr></thead><tbody>");
    json_array_foreach(json_object_get(n, "workers"), i, v)
    {
        static const char *const cols[] = {"address",     "operator",   "stake",      "tee",
                                           "measurement", "healthy",    "registered", "calls",
                                           "failures",    "latency_ms", "source",     "url"};
        phx_buf_append_str(b, "<tr>");
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            phx_buf_append_str(b, k <= 1 || k == 4 ? "<td class=\"hex\">" : "<td>");
            if (k == 2 && json_is_string(json_object_get(v, "stake"))) {
                pha_cell(b, json_string_value(json_object_get(v, "stake")));
            } else if (k == 5) {
                phx_buf_append_str(b, json_is_true(json_object_get(v, "healthy"))
                                          ? "<span class=\"ok\">healthy</span>"
                                          : "<span class=\"bad\">down</span>");
            } else if (k == 10) {
                found_cell(b, v);
            } else if (k == 0) {
                phx_buf_printf(b, "<a href=\"/attestation/workers/%zu\">", i);
                esc_field(b, v, cols[k]);
                phx_buf_append_str(b, "</a>");
            } else {
                esc_field(b, v, cols[k]);
            }
            phx_buf_append_str(b, "</td>");
        }
        phx_buf_append_str(b, "</tr>");
    }
    phx_buf_append_str(b, "</tbody></table>");

    phx_buf_append_str(b, "<h2>KMS</h2><dl id=\"kms\"><dt>URL</dt><dd>");
    esc_field(b, n, "kms");
    if (json_object_get(n, "kms"))
        phx_buf_append_str(b, " (<a href=\"/attestation/kms\">attestation</a>)");
    phx_buf_append_str(b, "</dd></dl><h3>KMS nodes in the Registry</h3>");
    if (!kms_rows) {
        bad_para(b, "kms-nodes-error", "", ce.message);
    } else {
        phx_buf_append_str(b, "<table id=\"kms-nodes\"><thead><tr><th>address</th><th>X25519</th>"
                              "<th>status</th><th>signs now</th><th>TEE</th><th>measurement</th>"
                              "<th>admitted</th></tr></thead><tbody>");
        json_array_foreach(kms_rows, i, v)
        {
            const char *st = json_string_value(json_object_get(v, "status"));
            phx_buf_append_str(b, "<tr><td class=\"hex\">");
            esc_field(b, v, "address");
            phx_buf_append_str(b, "</td><td class=\"hex\">");
            esc_field(b, v, "x25519");
            phx_buf_printf(b, "</td><td class=\"%s\">",
                           st && !strcmp(st, "admitted") ? "ok" : "bad");
            esc(b, st);
            phx_buf_append_str(b, "</td><td>");
            esc_field(b, v, "signs");
            phx_buf_append_str(b, "</td><td>");
            esc_field(b, v, "tee");
            phx_buf_append_str(b, "</td><td class=\"hex\">");
            esc_field(b, v, "measurement");
            phx_buf_append_str(b, "</td><td>");
            time_cell(b, json_object_get(v, "admitted_ms"));
            phx_buf_append_str(b, "</td></tr>");
        }
        phx_buf_append_str(b, "</tbody></table>");
        if (!json_array_size(kms_rows))
            phx_buf_append_str(b, "<p id=\"no-kms-nodes\">The Registry has admitted no KMS.</p>");
    }
    json_decref(kms_rows);
    phx_buf_append_str(b, "<h2>Chain</h2><dl id=\"chain\"><dt>RPC</dt><dd>");
    esc_field(b, n, "rpc");
    json_t *chain = json_object_get(n, "chain");
    phx_buf_append_str(b, "</dd><dt>chain id</dt><dd>");
    esc_field(b, chain, "chainId");
    phx_buf_append_str(b, "</dd>");
    const char *name;
    json_object_foreach(json_object_get(chain, "contracts"), name, v)
    {
        phx_buf_append_str(b, "<dt>");
        esc(b, name);
        phx_buf_append_str(b, "</dt><dd class=\"hex\">");
        esc(b, json_string_value(v));
        phx_buf_append_str(b, "</dd>");
    }
    phx_buf_append_str(b, "</dl><h2>Contracts</h2><table id=\"contracts\"><thead><tr><th>id</th>"
                          "<th>code hash</th><th>deployed</th></tr></thead><tbody>");
    json_array_foreach(json_object_get(n, "contracts"), i, v)
    {
        const char *id = json_string_value(json_object_get(v, "id"));
        phx_buf_append_str(b, "<tr><td class=\"hex\"><a href=\"/contracts/");
        esc(b, id);
        phx_buf_append_str(b, "\">");
        esc(b, id);
        phx_buf_append_str(b, "</a></td><td class=\"hex\">");
        esc_field(b, v, "code_hash");
        phx_buf_append_str(b, "</td><td>");
        time_cell(b, json_object_get(v, "deployed_ms"));
        phx_buf_append_str(b, "</td></tr>");
    }
    phx_buf_append_str(b, "</tbody></table>");
    page_end(b, resp);
    json_decref(n);
    return PHX_OK;
}

/* ---- on-chain requests ------------------------------------------------------------ */

#define JOBS_SHOWN 100 /* newest requests on a page */

/* The Jobs contract's requests, newest first, at most JOBS_SHOWN, of contract
 * only when not NULL: phx_chain_requests_json's rows, from the gateway's one
 * reader of the chain's events (brought up to the head on every call, so the
 * page shows what the chain says). */
static phx_err_t chain_jobs(phx_gateway_t *g, const uint8_t *contract, json_t **out, phx_error_t *e)
{
    phx_chain_requests_t *r = NULL;
    *out = NULL;
    phx_err_t err = gw_requests(g, &r, e);
    if (err) return err;
    *out = phx_chain_requests_json(r, contract, JOBS_SHOWN);
    return *out ? PHX_OK : phx_fail(e, PHX_ERR_NOMEM, "requests");
}

/* A block timestamp (unix seconds) as UTC time of day. */
static void block_time_cell(phx_buf_t *b, const json_t *s)
{
    char t[32];
    time_t v = (time_t)json_integer_value(s);
    struct tm tm;
    if (!json_is_integer(s) || !gmtime_r(&v, &tm)) {
        phx_buf_append_str(b, "\xe2\x80\x94");
        return;
    }
    strftime(t, sizeof t, "%H:%M:%S", &tm);
    esc(b, t);
}

/* The requests table (Jobs page and a contract's page). */
static void jobs_table(phx_buf_t *b, const json_t *rows, bool with_contract)
{
    size_t i;
    json_t *r;
    phx_buf_append_str(b, "<table id=\"requests\"><thead><tr><th>request</th>");
    if (with_contract) phx_buf_append_str(b, "<th>contract</th>");
    phx_buf_append_str(b, "<th>status</th><th>requester</th><th>fee</th><th>k</th>"
                          "<th>requested at block</th><th>settled at block</th>"
                          "<th>latency (blocks)</th><th>latency (s)</th>"
                          "<th>requested (UTC)</th><th>signing operators</th></tr></thead><tbody>");
    json_array_foreach((json_t *)rows, i, r)
    {
        const char *st = json_string_value(json_object_get(r, "status"));
        phx_buf_append_str(b, "<tr><td>");
        esc_field(b, r, "id");
        phx_buf_append_str(b, "</td>");
        if (with_contract) {
            phx_buf_append_str(b, "<td class=\"hex\"><a href=\"/contracts/");
            esc_field(b, r, "contract_id");
            phx_buf_append_str(b, "\">");
            esc_field(b, r, "contract_id");
            phx_buf_append_str(b, "</a></td>");
        }
        phx_buf_printf(b, "<td class=\"status-%s\">",
                       st && !strcmp(st, "fulfilled") ? "ok"
                       : st && !strcmp(st, "pending") ? "pending"
                                                      : "bad");
        esc(b, st);
        phx_buf_append_str(b, "</td><td class=\"hex\">");
        esc_field(b, r, "requester");
        phx_buf_append_str(b, "</td><td>");
        const char *fee = json_string_value(json_object_get(r, "fee"));
        if (fee)
            pha_cell(b, fee);
        else
            esc_field(b, r, "fee");
        static const char *const cols[] = {"k", "block", "done_block", "latency_blocks",
                                           "latency_s"};
        for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
            phx_buf_append_str(b, "</td><td>");
            esc_field(b, r, cols[k]);
        }
        phx_buf_append_str(b, "</td><td>");
        block_time_cell(b, json_object_get(r, "time"));
        phx_buf_append_str(b, "</td><td class=\"hex\">");
        size_t oi;
        json_t *op;
        json_array_foreach(json_object_get(r, "operators"), oi, op)
        {
            if (oi) phx_buf_append_str(b, " ");
            esc(b, json_string_value(op));
        }
        phx_buf_append_str(b, "</td></tr>");
    }
    phx_buf_append_str(b, "</tbody></table>");
    if (!json_array_size(rows))
        phx_buf_append_str(b, "<p id=\"no-requests\">No on-chain requests yet.</p>");
}

/* GET /contracts/:id: owner, code hash, the code itself (untrusted text). */
static phx_err_t h_page_contract(void *ctx, const phx_http_request_t *req,
                                 phx_http_response_t *resp, phx_error_t *e)
{
    phx_gateway_t *g = ctx;
    const char *id = phx_http_param(req, "id");
    json_t *c = gw_contract_info(g, id);
    if (!c) return phx_fail(e, PHX_ERR_NOT_FOUND, "no contract %s", id ? id : "");
    uint8_t hash[32];
    phx_buf_t code = PHX_BUF_INIT;
    phx_error_t ce = {0};
    const char *hs = json_string_value(json_object_get(c, "code_hash"));
    bool have_code =
        hs && !phx_hex_decode_fixed(hs, hash, 32, &ce) && !gw_blob_get(g, hash, &code, &ce);
    phx_buf_t *b = &resp->text;
    page_start(b, "Contract", "");
    phx_buf_append_str(b, "<h1>Contract</h1><dl id=\"contract\"><dt>id</dt><dd class=\"hex\">");
    esc_field(b, c, "id");
    phx_buf_append_str(b, "</dd><dt>owner</dt><dd class=\"hex\" id=\"owner\">");
    esc_field(b, c, "owner");
    phx_buf_append_str(b, "</dd><dt>code hash</dt><dd class=\"hex\">");
    esc_field(b, c, "code_hash");
    phx_buf_append_str(b, "</dd><dt>deployed</dt><dd>");
    time_cell(b, json_object_get(c, "deployed_ms"));
    phx_buf_append_str(b, "</dd><dt>public keys</dt><dd><a href=\"/v1/contracts/");
    esc_field(b, c, "id");
    phx_buf_append_str(b, "/pubkey\">KMS-signed key document</a> (check it with "
                          "<code>phx deploy</code>'s KMS address, not this page)</dd></dl>"
                          "<h2>Code</h2>");
    if (have_code) {
        phx_buf_append_str(b, "<pre id=\"code\">");
        esc_n(b, (const char *)code.ptr, code.len);
        phx_buf_append_str(b, "</pre>");
    } else {
        bad_para(b, "code", "the code blob cannot be read: ", ce.message);
    }
    /* Logs are the owner's (GET /v1/contracts/:id/logs wants an OwnerRequest
     * signature): the page asks the user's wallet to sign one. */
    phx_buf_append_str(b, "<h2>Logs</h2><p>Only the owner reads them: sign in with the owner's "
                          "wallet (an EIP-712 OwnerRequest <code>logs</code> for this contract, "
                          "valid for 5 minutes). Needs JavaScript and a wallet.</p>"
                          "<button type=\"button\" id=\"owner-signin\" data-contract=\"");
    esc_field(b, c, "id");
    phx_buf_append_str(b, "\">Sign in with wallet</button><p id=\"owner-status\" role=\"status\">"
                          "</p><div id=\"owner-logs\"></div>"
                          "<script src=\"/console/verify.js\"></script>");
    phx_buf_append_str(b, "<h2>On-chain requests</h2>");
    json_t *rows = NULL;
    uint8_t idb[32];
    phx_error_t je = {0};
    if (phx_hex_decode_fixed(id, idb, 32, &je) || chain_jobs(g, idb, &rows, &je)) {
        bad_para(b, "jobs-error", "", je.message);
    } else {
        jobs_table(b, rows, false);
    }
    json_decref(rows);
    page_end(b, resp);
    phx_buf_free(&code);
    json_decref(c);
    return PHX_OK;
}

/* GET /jobs: the Jobs contract's requests, refreshed every 5 s without script. */
static phx_err_t h_page_jobs(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                             phx_error_t *e)
{
    (void)req;
    json_t *rows = NULL;
    phx_error_t je = {0};
    phx_err_t jerr = chain_jobs(ctx, NULL, &rows, &je);
    phx_buf_t *b = &resp->text;
    page_start(b, "Jobs", "jobs");
    phx_buf_printf(b,
                   "<h1>Jobs</h1><p>The newest %d requests of the Jobs contract, from its events "
                   "on the chain node, read up to the head on every load (this page reloads "
                   "itself every 5 s). Latency is counted in blocks and in seconds of block "
                   "time, from the request's block to the one that settled it.</p>",
                   JOBS_SHOWN);
    if (jerr) {
        bad_para(b, "jobs-error", "", je.message);
    } else {
        jobs_table(b, rows, true);
    }
    page_end(b, resp);
    json_decref(rows);
    (void)e;
    return PHX_OK;
}

/* A table of the scalar fields of a JSON object (header, TD/enclave report). */
static void fields_table(phx_buf_t *b, const char *html_id, const json_t *o)
{
    const char *k;
    const json_t *v;
    phx_buf_printf(b, "<table id=\"%s\"><tbody>", html_id);
    json_object_foreach((json_t *)o, k, v)
    {
        phx_buf_append_str(b, "<tr><th>");
        esc(b, k);
        phx_buf_append_str(b, "</th><td class=\"hex\">");
        esc_field(b, o, k);
        phx_buf_append_str(b, "</td></tr>");
    }
    phx_buf_append_str(b, "</tbody></table>");
}

/* The attestation of a worker (by its place in the network view) or the KMS:
 * a fresh quote over a nonce of ours, verified here with src/attest against
 * the sim root when the gateway has one, else Intel's. */
static phx_err_t attestation_page(phx_gateway_t *g, const char *what, const char *base,
                                  phx_http_response_t *resp, phx_error_t *e)
{
    uint8_t nonce[32], rd[64], addr[20], x25519[32];
    char nhex[65], url[600];
    phx_buf_t quote = PHX_BUF_INIT, root = PHX_BUF_INIT;
    json_t *a = NULL, *rj = NULL;
    phx_attest_verifier_t *v = NULL;
    phx_attest_result_t res = {0};
    phx_error_t ve = {0};
    const char *s;
    phx_err_t err = phx_random_bytes(nonce, sizeof nonce);
    if (err) return phx_fail(e, err, "random nonce");
    phx_hex_encode_to(nhex, nonce, 32);
    snprintf(url, sizeof url, "%s/v1/attestation?nonce=0x%s", base, nhex);
    phx_http_client_opts_t co = {.timeout_ms = 10000, .connect_timeout_ms = 2000};
    if ((err = phx_http_json("GET", url, NULL, &co, NULL, &a, e))) goto out;
    if ((err = phx_json_get_str(a, "quote", &s, e)) || (err = phx_hex_decode(s, &quote, e)))
        goto out;
    json_t *coll = json_object_get(a, "collateral");
    char *coll_text = json_is_object(coll) ? phx_json_dump(coll, false) : NULL;
    const char *sim = gw_sim_dir(g);
    char rpath[1200];
    snprintf(rpath, sizeof rpath, "%s/root_ca.der", sim ? sim : "");
    phx_err_t verr = sim ? phx_file_read(rpath, &root, &ve) : PHX_OK;
    if (!verr) verr = phx_attest_verifier_new(sim ? root.ptr : NULL, root.len, &v, &ve);
    if (!verr && !coll_text)
        verr = phx_fail(&ve, PHX_ERR_NOT_FOUND, "no collateral came with the quote");
    if (!verr)
        verr =
            phx_attest_verify(v, quote.ptr, quote.len, (const uint8_t *)coll_text,
                              strlen(coll_text), (int64_t)(phx_now_ms() / 1000), NULL, &res, &ve);
    free(coll_text);
    rj = phx_attest_result_json(&res);
    /* The report data must bind the keys the node names to our nonce. */
    bool bound = false;
    if ((!phx_json_get_hex_fixed(a, "worker", addr, 20, NULL) ||
         !phx_json_get_hex_fixed(a, "kms_address", addr, 20, NULL)) &&
        !phx_json_get_hex_fixed(a, "x25519_pub", x25519, 32, NULL) && res.parsed) {
        phx_chain_report_data(addr, x25519, nonce, rd);
        const uint8_t *got =
            res.report_type == PHX_REPORT_SGX ? res.sgx.report_data : res.td.report_data;
        if (!memcmp(got, rd, 64)) bound = true;
        /* The KMS binds with its own tag (phx-kms-v1): it matches that one. */
        if (!bound && json_object_get(a, "kms_address")) {
            uint8_t kd[64];
            phx_chain_kms_report_data(addr, x25519, nonce, kd);
            bound = !memcmp(got, kd, 64);
        }
    }

    phx_buf_t *b = &resp->text;
    page_start(b, "Attestation", "");
    phx_buf_append_str(b, "<h1>Attestation of ");
    esc(b, what);
    phx_buf_append_str(b, "</h1><p>A fresh quote this gateway asked for with nonce <code>0x");
    esc(b, nhex);
    phx_buf_append_str(b, "</code>, verified by the gateway against the ");
    esc(b, sim ? "devnet's sim root" : "Intel SGX root CA");
    phx_buf_append_str(b, ". To check it without trusting the gateway, use <a href=\"/verify\">"
                          "Verify</a> on a result or <code>phx attest verify</code>.</p>"
                          "<dl id=\"attestation\"><dt>verdict</dt><dd id=\"verdict\" class=\"");
    phx_buf_append_str(b, verr ? "bad\">" : "ok\">");
    if (verr)
        esc(b, ve.message);
    else
        phx_buf_append_str(b, "verified and accepted by the default TCB policy");
    phx_buf_append_str(b, "</dd><dt>TCB status</dt><dd id=\"tcb\">");
    esc_field(b, rj, "status");
    phx_buf_append_str(b, "</dd><dt>advisories</dt><dd id=\"advisories\">");
    size_t i;
    json_t *adv;
    json_array_foreach(json_object_get(rj, "advisory_ids"), i, adv)
    {
        if (i) phx_buf_append_str(b, ", ");
        esc(b, json_string_value(adv));
    }
    if (!json_array_size(json_object_get(rj, "advisory_ids"))) phx_buf_append_str(b, "none");
    phx_buf_append_str(b, "</dd><dt>FMSPC</dt><dd class=\"hex\">");
    esc_field(b, rj, "fmspc");
    phx_buf_append_str(b, "</dd><dt>TEE</dt><dd>");
    esc_field(b, rj, "tee_type");
    phx_buf_append_str(b, "</dd><dt>address</dt><dd class=\"hex\">");
    esc_field(b, a, json_object_get(a, "worker") ? "worker" : "kms_address");
    phx_buf_append_str(b, "</dd><dt>report data binds its keys to the nonce</dt><dd id=\"binding\" "
                          "class=\"");
    phx_buf_append_str(b, bound ? "ok\">yes" : "bad\">no");
    phx_buf_append_str(b, "</dd></dl><h2>Certificate chain</h2><p>As the quote carries it, "
                          "leaf first (the verdict above is on the chain to the trusted root); "
                          "validity windows at the time of this page.</p>");
    json_t *certs = NULL, *c;
    phx_error_t ce = {0};
    if (phx_attest_quote_certs_json(quote.ptr, quote.len, (int64_t)(phx_now_ms() / 1000), &certs,
                                    &ce)) {
        bad_para(b, "cert-chain-error", "", ce.message);
    } else {
        phx_buf_append_str(b, "<table id=\"cert-chain\"><thead><tr><th>certificate</th>"
                              "<th>subject</th><th>issuer</th><th>serial</th><th>not before</th>"
                              "<th>not after</th><th>validity</th></tr></thead><tbody>");
        json_array_foreach(certs, i, c)
        {
            const char *vs = json_string_value(json_object_get(c, "validity"));
            phx_buf_append_str(b, "<tr><th>");
            esc_field(b, c, "role");
            phx_buf_append_str(b, "</th><td>");
            esc_field(b, c, "subject");
            phx_buf_append_str(b, "</td><td>");
            esc_field(b, c, "issuer");
            phx_buf_append_str(b, "</td><td class=\"hex\">");
            esc_field(b, c, "serial");
            static const char *const win[] = {"not_before", "not_after"};
            for (int k = 0; k < 2; k++) {
                json_int_t t = json_integer_value(json_object_get(c, win[k]));
                phx_buf_append_str(b, "</td><td>");
                time_cell_s(b, t);
            }
            phx_buf_printf(b, "</td><td class=\"%s\">", vs && !strcmp(vs, "valid") ? "ok" : "bad");
            esc(b, vs);
            phx_buf_append_str(b, "</td></tr>");
        }
        phx_buf_append_str(b, "</tbody></table>");
    }
    json_decref(certs);
    phx_buf_append_str(b, "<h2>Quote header</h2>");
    fields_table(b, "header", json_object_get(rj, "header"));
    phx_buf_append_str(b, "<h2>Report</h2>");
    fields_table(b, "report", json_object_get(rj, "report"));
    page_end(b, resp);
out:
    phx_attest_verifier_free(v);
    json_decref(a);
    json_decref(rj);
    phx_buf_free(&quote);
    phx_buf_free(&root);
    return err;
}

/* GET /attestation/workers/:n (n: its row on the Network page) */
static phx_err_t h_page_attest_worker(void *ctx, const phx_http_request_t *req,
                                      phx_http_response_t *resp, phx_error_t *e)
{
    const char *n = phx_http_param(req, "n");
    char *end;
    unsigned long i = strtoul(n, &end, 10);
    json_t *net = gw_network_json(ctx);
    if (!net) return phx_fail(e, PHX_ERR_NOMEM, "network");
    json_t *w = *n && !*end ? json_array_get(json_object_get(net, "workers"), i) : NULL;
    const char *url = json_string_value(json_object_get(w, "url"));
    char what[128];
    snprintf(what, sizeof what, "worker %s",
             json_string_value(json_object_get(w, "address"))
                 ? json_string_value(json_object_get(w, "address"))
                 : (url ? url : ""));
    phx_err_t err = url ? attestation_page(ctx, what, url, resp, e)
                        : phx_fail(e, PHX_ERR_NOT_FOUND, "no worker %s", n);
    json_decref(net);
    return err;
}

/* GET /attestation/kms */
static phx_err_t h_page_attest_kms(void *ctx, const phx_http_request_t *req,
                                   phx_http_response_t *resp, phx_error_t *e)
{
    (void)req;
    json_t *net = gw_network_json(ctx);
    if (!net) return phx_fail(e, PHX_ERR_NOMEM, "network");
    const char *url = json_string_value(json_object_get(net, "kms"));
    phx_err_t err = url ? attestation_page(ctx, "the KMS", url, resp, e)
                        : phx_fail(e, PHX_ERR_NOT_FOUND, "this gateway has no KMS configured");
    json_decref(net);
    return err;
}

/* GET /verify: the form; verify.js does the checks in the browser. */
static phx_err_t h_page_verify(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                               phx_error_t *e)
{
    (void)req;
    json_t *n = gw_network_json(ctx);
    if (!n) return phx_fail(e, PHX_ERR_NOMEM, "network");
    bool sim = gw_sim_dir(ctx) != NULL;
    phx_buf_t *b = &resp->text;
    page_start(b, "Verify", "verify");
    phx_buf_append_str(
        b, "<h1>Verify a result</h1>"
           "<noscript><p class=\"bad\">The checks run in your browser and need JavaScript; "
           "without it use <code>phx verify RESULT.json</code>.</p></noscript>"
           "<p>Paste or drop a result envelope (what <code>phx call --json</code> prints). "
           "Every check below runs here, against the chain node you name: nothing is taken "
           "from this gateway but the page itself.</p>"
           "<form id=\"verify-form\"><label for=\"request\">an on-chain request id (the "
           "envelope is rebuilt from the chain: its Fulfilled event and fulfill "
           "transaction)</label><input id=\"request\" size=\"20\" inputmode=\"numeric\"> "
           "<button type=\"button\" id=\"load-request\">Load and verify</button>"
           "<label for=\"result\">or the result JSON</label>"
           "<textarea id=\"result\" rows=\"10\" spellcheck=\"false\"></textarea>"
           "<label for=\"file\">or a file</label><input type=\"file\" id=\"file\" "
           "accept=\".json,application/json\">"
           "<label for=\"rpc\">chain RPC</label><input id=\"rpc\" size=\"50\" value=\"");
    esc_field(b, n, "rpc");
    phx_buf_append_str(b, "\"><label for=\"jobs\">Jobs contract (for a request id)</label>"
                          "<input id=\"jobs\" size=\"50\" value=\"");
    esc_field(b, json_object_get(json_object_get(n, "chain"), "contracts"), "Jobs");
    phx_buf_append_str(b, "\"><fieldset><legend>trusted root</legend>"
                          "<label><input type=\"radio\" name=\"root\" value=\"intel\"");
    phx_buf_append_str(b, sim ? ">" : " checked>");
    phx_buf_append_str(b, " Intel SGX root CA (pinned in the verifier)</label>");
    if (sim)
        phx_buf_append_str(b, "<label><input type=\"radio\" name=\"root\" value=\"sim\" checked> "
                              "this devnet's sim TEE root (development only)</label>");
    phx_buf_append_str(
        b, "</fieldset><label for=\"collateral\">collateral JSON for an Intel quote "
           "(dcap-qvl QuoteCollateralV3; fetched from the sim platform when the sim root is "
           "chosen)</label><textarea id=\"collateral\" rows=\"3\" spellcheck=\"false\">"
           "</textarea><button type=\"submit\" id=\"run\">Verify</button></form>"
           "<p id=\"verdict\" role=\"status\"></p>"
           "<table id=\"checks\"><thead><tr><th>link</th><th>result</th><th>reason</th></tr>"
           "</thead><tbody></tbody></table><h2>Output</h2><pre id=\"output\"></pre>"
           "<h2>Logs (as the caller received them; not signed)</h2><pre id=\"logs\"></pre>"
           "<script src=\"/console/verify.js\"></script>");
    page_end(b, resp);
    json_decref(n);
    return PHX_OK;
}

/* ---- assets ------------------------------------------------------------------------ */

static phx_err_t h_style(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                         phx_error_t *e)
{
    (void)ctx, (void)req;
    resp->content_type = "text/css; charset=utf-8";
    return phx_buf_append(&resp->text, phx_console_style_css, phx_console_style_css_len)
               ? phx_fail(e, PHX_ERR_NOMEM, "style")
               : PHX_OK;
}

static phx_err_t h_script(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                          phx_error_t *e)
{
    (void)ctx, (void)req;
    resp->content_type = "text/javascript; charset=utf-8";
    resp->headers = page_headers;
    return phx_buf_append(&resp->text, phx_console_verify_js, phx_console_verify_js_len)
               ? phx_fail(e, PHX_ERR_NOMEM, "script")
               : PHX_OK;
}

/* The sim platform's root and collateral, for a devnet: public material (the
 * root certificate, PCS-format collateral signed under it). The page uses them
 * only when the user picks "sim root". */
static phx_err_t sim_file(phx_gateway_t *g, const char *name, phx_http_response_t *resp,
                          const char *type, phx_error_t *e)
{
    const char *dir = gw_sim_dir(g);
    if (!dir) return phx_fail(e, PHX_ERR_NOT_FOUND, "this gateway has no sim platform");
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    phx_err_t err = phx_file_read(path, &resp->text, e);
    if (!err) resp->content_type = type;
    return err;
}

static phx_err_t h_sim_root(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                            phx_error_t *e)
{
    (void)req;
    return sim_file(ctx, "root_ca.der", resp, "application/pkix-cert", e);
}

static phx_err_t h_sim_collateral(void *ctx, const phx_http_request_t *req,
                                  phx_http_response_t *resp, phx_error_t *e)
{
    (void)req;
    return sim_file(ctx, "collateral.json", resp, "application/json", e);
}

/* Browsers ask for it on every page; an empty answer keeps their consoles
 * (and the browser test's error check) quiet. */
static phx_err_t h_favicon(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                           phx_error_t *e)
{
    (void)ctx, (void)req, (void)e;
    resp->status = 204;
    resp->content_type = "image/x-icon";
    return PHX_OK;
}

phx_err_t gw_console_routes(phx_http_router_t *r, phx_gateway_t *g, phx_error_t *e)
{
    static const struct {
        const char *pattern;
        phx_http_handler_fn fn;
    } routes[] = {
        {"/", h_page_network},
        {"/contracts/:id", h_page_contract},
        {"/verify", h_page_verify},
        {"/jobs", h_page_jobs},
        {"/attestation/workers/:n", h_page_attest_worker},
        {"/attestation/kms", h_page_attest_kms},
        {"/console/style.css", h_style},
        {"/console/verify.js", h_script},
        {"/console/sim/root", h_sim_root},
        {"/console/sim/collateral", h_sim_collateral},
        {"/favicon.ico", h_favicon},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        phx_err_t err = phx_http_router_add(r, "GET", routes[i].pattern, routes[i].fn, g, 0, e);
        if (err) return err;
    }
    return PHX_OK;
}
