/* Content-addressed blobs (contract code) for the gateway: the name is the
 * keccak256 of the bytes, the same hash the Jobs contract records as codeHash,
 * so a stored file proves itself on every read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "phx/crypto.h"
#include "phx/gateway.h"

static phx_err_t blob_path(const char *dir, const uint8_t hash[32], char *out, size_t cap,
                           char *sub, size_t subcap, phx_error_t *e)
{
    char hex[65];
    phx_hex_encode_to(hex, hash, 32);
    if (snprintf(sub, subcap, "%s/%.2s", dir, hex) >= (int)subcap ||
        snprintf(out, cap, "%s/%.2s/%s", dir, hex, hex + 2) >= (int)cap)
        return phx_fail(e, PHX_ERR_RANGE, "blob directory path too long");
    return PHX_OK;
}

phx_err_t phx_blob_put(const char *dir, const uint8_t *data, size_t len, uint8_t hash[32],
                       phx_error_t *e)
{
    char path[1024], sub[1024];
    phx_err_t err;
    if (len > PHX_BLOB_MAX_BYTES)
        return phx_fail(e, PHX_ERR_LIMIT, "blob of %zu bytes over %u", len, PHX_BLOB_MAX_BYTES);
    phx_keccak256(data, len, hash);
    if ((err = blob_path(dir, hash, path, sizeof path, sub, sizeof sub, e))) return err;
    if ((err = phx_dir_ensure(sub, 0755, e))) return err; /* and dir above it */
    struct stat st;
    if (stat(path, &st) == 0 && (size_t)st.st_size == len) {
        /* Already there, unless damaged: then this put repairs it. */
        phx_buf_t old = PHX_BUF_INIT;
        bool intact = phx_blob_get(dir, hash, &old, NULL) == PHX_OK;
        phx_buf_free(&old);
        if (intact) return PHX_OK;
    }
    return phx_file_write_atomic(path, data, len, 0644, e);
}

phx_err_t phx_blob_get(const char *dir, const uint8_t hash[32], phx_buf_t *out, phx_error_t *e)
{
    char path[1024], sub[1024];
    uint8_t got[32];
    phx_err_t err;
    struct stat st;
    if ((err = blob_path(dir, hash, path, sizeof path, sub, sizeof sub, e))) return err;
    if (stat(path, &st) != 0) {
        char hex[65];
        phx_hex_encode_to(hex, hash, 32);
        return phx_fail(e, PHX_ERR_NOT_FOUND, "no blob 0x%s", hex);
    }
    if (st.st_size > (off_t)PHX_BLOB_MAX_BYTES)
        return phx_fail(e, PHX_ERR_VERIFY, "stored blob larger than any blob we accept");
    size_t mark = out->len;
    if ((err = phx_file_read(path, out, e))) return err;
    phx_keccak256(out->ptr + mark, out->len - mark, got);
    if (memcmp(got, hash, 32) != 0) {
        out->len = mark;
        if (out->ptr) out->ptr[mark] = '\0';
        return phx_fail(e, PHX_ERR_VERIFY, "stored blob does not match its hash");
    }
    return PHX_OK;
}
