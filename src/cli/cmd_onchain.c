/* The context of the on-chain verbs (cmd_onchain.h). */
#include <stdlib.h>
#include <string.h>

#include "cmd_onchain.h"
#include "phx/crypto.h"
#include "phx/evm.h"

int onchain_open(const char *prefix, const cli_opt_t *opts, bool need_key, onchain_t *c)
{
    memset(c, 0, sizeof *c);
    phx_error_t e = {0};
    char path[1200];
    const json_t *depj = NULL;
    const char *url = opts[OC_RPC].value;
    if (opts[OC_DEPL].value) {
        snprintf(path, sizeof path, "%s", opts[OC_DEPL].value);
        if (phx_json_load_file(path, &c->file, &e))
            return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", path, e.message);
        depj = c->file;
    } else {
        if (cli_endpoints_path(path, sizeof path) || phx_json_load_file(path, &c->file, &e))
            return cli_error(PHX_EXIT_USAGE, prefix,
                             "no --deployment FILE and no devnet (%s); start one with `phx devnet`",
                             path);
        depj = json_object_get(c->file, "deployment");
    }
    if (phx_chain_deployment_from_json(depj, &c->dep, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", path, e.message);
    if (!url) url = json_string_value(json_object_get(c->file, "rpc"));
    if (!url) url = getenv("PHX_RPC");
    if (!url) return cli_error(PHX_EXIT_USAGE, prefix, "no --rpc URL and none in %s", path);
    if (phx_rpc_open(url, NULL, &c->rpc, &e)) return cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    if (!need_key) return 0;

    const char *key_file = opts[OC_KEYFILE].value;
    const char *env = getenv("PHX_KEY");
    if (!key_file && !(env && *env))
        key_file = json_string_value(json_object_get(json_object_get(c->file, "user"), "key_file"));
    uint8_t sk[32];
    phx_buf_t text = PHX_BUF_INIT;
    int rc = 0;
    if (key_file) {
        if (phx_file_read(key_file, &text, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--key-file %s: %s", key_file, e.message);
            goto out;
        }
        while (text.len && (text.ptr[text.len - 1] == '\n' || text.ptr[text.len - 1] == '\r' ||
                            text.ptr[text.len - 1] == ' '))
            text.len--;
        if (phx_buf_append_byte(&text, 0) ||
            phx_hex_decode_fixed((const char *)text.ptr, sk, 32, &e)) {
            rc = cli_error(PHX_EXIT_USAGE, prefix, "--key-file %s: expected 32 bytes of 0x hex",
                           key_file);
            goto out;
        }
    } else if (!env || phx_hex_decode_fixed(env, sk, 32, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       env ? "$PHX_KEY: expected 32 bytes of hex"
                           : "no key: give --key-file FILE or set $PHX_KEY");
        goto out;
    }
    if (phx_signer_open(c->rpc, sk, NULL, &c->signer, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        goto out;
    }
    phx_signer_address(c->signer, c->me);
out:
    phx_secure_zero(sk, sizeof sk);
    if (text.ptr) phx_secure_zero(text.ptr, text.len);
    phx_buf_free(&text);
    return rc;
}

void onchain_close(onchain_t *c)
{
    phx_signer_close(c->signer);
    phx_rpc_close(c->rpc);
    json_decref(c->file);
    memset(c, 0, sizeof *c);
}

int onchain_send(const char *prefix, onchain_t *c, const uint8_t to[20], const char *sig,
                 json_t *args, phx_evm_receipt_t *receipt)
{
    phx_error_t e = {0};
    if (!args) return cli_error(PHX_EXIT_FAIL, prefix, "%s: out of memory", sig);
    phx_evm_receipt_t local;
    memset(&local, 0, sizeof local);
    phx_err_t err = phx_chain_transact(c->signer, to, sig, args, receipt ? receipt : &local, &e);
    if (err) phx_chain_explain_revert(c->rpc, c->me, to, sig, args, &e);
    json_decref(args);
    phx_evm_receipt_clear(&local);
    return err ? cli_error(PHX_EXIT_FAIL, prefix, "%s", e.message) : 0;
}

int onchain_read(const char *prefix, onchain_t *c, const uint8_t to[20], const char *sig,
                 json_t *args, const char *ret, json_t **out)
{
    phx_error_t e = {0};
    if (!args) return cli_error(PHX_EXIT_FAIL, prefix, "%s: out of memory", sig);
    phx_err_t err = phx_chain_read(c->rpc, to, sig, args, ret, out, &e);
    if (err) phx_chain_explain_revert(c->rpc, c->me, to, sig, args, &e);
    json_decref(args);
    return err ? cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", sig, e.message) : 0;
}

int onchain_parse_pha(const char *prefix, const char *what, const char *text, phx_u256_t *out)
{
    const char *dot = strchr(text, '.');
    size_t whole_n = dot ? (size_t)(dot - text) : strlen(text);
    const char *frac = dot ? dot + 1 : "";
    if (!whole_n || whole_n > 40 || strspn(text, "0123456789") != whole_n ||
        strspn(frac, "0123456789") != strlen(frac) || strlen(frac) > 18 || (dot && !*frac))
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: expected PHA such as 12 or 0.5, got '%s'",
                         what, text);
    char dec[80];
    memcpy(dec, text, whole_n);
    size_t n = whole_n, fl = strlen(frac);
    memcpy(dec + n, frac, fl);
    n += fl;
    memset(dec + n, '0', 18 - fl);
    n += 18 - fl;
    dec[n] = '\0';
    phx_error_t e = {0};
    if (phx_u256_from_str(dec, out, &e))
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: too large", what);
    return 0;
}

void onchain_format_pha(const phx_u256_t *wei, char out[100])
{
    char dec[80];
    phx_u256_to_dec(wei, dec);
    size_t n = strlen(dec);
    char padded[100];
    if (n <= 18) {
        memset(padded, '0', 19 - n);
        memcpy(padded + 19 - n, dec, n + 1);
    } else {
        memcpy(padded, dec, n + 1);
    }
    n = strlen(padded);
    size_t w = n - 18;
    snprintf(out, 100, "%.*s.%s", (int)w, padded, padded + w);
    char *end = out + strlen(out) - 1;
    while (*end == '0')
        *end-- = '\0';
    if (*end == '.') *end = '\0';
}

phx_u256_t onchain_u256(const json_t *v)
{
    phx_u256_t r = {{0}};
    const char *s = json_string_value(v);
    if (s) phx_u256_from_str(s, &r, NULL);
    return r;
}

int onchain_parse_percent(const char *prefix, const char *what, const char *text, uint16_t *bps)
{
    const char *dot = strchr(text, '.');
    size_t wn = dot ? (size_t)(dot - text) : strlen(text);
    const char *frac = dot ? dot + 1 : "";
    if (!wn || wn > 3 || strspn(text, "0123456789") != wn || strlen(frac) > 2 ||
        strspn(frac, "0123456789") != strlen(frac) || (dot && !*frac))
        goto bad;
    unsigned long v = strtoul(text, NULL, 10) * 100;
    if (*frac)
        v += (unsigned long)(frac[0] - '0') * 10 + (frac[1] ? (unsigned long)(frac[1] - '0') : 0);
    if (v > 10000) goto bad;
    *bps = (uint16_t)v;
    return 0;
bad:
    return cli_error(PHX_EXIT_USAGE, prefix,
                     "%s: expected a percentage 0 .. 100 (two decimals), got '%s'", what, text);
}
