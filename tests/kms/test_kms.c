/* Tests for src/kms without a TEE: derivation (checked against OpenSSL's own
 * HKDF, replicas agree, paths never collide), sealing of the root, signed
 * contract public keys and HPKE to them, and the nonce rules. The attested
 * key release with the sim TEE is in test_kms_attest.c. */
#define _GNU_SOURCE /* memmem */
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms.h"
#include "support/cast.h"
#include "test.h"

/* An independent HKDF-SHA256 (OpenSSL EVP_KDF) to check ours against. */
static void openssl_hkdf(const uint8_t *ikm, size_t ikm_len, const char *salt, const char *info,
                         uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, strlen(salt)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    CHECK(EVP_KDF_derive(ctx, out, out_len, params) == 1);
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
}

static phx_err_t no_quotes(void *ctx, const uint8_t *quote, size_t quote_len,
                           const uint8_t *collateral, size_t collateral_len, int64_t now,
                           phx_kms_quote_info_t *info, phx_error_t *e)
{
    (void)ctx, (void)quote, (void)quote_len, (void)collateral, (void)collateral_len, (void)now,
        (void)info;
    return phx_fail(e, PHX_ERR_VERIFY, "no TEE in this test");
}

static phx_err_t no_peers(void *ctx, phx_kms_role_t role, const phx_kms_peer_t *peer,
                          phx_error_t *e)
{
    (void)ctx, (void)role, (void)peer;
    return phx_fail(e, PHX_ERR_POLICY, "no chain in this test");
}

static phx_kms_t *make_kms(const uint8_t root[32])
{
    phx_kms_config_t cfg = {.verify_quote = no_quotes, .check_peer = no_peers};
    memcpy(cfg.root, root, 32);
    phx_kms_t *k = NULL;
    phx_error_t e = {0};
    CHECK(phx_kms_new(&cfg, &k, &e) == PHX_OK);
    return k;
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void test_derive(void)
{
    phx_error_t e = {0};
    uint8_t root[32], other_root[32], a[32], b[32];
    for (int i = 0; i < 32; i++)
        root[i] = (uint8_t)(i * 7 + 1), other_root[i] = (uint8_t)(255 - i);

    /* Our derivation is plain RFC 5869 HKDF-SHA256 with the documented salt and
     * the path as info, as any other implementation would compute it. */
    const char *paths[] = {"contracts", "kms/secp256k1", "contract/0x01/kv", "x"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(phx_kms_derive(root, paths[i], a, 32, &e) == PHX_OK);
        openssl_hkdf(root, 32, "phx-kms-v1", paths[i], b, 32);
        CHECK_MSG(memcmp(a, b, 32) == 0, "path %s", paths[i]);
    }
    uint8_t longer[100], longer_ref[100];
    CHECK(phx_kms_derive(root, "long", longer, sizeof longer, &e) == PHX_OK);
    openssl_hkdf(root, 32, "phx-kms-v1", "long", longer_ref, sizeof longer_ref);
    CHECK(memcmp(longer, longer_ref, sizeof longer) == 0);
    CHECK(phx_kms_derive(root, "", a, 32, &e) == PHX_ERR_INVALID);
    CHECK(phx_kms_derive(root, "x", a, 0, &e) == PHX_ERR_RANGE);

    /* Contract keys: the labelled paths, each checked against HKDF directly. */
    uint8_t croot[32], id[32];
    CHECK(phx_kms_contract_root(root, croot, &e) == PHX_OK);
    openssl_hkdf(root, 32, "phx-kms-v1", "contracts", b, 32);
    CHECK(memcmp(croot, b, 32) == 0);
    for (int i = 0; i < 32; i++)
        id[i] = (uint8_t)(0xa0 + i);
    char path[128];
    CHECK(phx_kms_contract_path(id, "kv", path, sizeof path, &e) == PHX_OK);
    CHECK(
        strcmp(path,
               "contract/0xa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf/kv") ==
        0);
    phx_contract_keys_t k1, k2;
    CHECK(phx_kms_contract_keys(croot, id, &k1, &e) == PHX_OK);
    openssl_hkdf(croot, 32, "phx-kms-v1", path, b, 32);
    CHECK(memcmp(k1.kv_key, b, 32) == 0);
    CHECK(phx_kms_contract_path(id, "secp256k1", path, sizeof path, &e) == PHX_OK);
    openssl_hkdf(croot, 32, "phx-kms-v1", path, b, 32);
    CHECK(memcmp(k1.secp256k1_sk, b, 32) == 0);
    uint8_t addr[20];
    CHECK(phx_eth_address_from_seckey(k1.secp256k1_sk, addr) == PHX_OK);
    CHECK(memcmp(addr, k1.address, 20) == 0);
    CHECK(phx_kms_contract_path(id, "x25519", path, sizeof path, &e) == PHX_OK);
    uint8_t ikm[32], xsk[32], xpk[32], xpk2[32];
    openssl_hkdf(croot, 32, "phx-kms-v1", path, ikm, 32);
    CHECK(phx_hpke_derive_keypair(ikm, 32, xsk, xpk) == PHX_OK);
    CHECK(memcmp(xsk, k1.x25519_sk, 32) == 0 && memcmp(xpk, k1.x25519_pub, 32) == 0);
    CHECK(phx_x25519_public(k1.x25519_sk, xpk2) == PHX_OK && memcmp(xpk2, k1.x25519_pub, 32) == 0);

    /* Two replicas with the same root derive identical keys; another root does not. */
    phx_kms_t *r1 = make_kms(root), *r2 = make_kms(root), *r3 = make_kms(other_root);
    uint8_t ka1[20], ka2[20], ka3[20];
    phx_kms_address(r1, ka1);
    phx_kms_address(r2, ka2);
    phx_kms_address(r3, ka3);
    CHECK(memcmp(ka1, ka2, 20) == 0 && memcmp(ka1, ka3, 20) != 0);
    json_t *d1 = NULL, *d2 = NULL, *d3 = NULL;
    CHECK(phx_kms_contract_pubkey(r1, id, &d1, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey(r2, id, &d2, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey(r3, id, &d3, &e) == PHX_OK);
    const char *x1 = json_string_value(json_object_get(d1, "x25519_pub"));
    const char *x2 = json_string_value(json_object_get(d2, "x25519_pub"));
    const char *x3 = json_string_value(json_object_get(d3, "x25519_pub"));
    CHECK(x1 && x2 && x3 && strcmp(x1, x2) == 0 && strcmp(x1, x3) != 0);
    /* ... and equal to what a worker holding only the contract root derives. */
    char *mine = phx_hex_encode(k1.x25519_pub, 32);
    CHECK(mine && x1 && strcmp(mine, x1) == 0);
    free(mine);
    json_decref(d1);
    json_decref(d2);
    json_decref(d3);
    phx_kms_free(r1);
    phx_kms_free(r2);
    phx_kms_free(r3);

    /* No two paths collide: 3 labels x 300 ids plus the top-level keys. */
    enum { IDS = 300 };
    uint8_t(*all)[32] = calloc(IDS * 4 + 3, 32);
    size_t n = 0;
    for (int i = 0; i < IDS; i++) {
        uint8_t cid[32] = {0};
        cid[31] = (uint8_t)i;
        cid[30] = (uint8_t)(i >> 8);
        phx_contract_keys_t k;
        CHECK(phx_kms_contract_keys(croot, cid, &k, &e) == PHX_OK);
        memcpy(all[n++], k.secp256k1_sk, 32);
        memcpy(all[n++], k.x25519_sk, 32);
        memcpy(all[n++], k.kv_key, 32);
        memcpy(all[n++], k.x25519_pub, 32);
        phx_kms_contract_keys_clear(&k);
    }
    uint8_t sk[32];
    CHECK(phx_kms_identity_key(root, sk, addr, &e) == PHX_OK);
    memcpy(all[n++], sk, 32);
    memcpy(all[n++], croot, 32);
    memcpy(all[n++], root, 32);
    qsort(all, n, 32, cmp32);
    size_t dups = 0;
    for (size_t i = 1; i < n; i++)
        dups += memcmp(all[i - 1], all[i], 32) == 0;
    printf("derived %zu keys over %d contract ids: %zu collisions\n", n, IDS, dups);
    CHECK(dups == 0);
    free(all);
    phx_kms_contract_keys_clear(&k1);
    CHECK(phx_kms_contract_keys(croot, id, &k2, &e) == PHX_OK); /* deterministic */
    CHECK(phx_kms_contract_keys(croot, id, &k1, &e) == PHX_OK);
    CHECK(memcmp(&k1, &k2, sizeof k1) == 0);
}

/* Stand-in for a TEE's sealing key: HKDF of a measurement string. Different
 * measurements get different keys, as a real TEE's do. */
static phx_err_t sealing_key(void *ctx, const char *label, uint8_t key[32], phx_error_t *e)
{
    const char *measurement = ctx;
    if (phx_hkdf_sha256("seal", 4, measurement, strlen(measurement), label, strlen(label), key, 32))
        return phx_fail(e, PHX_ERR_CRYPTO, "sealing key");
    return PHX_OK;
}

static void test_seal(void)
{
    phx_error_t e = {0};
    const uint8_t secret[] = "thirty-two bytes of root secret!";
    phx_buf_t blob = PHX_BUF_INIT, clear = PHX_BUF_INIT;
    CHECK(phx_tee_seal(sealing_key, "mr-A", "label", secret, 32, &blob, &e) == PHX_OK);
    CHECK(blob.len == 8 + 24 + 32 + 16);
    CHECK(memmem(blob.ptr, blob.len, secret, 8) == NULL);
    CHECK(phx_tee_unseal(sealing_key, "mr-A", "label", blob.ptr, blob.len, &clear, &e) == PHX_OK);
    CHECK(clear.len == 32 && memcmp(clear.ptr, secret, 32) == 0);
    phx_buf_free(&clear);
    /* Another measurement, another label, or one flipped bit: refused. */
    CHECK(phx_tee_unseal(sealing_key, "mr-B", "label", blob.ptr, blob.len, &clear, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&clear);
    CHECK(phx_tee_unseal(sealing_key, "mr-A", "other", blob.ptr, blob.len, &clear, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&clear);
    for (size_t i = 8; i < blob.len; i += 9) {
        blob.ptr[i] ^= 0x10;
        CHECK(phx_tee_unseal(sealing_key, "mr-A", "label", blob.ptr, blob.len, &clear, &e) ==
              PHX_ERR_VERIFY);
        phx_buf_free(&clear);
        blob.ptr[i] ^= 0x10;
    }
    CHECK(phx_tee_unseal(sealing_key, "mr-A", "label", blob.ptr, 20, &clear, &e) ==
          PHX_ERR_INVALID);
    phx_buf_free(&clear);
    phx_buf_free(&blob);

    /* The root file: created once, sealed, the same root on the next start. */
    char dir[] = "/tmp/phx-kms-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/root.sealed", dir);
    uint8_t root1[32], root2[32], zero[32] = {0};
    bool created = false;
    CHECK(phx_kms_root_load_or_create(path, sealing_key, "mr-A", root1, &created, &e) == PHX_OK);
    CHECK(created && memcmp(root1, zero, 32) != 0);
    phx_buf_t file = PHX_BUF_INIT;
    CHECK(phx_file_read(path, &file, &e) == PHX_OK);
    CHECK(file.len == 80 && memmem(file.ptr, file.len, root1, 8) == NULL);
    phx_buf_free(&file);
    CHECK(phx_kms_root_load_or_create(path, sealing_key, "mr-A", root2, &created, &e) == PHX_OK);
    CHECK(!created && memcmp(root1, root2, 32) == 0);
    /* A different measurement cannot read it, and does not overwrite it. */
    CHECK(phx_kms_root_load_or_create(path, sealing_key, "mr-B", root2, &created, &e) ==
          PHX_ERR_VERIFY);
    CHECK(!created && memcmp(root2, zero, 32) == 0);
    CHECK(phx_kms_root_load_or_create(path, sealing_key, "mr-A", root2, &created, &e) == PHX_OK);
    CHECK(memcmp(root1, root2, 32) == 0);
    unlink(path);
    rmdir(dir);
}

static int64_t fake_now = 1700000000;
static int64_t test_now(void)
{
    return fake_now;
}

static void test_pubkey_and_nonces(void)
{
    phx_error_t e = {0};
    uint8_t root[32], id[32], other_id[32], xpub[32];
    CHECK(phx_random_bytes(root, 32) == PHX_OK);
    memset(id, 0x42, 32);
    memset(other_id, 0x43, 32);
    phx_kms_config_t cfg = {
        .verify_quote = no_quotes, .check_peer = no_peers, .nonce_ttl_s = 60, .now_fn = test_now};
    memcpy(cfg.root, root, 32);
    phx_kms_t *k = NULL;
    CHECK(phx_kms_new(&cfg, &k, &e) == PHX_OK);
    uint8_t kms_addr[20], wrong_addr[20];
    phx_kms_address(k, kms_addr);
    memcpy(wrong_addr, kms_addr, 20);
    wrong_addr[0] ^= 1;

    /* A client checks the document against the KMS address it trusts, then
     * encrypts to the key; a worker with the contract root opens it. */
    json_t *doc = NULL;
    CHECK(phx_kms_contract_pubkey(k, id, &doc, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey_verify(doc, kms_addr, id, xpub, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey_verify(doc, wrong_addr, id, xpub, &e) == PHX_ERR_VERIFY);
    CHECK(phx_kms_contract_pubkey_verify(doc, kms_addr, other_id, xpub, &e) == PHX_ERR_VERIFY);
    /* A gateway swapping in its own key is caught. */
    json_t *forged = json_deep_copy(doc);
    uint8_t evil_sk[32], evil_pk[32];
    CHECK(phx_x25519_keygen(evil_sk, evil_pk) == PHX_OK);
    json_object_set_new(forged, "x25519_pub", phx_json_hex(evil_pk, 32));
    CHECK(phx_kms_contract_pubkey_verify(forged, kms_addr, id, xpub, &e) == PHX_ERR_VERIFY);
    json_decref(forged);
    CHECK(phx_kms_contract_pubkey_verify(doc, kms_addr, id, xpub, &e) == PHX_OK);
    const char msg[] = "api-key=sk-live-123";
    uint8_t enc[32], ct[sizeof msg + 16], pt[sizeof msg];
    CHECK(phx_hpke_seal(xpub, "info", 4, NULL, 0, msg, sizeof msg, enc, ct) == PHX_OK);
    uint8_t croot[32];
    phx_contract_keys_t ck;
    CHECK(phx_kms_contract_root(root, croot, &e) == PHX_OK);
    CHECK(phx_kms_contract_keys(croot, id, &ck, &e) == PHX_OK);
    CHECK(phx_hpke_open(ck.x25519_sk, enc, "info", 4, NULL, 0, ct, sizeof ct, pt) == PHX_OK);
    CHECK(memcmp(pt, msg, sizeof msg) == 0);
    phx_kms_contract_keys_clear(&ck);
    json_decref(doc);

    /* Nonces are stateless: any number can be issued; each is good only for
     * the requester it names, inside its window, from this root. */
    uint8_t n[32], bad[32], alice[20], bob[20];
    int64_t exp;
    memset(alice, 0xa1, 20);
    memset(bob, 0xb0, 20);
    for (int i = 0; i < 10000; i++)
        CHECK(phx_kms_nonce_issue(k, alice, n, &exp, &e) == PHX_OK);
    CHECK(exp == fake_now + 60);
    CHECK(phx_kms_nonce_check(k, alice, n, &e) == PHX_OK);
    CHECK(phx_kms_nonce_check(k, alice, n, &e) == PHX_OK); /* nothing is spent */
    CHECK(phx_kms_nonce_check(k, bob, n, &e) == PHX_ERR_POLICY);
    CHECK(strstr(e.message, "to this requester") != NULL);
    for (int bit = 0; bit < 256; bit += 7) { /* issue time, random part and tag */
        memcpy(bad, n, 32);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CHECK_MSG(phx_kms_nonce_check(k, alice, bad, &e) == PHX_ERR_POLICY, "bit %d", bit);
    }
    phx_kms_t *other = make_kms((const uint8_t[32]){9});
    CHECK(phx_kms_nonce_check(other, alice, n, &e) == PHX_ERR_POLICY);
    phx_kms_free(other);
    fake_now += 59;
    CHECK(phx_kms_nonce_check(k, alice, n, &e) == PHX_OK);
    fake_now += 1;
    CHECK(phx_kms_nonce_check(k, alice, n, &e) == PHX_ERR_POLICY);
    CHECK(strstr(e.message, "expired") != NULL);
    /* A nonce dated ahead of our clock (forged or from a skewed replica). */
    CHECK(phx_kms_nonce_issue(k, alice, n, &exp, &e) == PHX_OK);
    fake_now -= 6;
    CHECK(phx_kms_nonce_check(k, alice, n, &e) == PHX_ERR_POLICY);
    fake_now += 6;
    phx_kms_free(k);
}

/* ---- cross-check against Foundry's ABI encoder ------------------------------------ */

static char *hex(const uint8_t *p, size_t n)
{
    return phx_hex_encode(p, n);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

/* What the KMS signs for Registry.registerWorker equals Registry.attestDigest. */
static void test_registration_digest(void)
{
    if (!test_cast_available()) return;
    char args[2048];
    uint8_t ours[32], theirs[32], tag[32];
    /* Registry.attestDigest, which the KMS signs for registerWorker. */
    uint8_t registry[20], op[20], worker[20], x[32], mr[32], qh[32], nonce[32];
    fill(registry, 20, 1), fill(op, 20, 2), fill(worker, 20, 3), fill(x, 32, 4), fill(mr, 32, 5),
        fill(qh, 32, 6), fill(nonce, 32, 7);
    phx_chain_attest_digest(31337, registry, op, worker, x, mr, 0x81, qh, nonce, ours);
    phx_keccak256("phx-kms-worker-v1", 17, tag);
    char *a[8] = {hex(tag, 32), hex(registry, 20), hex(op, 20), hex(worker, 20),
                  hex(x, 32),   hex(mr, 32),       hex(qh, 32), hex(nonce, 32)};
    snprintf(args, sizeof args, "%s 31337 %s %s %s %s %s 129 %s %s", a[0], a[1], a[2], a[3], a[4],
             a[5], a[6], a[7]);
    CHECK(test_cast_digest(
        "f(bytes32,uint256,address,address,address,bytes32,bytes32,uint32,bytes32,bytes32)", args,
        theirs));
    CHECK(memcmp(ours, theirs, 32) == 0);
    for (int i = 0; i < 8; i++)
        free(a[i]);
    printf("registration digest matches cast abi-encode + keccak\n");
}

/* The same over HTTP: a real server on a random loopback port. */
static void test_http(void)
{
    phx_error_t e = {0};
    uint8_t root[32], id[32], xpub[32], kms_addr[20];
    CHECK(phx_random_bytes(root, 32) == PHX_OK);
    memset(id, 0x99, 32);
    phx_kms_t *k = make_kms(root);
    phx_kms_address(k, kms_addr);
    phx_http_router_t *r = NULL;
    phx_http_server_t *s = NULL;
    CHECK(phx_http_router_new(&r, &e) == PHX_OK);
    CHECK(phx_kms_add_routes(k, r, &e) == PHX_OK);
    CHECK(phx_http_server_start(r, NULL, &s, &e) == PHX_OK);
    if (!s) return;
    char base[64], url[256];
    snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)phx_http_server_port(s));
    json_t *v = NULL;
    int status = 0;

    char *idhex = phx_hex_encode(id, 32);
    snprintf(url, sizeof url, "%s/v1/contracts/%s/pubkey", base, idhex);
    CHECK(phx_http_json("GET", url, NULL, NULL, &status, &v, &e) == PHX_OK && status == 200);
    CHECK(phx_kms_contract_pubkey_verify(v, kms_addr, id, xpub, &e) == PHX_OK);
    json_decref(v);
    v = NULL;
    snprintf(url, sizeof url, "%s/v1/contracts/0x1234/pubkey", base);
    CHECK(phx_http_json("GET", url, NULL, NULL, &status, &v, &e) == PHX_ERR_REMOTE &&
          status == 400);

    /* A nonce names its requester: asked for without one, 400. */
    snprintf(url, sizeof url, "%s/v1/nonces", base);
    CHECK(phx_http_json("POST", url, NULL, NULL, &status, &v, &e) == PHX_ERR_REMOTE &&
          status == 400);
    json_t *who = json_pack("{s:s}", "eth_address", "0x00000000000000000000000000000000000000aa");
    CHECK(phx_http_json("POST", url, who, NULL, &status, &v, &e) == PHX_OK && status == 201);
    json_decref(who);
    const char *nonce = json_string_value(json_object_get(v, "nonce"));
    CHECK(nonce && strlen(nonce) == 66);
    json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:{}}", "nonce", nonce ? nonce : "", "eth_address",
                            "0x00000000000000000000000000000000000000aa", "x25519_pub", idhex,
                            "quote", "0x0102", "collateral");
    json_decref(v);
    v = NULL;
    snprintf(url, sizeof url, "%s/v1/keys", base);
    memset(&e, 0, sizeof e);
    CHECK(phx_http_json("POST", url, req, NULL, &status, &v, &e) == PHX_ERR_REMOTE);
    CHECK_MSG(status == 403 && strstr(e.message, "verify"), "%d %s", status, e.message);
    /* Sent again inside the window it is checked again (and refused again):
     * nothing is stored per nonce. */
    CHECK(phx_http_json("POST", url, req, NULL, &status, &v, &e) == PHX_ERR_REMOTE);
    CHECK_MSG(status == 403 && strstr(e.message, "verify"), "%d %s", status, e.message);
    /* The same nonce presented by another address. */
    json_object_set_new(req, "eth_address",
                        json_string("0x00000000000000000000000000000000000000bb"));
    CHECK(phx_http_json("POST", url, req, NULL, &status, &v, &e) == PHX_ERR_REMOTE);
    CHECK_MSG(status == 403 && strstr(e.message, "to this requester"), "%d %s", status, e.message);
    json_object_set_new(req, "eth_address", json_string("0x12"));
    CHECK(phx_http_json("POST", url, req, NULL, &status, &v, &e) == PHX_ERR_REMOTE &&
          status == 400);
    json_decref(req);
    free(idhex);
    phx_http_server_stop(s, 1000);
    phx_http_router_free(r);
    phx_kms_free(k);
}

/* The voucher ledger (ledger.c) over real HTTP and a real SQLite file: a total
 * is won by the first claim only, and only when it adds at least a call's
 * price to what is owed; a charge raises what is owed, never lowers it; a
 * release undoes only the latest claim; a post without the workers' MAC is
 * 403; a KMS reopened on the file remembers. */
static void test_ledger(void)
{
    phx_error_t e = {0};
    uint8_t root[32], croot[32];
    CHECK(phx_random_bytes(root, 32) == PHX_OK);
    CHECK(phx_kms_contract_root(root, croot, &e) == PHX_OK);
    char tmpl[] = "/tmp/phx-ledger-XXXXXX", path[300];
    CHECK(mkdtemp(tmpl) != NULL);
    snprintf(path, sizeof path, "%s/ledger.sqlite", tmpl);
    phx_kms_config_t cfg = {.verify_quote = no_quotes, .check_peer = no_peers, .ledger_path = path};
    memcpy(cfg.root, root, 32);
    phx_kms_t *k = NULL;
    phx_http_router_t *r = NULL;
    phx_http_server_t *s = NULL;
    char base[64];
    phx_kms_ledger_key_t key = {.chain_id = 31337};
    memset(key.payments, 0x11, 20);
    memset(key.payer, 0x22, 20);
    memset(key.operator_, 0x33, 20);
    json_t *v = NULL;
#define POST(op, a, b)                                                                             \
    do {                                                                                           \
        phx_u256_t a_ = phx_u256_from_u64(a), b_ = phx_u256_from_u64(b);                           \
        json_decref(v);                                                                            \
        v = NULL;                                                                                  \
        CHECK_MSG(phx_kms_ledger_request(base, NULL, croot, op, &key, &a_, &b_, &v, &e) == PHX_OK, \
                  "%s", e.message);                                                                \
    } while (0)
#define FIELD(name) json_string_value(json_object_get(v, name))
    for (int round = 0; round < 2; round++) {
        CHECK(phx_kms_new(&cfg, &k, &e) == PHX_OK);
        CHECK(phx_http_router_new(&r, &e) == PHX_OK && phx_kms_add_routes(k, r, &e) == PHX_OK);
        CHECK(phx_http_server_start(r, NULL, &s, &e) == PHX_OK);
        if (!s) return;
        snprintf(base, sizeof base, "http://127.0.0.1:%u", (unsigned)phx_http_server_port(s));
        if (round == 0) {
            POST(PHX_KMS_LEDGER_CLAIM, 99, 100); /* less than one call */
            CHECK(json_is_false(json_object_get(v, "accepted")));
            POST(PHX_KMS_LEDGER_CLAIM, 100, 100);
            CHECK(json_is_true(json_object_get(v, "accepted")));
            /* The same total at another worker of the operator: refused, with what is owed. */
            POST(PHX_KMS_LEDGER_CLAIM, 100, 100);
            CHECK(json_is_false(json_object_get(v, "accepted")));
            CHECK(FIELD("owed") && !strcmp(FIELD("owed"), "100"));
            POST(PHX_KMS_LEDGER_CLAIM, 150, 100); /* new, but less than one more call */
            CHECK(json_is_false(json_object_get(v, "accepted")));
            POST(PHX_KMS_LEDGER_CHARGE, 100, 130); /* the call's CPU time */
            CHECK(FIELD("owed") && !strcmp(FIELD("owed"), "130"));
            POST(PHX_KMS_LEDGER_CHARGE, 100, 120); /* never down */
            CHECK(FIELD("owed") && !strcmp(FIELD("owed"), "130"));
            POST(PHX_KMS_LEDGER_CLAIM, 229, 100);
            CHECK(json_is_false(json_object_get(v, "accepted")));
            POST(PHX_KMS_LEDGER_CLAIM, 230, 100);
            CHECK(json_is_true(json_object_get(v, "accepted")));
            /* A busy worker gives its claim back; only the latest, once. */
            POST(PHX_KMS_LEDGER_RELEASE, 100, 0);
            CHECK(json_is_false(json_object_get(v, "released")));
            POST(PHX_KMS_LEDGER_RELEASE, 230, 0);
            CHECK(json_is_true(json_object_get(v, "released")));
            POST(PHX_KMS_LEDGER_RELEASE, 230, 0);
            CHECK(json_is_false(json_object_get(v, "released")));
            POST(PHX_KMS_LEDGER_CLAIM, 230, 100); /* the same voucher, now at another worker */
            CHECK(json_is_true(json_object_get(v, "accepted")));
            /* Another payer is another row. */
            key.payer[0] ^= 1;
            POST(PHX_KMS_LEDGER_CLAIM, 100, 100);
            CHECK(json_is_true(json_object_get(v, "accepted")));
            key.payer[0] ^= 1;
            /* Not a worker: the MAC under another root. */
            uint8_t other[32];
            memset(other, 7, 32);
            phx_u256_t big = phx_u256_from_u64(1000000);
            json_decref(v);
            v = NULL;
            memset(&e, 0, sizeof e);
            CHECK(phx_kms_ledger_request(base, NULL, other, PHX_KMS_LEDGER_CHARGE, &key, &big, &big,
                                         &v, &e) == PHX_ERR_REMOTE);
            CHECK_MSG(strstr(e.message, "MAC"), "%s", e.message);
        } else {
            /* Reopened: 230 is still the latest claim. */
            POST(PHX_KMS_LEDGER_CLAIM, 230, 100);
            CHECK(json_is_false(json_object_get(v, "accepted")));
            CHECK(FIELD("cumulative") && !strcmp(FIELD("cumulative"), "230"));
            POST(PHX_KMS_LEDGER_CLAIM, 330, 100);
            CHECK(json_is_true(json_object_get(v, "accepted")));
        }
        phx_http_server_stop(s, 1000);
        phx_http_router_free(r);
        phx_kms_free(k);
        s = NULL, r = NULL, k = NULL;
    }
    json_decref(v);
    v = NULL;
    /* A KMS without a ledger: not found. */
    json_t *body = json_object();
    CHECK(phx_kms_ledger_post(NULL, croot, body, &v, &e) == PHX_ERR_NOT_FOUND && !v);
    json_decref(body);
#undef POST
#undef FIELD
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    static const test_case_t cases[] = {
        TEST_CASE(test_derive),
        TEST_CASE(test_seal),
        TEST_CASE(test_pubkey_and_nonces),
        TEST_CASE(test_http),
        TEST_CASE(test_registration_digest),
        TEST_CASE(test_ledger),
    };
    return test_run("test_kms", cases, TEST_COUNT(cases));
}
