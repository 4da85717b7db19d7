/* HPKE, RFC 9180: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM or
 * ChaCha20-Poly1305, modes base and auth; context and single-shot APIs and the
 * secret exporter. Section numbers below are RFC 9180's. PSK modes are not
 * offered: nothing in Phalanx shares pre-shared keys. */
#include <string.h>

#include "phx/crypto.h"

#define NSECRET 32 /* Nsecret, Nh, Npk, Nsk, Nenc for X25519/HKDF-SHA256 */
#define NN 12      /* Nn for both AEADs */

/* suite_id is "KEM" || I2OSP(kem_id, 2) inside the KEM (§4.1) and
 * "HPKE" || kem_id || kdf_id || aead_id in the key schedule (§5.1). */
typedef struct {
    uint8_t bytes[10];
    size_t len;
} suite_id_t;

static suite_id_t kem_suite(void)
{
    suite_id_t s = {{'K', 'E', 'M', 0x00, 0x20}, 5};
    return s;
}

static suite_id_t hpke_suite(uint16_t aead_id)
{
    suite_id_t s = {
        {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, (uint8_t)(aead_id >> 8), (uint8_t)aead_id},
        10};
    return s;
}

/* Concatenate up to four parts into a secret buffer. */
static phx_err_t concat(phx_buf_t *b, const void *p1, size_t n1, const void *p2, size_t n2,
                        const void *p3, size_t n3, const void *p4, size_t n4)
{
    phx_err_t err = PHX_OK;
    b->secret = true;
    phx_buf_reset(b);
    if (n1 && (err = phx_buf_append(b, p1, n1))) return err;
    if (n2 && (err = phx_buf_append(b, p2, n2))) return err;
    if (n3 && (err = phx_buf_append(b, p3, n3))) return err;
    if (n4 && (err = phx_buf_append(b, p4, n4))) return err;
    return err;
}

/* §4: LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm) */
static phx_err_t labeled_extract(const suite_id_t *sid, const void *salt, size_t salt_len,
                                 const char *label, const void *ikm, size_t ikm_len,
                                 uint8_t prk[32])
{
    phx_buf_t m = PHX_BUF_INIT;
    phx_err_t err =
        concat(&m, "HPKE-v1", 7, sid->bytes, sid->len, label, strlen(label), ikm, ikm_len);
    if (!err) err = phx_hkdf_sha256_extract(salt, salt_len, m.ptr, m.len, prk);
    phx_buf_free(&m);
    return err;
}

/* §4: LabeledExpand(prk, label, info, L) =
 *     Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label || info, L) */
static phx_err_t labeled_expand(const suite_id_t *sid, const uint8_t prk[32], const char *label,
                                const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len > 0xffff) return PHX_ERR_RANGE;
    uint8_t head[2 + 7 + 10];
    head[0] = (uint8_t)(out_len >> 8);
    head[1] = (uint8_t)out_len;
    memcpy(head + 2, "HPKE-v1", 7);
    memcpy(head + 9, sid->bytes, sid->len);
    phx_buf_t m = PHX_BUF_INIT;
    phx_err_t err = concat(&m, head, 9 + sid->len, label, strlen(label), info, info_len, NULL, 0);
    if (!err) err = phx_hkdf_sha256_expand(prk, 32, m.ptr, m.len, out, out_len);
    phx_buf_free(&m);
    return err;
}

phx_err_t phx_hpke_derive_keypair(const void *ikm, size_t ikm_len, uint8_t sk[32], uint8_t pk[32])
{
    /* §7.1.3: for X25519 the expanded bytes are the private key as they are. */
    suite_id_t sid = kem_suite();
    uint8_t prk[32];
    phx_err_t err = labeled_extract(&sid, NULL, 0, "dkp_prk", ikm, ikm_len, prk);
    if (!err) err = labeled_expand(&sid, prk, "sk", NULL, 0, sk, 32);
    if (!err) err = phx_x25519_public(sk, pk);
    phx_secure_zero(prk, sizeof prk);
    return err;
}

/* §4.1 ExtractAndExpand(dh, kem_context) */
static phx_err_t extract_and_expand(const uint8_t *dh, size_t dh_len, const uint8_t *kem_context,
                                    size_t kem_context_len, uint8_t shared_secret[32])
{
    suite_id_t sid = kem_suite();
    uint8_t prk[32];
    phx_err_t err = labeled_extract(&sid, NULL, 0, "eae_prk", dh, dh_len, prk);
    if (!err)
        err = labeled_expand(&sid, prk, "shared_secret", kem_context, kem_context_len,
                             shared_secret, NSECRET);
    phx_secure_zero(prk, sizeof prk);
    return err;
}

/* §5.1 KeySchedule with default (empty) psk and psk_id. */
static phx_err_t key_schedule(phx_hpke_ctx_t *ctx, uint8_t mode, uint16_t aead_id,
                              const uint8_t shared_secret[32], const void *info, size_t info_len)
{
    suite_id_t sid = hpke_suite(aead_id);
    uint8_t ksc[1 + 32 + 32], secret[32];
    phx_err_t err;
    ksc[0] = mode;
    if ((err = labeled_extract(&sid, NULL, 0, "psk_id_hash", NULL, 0, ksc + 1))) goto out;
    if ((err = labeled_extract(&sid, NULL, 0, "info_hash", info, info_len, ksc + 33))) goto out;
    if ((err = labeled_extract(&sid, shared_secret, NSECRET, "secret", NULL, 0, secret))) goto out;
    memset(ctx, 0, sizeof *ctx);
    ctx->aead_id = aead_id;
    ctx->mode = mode;
    ctx->key_len = aead_id == PHX_HPKE_AEAD_AES128GCM ? 16 : 32;
    if ((err = labeled_expand(&sid, secret, "key", ksc, sizeof ksc, ctx->key, ctx->key_len)))
        goto out;
    if ((err = labeled_expand(&sid, secret, "base_nonce", ksc, sizeof ksc, ctx->base_nonce, NN)))
        goto out;
    err = labeled_expand(&sid, secret, "exp", ksc, sizeof ksc, ctx->exporter_secret, NSECRET);
out:
    phx_secure_zero(secret, sizeof secret);
    if (err) phx_hpke_ctx_clear(ctx);
    return err;
}

static phx_err_t check_params(uint8_t mode, uint16_t aead_id)
{
    if (mode != PHX_HPKE_MODE_BASE && mode != PHX_HPKE_MODE_AUTH) return PHX_ERR_UNSUPPORTED;
    if (aead_id != PHX_HPKE_AEAD_AES128GCM && aead_id != PHX_HPKE_AEAD_CHACHA20POLY1305)
        return PHX_ERR_UNSUPPORTED;
    return PHX_OK;
}

phx_err_t phx_hpke_setup_sender(phx_hpke_ctx_t *ctx, uint8_t mode, uint16_t aead_id,
                                const uint8_t pkR[32], const void *info, size_t info_len,
                                const uint8_t *skE, const uint8_t *skS, uint8_t enc[32])
{
    phx_err_t err = check_params(mode, aead_id);
    if (err) return err;
    if (!ctx || !pkR || !enc || (!info && info_len)) return PHX_ERR_INVALID;
    if (mode == PHX_HPKE_MODE_AUTH && !skS) return PHX_ERR_INVALID;
    uint8_t ske[32], dh[64], kem_context[96], shared[32];
    size_t dh_len = 32, kc_len = 64;
    /* §4.1 Encap / AuthEncap */
    if (skE) {
        memcpy(ske, skE, 32);
        err = phx_x25519_public(ske, enc);
    } else {
        err = phx_x25519_keygen(ske, enc);
    }
    if (err) goto out;
    if ((err = phx_x25519(ske, pkR, dh))) goto out;
    memcpy(kem_context, enc, 32);
    memcpy(kem_context + 32, pkR, 32);
    if (mode == PHX_HPKE_MODE_AUTH) {
        if ((err = phx_x25519(skS, pkR, dh + 32))) goto out;
        if ((err = phx_x25519_public(skS, kem_context + 64))) goto out;
        dh_len = 64;
        kc_len = 96;
    }
    if ((err = extract_and_expand(dh, dh_len, kem_context, kc_len, shared))) goto out;
    err = key_schedule(ctx, mode, aead_id, shared, info, info_len);
out:
    phx_secure_zero(ske, sizeof ske);
    phx_secure_zero(dh, sizeof dh);
    phx_secure_zero(shared, sizeof shared);
    return err;
}

phx_err_t phx_hpke_setup_receiver(phx_hpke_ctx_t *ctx, uint8_t mode, uint16_t aead_id,
                                  const uint8_t enc[32], const uint8_t skR[32], const uint8_t *pkS,
                                  const void *info, size_t info_len)
{
    phx_err_t err = check_params(mode, aead_id);
    if (err) return err;
    if (!ctx || !enc || !skR || (!info && info_len)) return PHX_ERR_INVALID;
    if (mode == PHX_HPKE_MODE_AUTH && !pkS) return PHX_ERR_INVALID;
    uint8_t dh[64], kem_context[96], shared[32];
    size_t dh_len = 32, kc_len = 64;
    /* §4.1 Decap / AuthDecap */
    if ((err = phx_x25519(skR, enc, dh))) goto out;
    memcpy(kem_context, enc, 32);
    if ((err = phx_x25519_public(skR, kem_context + 32))) goto out;
    if (mode == PHX_HPKE_MODE_AUTH) {
        if ((err = phx_x25519(skR, pkS, dh + 32))) goto out;
        memcpy(kem_context + 64, pkS, 32);
        dh_len = 64;
        kc_len = 96;
    }
    if ((err = extract_and_expand(dh, dh_len, kem_context, kc_len, shared))) goto out;
    err = key_schedule(ctx, mode, aead_id, shared, info, info_len);
out:
    phx_secure_zero(dh, sizeof dh);
    phx_secure_zero(shared, sizeof shared);
    return err;
}

/* §5.2 ComputeNonce: base_nonce XOR I2OSP(seq, Nn). */
static void compute_nonce(const phx_hpke_ctx_t *ctx, uint8_t nonce[NN])
{
    memcpy(nonce, ctx->base_nonce, NN);
    for (int i = 0; i < 8; i++)
        nonce[NN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static phx_aead_t aead_of(const phx_hpke_ctx_t *ctx)
{
    return ctx->aead_id == PHX_HPKE_AEAD_AES128GCM ? PHX_AEAD_AES128_GCM
                                                   : PHX_AEAD_CHACHA20_POLY1305;
}

phx_err_t phx_hpke_ctx_seal(phx_hpke_ctx_t *ctx, const void *aad, size_t aad_len, const void *pt,
                            size_t pt_len, uint8_t *ct)
{
    if (!ctx || !ctx->key_len) return PHX_ERR_STATE;
    /* §5.2: the sequence number must not wrap; uint64 is far below 2^96 - 1. */
    if (ctx->seq == UINT64_MAX) return PHX_ERR_LIMIT;
    uint8_t nonce[NN];
    compute_nonce(ctx, nonce);
    phx_err_t err = phx_aead_seal(aead_of(ctx), ctx->key, nonce, NN, aad, aad_len, pt, pt_len, ct);
    if (!err) ctx->seq++;
    return err;
}

phx_err_t phx_hpke_ctx_open(phx_hpke_ctx_t *ctx, const void *aad, size_t aad_len, const uint8_t *ct,
                            size_t ct_len, uint8_t *pt)
{
    if (!ctx || !ctx->key_len) return PHX_ERR_STATE;
    if (ctx->seq == UINT64_MAX) return PHX_ERR_LIMIT;
    uint8_t nonce[NN];
    compute_nonce(ctx, nonce);
    /* A failed open leaves seq alone, so the sender's next message still opens. */
    phx_err_t err = phx_aead_open(aead_of(ctx), ctx->key, nonce, NN, aad, aad_len, ct, ct_len, pt);
    if (!err) ctx->seq++;
    return err;
}

phx_err_t phx_hpke_ctx_export(const phx_hpke_ctx_t *ctx, const void *exporter_context,
                              size_t exporter_context_len, uint8_t *out, size_t out_len)
{
    if (!ctx || !ctx->key_len) return PHX_ERR_STATE;
    if (out_len > 255 * 32) return PHX_ERR_RANGE;
    if (!exporter_context && exporter_context_len) return PHX_ERR_INVALID;
    /* §5.3: LabeledExpand(exporter_secret, "sec", exporter_context, L) */
    suite_id_t sid = hpke_suite(ctx->aead_id);
    return labeled_expand(&sid, ctx->exporter_secret, "sec", exporter_context, exporter_context_len,
                          out, out_len);
}

void phx_hpke_ctx_clear(phx_hpke_ctx_t *ctx)
{
    if (ctx) phx_secure_zero(ctx, sizeof *ctx);
}

phx_err_t phx_hpke_seal(const uint8_t pkR[32], const void *info, size_t info_len, const void *aad,
                        size_t aad_len, const void *pt, size_t pt_len, uint8_t enc[32], uint8_t *ct)
{
    phx_hpke_ctx_t ctx;
    phx_err_t err = phx_hpke_setup_sender(&ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305,
                                          pkR, info, info_len, NULL, NULL, enc);
    if (!err) err = phx_hpke_ctx_seal(&ctx, aad, aad_len, pt, pt_len, ct);
    phx_hpke_ctx_clear(&ctx);
    return err;
}

phx_err_t phx_hpke_open(const uint8_t skR[32], const uint8_t enc[32], const void *info,
                        size_t info_len, const void *aad, size_t aad_len, const uint8_t *ct,
                        size_t ct_len, uint8_t *pt)
{
    phx_hpke_ctx_t ctx;
    phx_err_t err = phx_hpke_setup_receiver(
        &ctx, PHX_HPKE_MODE_BASE, PHX_HPKE_AEAD_CHACHA20POLY1305, enc, skR, NULL, info, info_len);
    if (!err) err = phx_hpke_ctx_open(&ctx, aad, aad_len, ct, ct_len, pt);
    phx_hpke_ctx_clear(&ctx);
    return err;
}
