/* Content-addressed blob store for the gateway: code (and deploy requests) kept
 * under DIR/blobs/<keccak256 hex>. The name is the hash, so a blob never
 * changes once written and a reader can tell a damaged file from a good one. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "phx/crypto.h"
#include "phx/gateway.h"

static phx_err_t blob_path(const char *dir, const uint8_t hash[32], char *out, size_t cap,
                           phx_error_t *e)
{
    char hex[65];
    phx_hex_encode_to(hex, hash, 32);
    if (snprintf(out, cap, "%s/blobs/%s", dir, hex) >= (int)cap)
        return phx_fail(e, PHX_ERR_RANGE, "blob directory path too long");
    return PHX_OK;
}

phx_err_t phx_blob_put(const char *dir, const uint8_t *p, size_t len, uint8_t hash[32],
                       phx_error_t *e)
{
    char path[1200];
    phx_keccak256(p, len, hash);
    if (snprintf(path, sizeof path, "%s/blobs", dir) >= (int)sizeof path)
        return phx_fail(e, PHX_ERR_RANGE, "blob directory path too long");
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return phx_fail(e, PHX_ERR_IO, "mkdir %s: %s", path, strerror(errno));
    phx_err_t err = blob_path(dir, hash, path, sizeof path, e);
    if (err) return err;
    /* Same name, same bytes: an existing, intact blob need not be rewritten.
     * A damaged one (checked by hashing) is replaced. */
    phx_buf_t old = PHX_BUF_INIT;
    bool intact = phx_blob_get(dir, hash, &old, NULL) == PHX_OK;
    phx_buf_free(&old);
    if (intact) return PHX_OK;
    return phx_file_write_atomic(path, p, len, 0600, e);
}

phx_err_t phx_blob_get(const char *dir, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e)
{
    char path[1200];
    phx_err_t err = blob_path(dir, hash, path, sizeof path, e);
    if (err) return err;
    struct stat st;
    if (stat(path, &st) != 0) return phx_fail(e, PHX_ERR_NOT_FOUND, "no blob %s", path);
    size_t start = out->len;
    if ((err = phx_file_read(path, out, e))) return err;
    uint8_t got[32];
    phx_keccak256(out->ptr + start, out->len - start, got);
    if (!phx_ct_eq(got, hash, 32)) {
        out->len = start;
        return phx_fail(e, PHX_ERR_VERIFY, "blob %s is damaged (hash differs)", path);
    }
    return PHX_OK;
}
