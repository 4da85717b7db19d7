/* The KMS root secret: 32 random bytes born inside the TEE on first start and
 * only ever written sealed (tee.h, phx_tee_seal) to this measurement on this
 * platform (DESIGN.md §5). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "phx/crypto.h"
#include "phx/kms.h"

static const char root_label[] = "phx-kms-root";

phx_err_t phx_kms_root_load_or_create(const char *path, phx_tee_sealing_key_fn key_fn,
                                      void *key_ctx, uint8_t root[32], bool *created,
                                      phx_error_t *e)
{
    phx_buf_t blob = PHX_BUF_INIT, clear = PHX_BUF_INIT;
    phx_err_t err;
    struct stat st;
    *created = false;
    if (stat(path, &st) == 0) {
        if ((err = phx_file_read(path, &blob, e))) goto out;
        if ((err = phx_tee_unseal(key_fn, key_ctx, root_label, blob.ptr, blob.len, &clear, e))) {
            phx_error_wrap(e, err, "%s", path);
            goto out;
        }
        if (clear.len != 32) {
            err = phx_fail(e, PHX_ERR_INVALID, "%s: sealed root has %zu bytes", path, clear.len);
            goto out;
        }
        memcpy(root, clear.ptr, 32);
        goto out;
    }
    if (errno != ENOENT) {
        err = phx_fail(e, PHX_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    /* First start: the root is born here, inside the TEE, and leaves only sealed. */
    if (phx_random_bytes(root, 32)) {
        err = phx_fail(e, PHX_ERR_CRYPTO, "random");
        goto out;
    }
    if ((err = phx_tee_seal(key_fn, key_ctx, root_label, root, 32, &blob, e))) goto out;
    if ((err = phx_file_write_atomic(path, blob.ptr, blob.len, 0600, e))) goto out;
    *created = true;
out:
    if (err) phx_secure_zero(root, 32);
    phx_buf_free(&clear);
    phx_buf_free(&blob);
    return err;
}
