/* Confidential calls: a client seals an input (or a secret) to a contract key
 * derived the KMS way, the worker opens it and seals the reply with the key
 * both sides export from HPKE. Checked both ways against an independent peer
 * (@hpke/core + Node's ChaCha20-Poly1305, tests/worker/hpke_peer.js), and every
 * misuse is refused: another contract, another purpose, another key, a
 * flipped bit, a reply under another call's key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/crypto.h"
#include "phx/kms.h"
#include "phx/worker.h"
#include "test.h"

static char peer[1024];

static bool have_peer(void)
{
    const char *src = getenv("PHX_SOURCE_DIR");
    const char *nm = getenv("PHX_NODE_MODULES");
    char probe[1100];
    snprintf(peer, sizeof peer, "%s/tests/worker/hpke_peer.js", src ? src : ".");
    snprintf(probe, sizeof probe, "%s/@hpke/core", nm ? nm : "node_modules");
    if (access(peer, R_OK) != 0 || access(probe, R_OK) != 0) {
        printf("SKIP peer interop: %s or %s missing\n", peer, probe);
        return false;
    }
    return true;
}

/* Run the peer with args; parse its one JSON line. NULL when it failed. */
static json_t *run_peer(const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "node '%s' %s 2>/dev/null", peer, args);
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    static char line[1 << 16];
    line[0] = '\0';
    char *got = fgets(line, sizeof line, p);
    int rc = pclose(p);
    if (!got || rc != 0) return NULL;
    json_t *v = NULL;
    return phx_json_parse(line, strlen(line), &v, NULL) == PHX_OK ? v : NULL;
}

static char *hex(const uint8_t *p, size_t n)
{
    return phx_hex_encode(p, n);
}

static void test_local(const phx_contract_keys_t *k, const uint8_t cid[32],
                       const phx_contract_keys_t *other, const uint8_t other_cid[32])
{
    phx_error_t e = {0};
    const char input[] = "{\"prompt\":\"my medical history\"}";
    uint8_t ckey[32], wkey[32];
    json_t *sealed = NULL;
    phx_buf_t pt = PHX_BUF_INIT, reply = PHX_BUF_INIT, back = PHX_BUF_INIT;

    CHECK(phx_confidential_seal(PHX_SEAL_INPUT, k->x25519_pub, cid, input, sizeof input - 1,
                                &sealed, ckey, &e) == PHX_OK);
    const char *cthex = json_string_value(json_object_get(sealed, "ciphertext"));
    CHECK(cthex && strstr(cthex, "6d65646963616c") == NULL); /* "medical" not in clear */
    CHECK(phx_confidential_open(PHX_SEAL_INPUT, k->x25519_sk, cid, sealed, &pt, wkey, &e) ==
          PHX_OK);
    CHECK(pt.secret && pt.len == sizeof input - 1 && memcmp(pt.ptr, input, pt.len) == 0);
    CHECK(memcmp(ckey, wkey, 32) == 0);
    const char out[] = "{\"diagnosis\":\"fine\"}";
    CHECK(phx_confidential_seal_reply(wkey, cid, out, sizeof out - 1, &reply, &e) == PHX_OK);
    CHECK(phx_confidential_open_reply(ckey, cid, reply.ptr, reply.len, &back, &e) == PHX_OK);
    CHECK(back.len == sizeof out - 1 && memcmp(back.ptr, out, back.len) == 0);
    phx_buf_free(&pt);
    phx_buf_free(&back);

    /* Misuse: each refused with PHX_ERR_VERIFY. */
    CHECK(phx_confidential_open(PHX_SEAL_SECRET, k->x25519_sk, cid, sealed, &pt, NULL, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&pt);
    CHECK(phx_confidential_open(PHX_SEAL_INPUT, k->x25519_sk, other_cid, sealed, &pt, NULL, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&pt);
    CHECK(phx_confidential_open(PHX_SEAL_INPUT, other->x25519_sk, cid, sealed, &pt, NULL, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&pt);
    json_t *bad = json_deep_copy(sealed);
    char *flip = strdup(cthex);
    flip[5] = flip[5] == '0' ? '1' : '0';
    json_object_set_new(bad, "ciphertext", json_string(flip));
    CHECK(phx_confidential_open(PHX_SEAL_INPUT, k->x25519_sk, cid, bad, &pt, NULL, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&pt);
    free(flip);
    json_decref(bad);
    /* A reply opens only with this call's key and for this contract. */
    uint8_t other_key[32];
    json_t *sealed2 = NULL;
    CHECK(phx_confidential_seal(PHX_SEAL_INPUT, k->x25519_pub, cid, input, 3, &sealed2, other_key,
                                &e) == PHX_OK);
    CHECK(memcmp(other_key, ckey, 32) != 0);
    CHECK(phx_confidential_open_reply(other_key, cid, reply.ptr, reply.len, &back, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&back);
    CHECK(phx_confidential_open_reply(ckey, other_cid, reply.ptr, reply.len, &back, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&back);
    CHECK(phx_confidential_open_reply(ckey, cid, reply.ptr, 10, &back, &e) == PHX_ERR_TRUNCATED);
    phx_buf_free(&back);
    /* Malformed sealed objects. */
    json_t *junk = json_pack("{s:s,s:s}", "enc", "0x00", "ciphertext", "0x");
    CHECK(phx_confidential_open(PHX_SEAL_INPUT, k->x25519_sk, cid, junk, &pt, NULL, &e) ==
          PHX_ERR_INVALID);
    phx_buf_free(&pt);
    json_decref(junk);
    json_decref(sealed2);
    json_decref(sealed);
    phx_buf_free(&reply);
}

static void test_peer(const phx_contract_keys_t *k, const uint8_t cid[32])
{
    if (!have_peer()) return;
    phx_error_t e = {0};
    char args[8192];
    int rounds = 0;
    const char *msgs[] = {"", "x", "{\"api_key\":\"sk-live-0123456789\"}"};
    char *pub = hex(k->x25519_pub, 32), *sk = hex(k->x25519_sk, 32), *cidh = hex(cid, 32);
    for (int i = 0; i < 3; i++) {
        const char *label = i == 1 ? PHX_SEAL_SECRET : PHX_SEAL_INPUT;
        char *msgh = hex((const uint8_t *)msgs[i], strlen(msgs[i]));

        /* The peer is the client: it seals, we open and reply, it opens the reply. */
        snprintf(args, sizeof args, "seal %s %s %s %s", pub, cidh, label, msgh);
        json_t *s = run_peer(args);
        CHECK_MSG(s != NULL, "peer seal failed");
        phx_buf_t pt = PHX_BUF_INIT, reply = PHX_BUF_INIT;
        uint8_t key[32], peer_key[32];
        CHECK(phx_confidential_open(label, k->x25519_sk, cid, s, &pt, key, &e) == PHX_OK);
        CHECK(pt.len == strlen(msgs[i]) && (pt.len == 0 || memcmp(pt.ptr, msgs[i], pt.len) == 0));
        CHECK(phx_json_get_hex_fixed(s, "reply_key", peer_key, 32, &e) == PHX_OK);
        CHECK(memcmp(key, peer_key, 32) == 0);
        CHECK(phx_confidential_seal_reply(key, cid, "{\"ok\":1}", 8, &reply, &e) == PHX_OK);
        char *keyh = hex(key, 32), *rh = hex(reply.ptr, reply.len);
        snprintf(args, sizeof args, "open-reply %s %s %s", keyh, cidh, rh);
        json_t *o = run_peer(args);
        CHECK(o && strcmp(json_string_value(json_object_get(o, "plaintext")),
                          "0x7b226f6b223a317d") == 0);
        json_decref(o);
        free(rh);
        json_decref(s);
        phx_buf_free(&pt);
        phx_buf_free(&reply);

        /* We are the client: we seal, the peer opens (with the contract's sk)
         * and replies, we open the reply. */
        json_t *mine = NULL;
        uint8_t my_key[32];
        CHECK(phx_confidential_seal(label, k->x25519_pub, cid, msgs[i], strlen(msgs[i]), &mine,
                                    my_key, &e) == PHX_OK);
        snprintf(args, sizeof args, "open %s %s %s %s %s", sk, cidh, label,
                 json_string_value(json_object_get(mine, "enc")),
                 json_string_value(json_object_get(mine, "ciphertext")));
        json_t *po = run_peer(args);
        CHECK_MSG(po != NULL, "peer could not open our seal");
        CHECK(po && strcmp(json_string_value(json_object_get(po, "plaintext")), msgh) == 0);
        CHECK(po && phx_json_get_hex_fixed(po, "reply_key", peer_key, 32, &e) == PHX_OK &&
              memcmp(peer_key, my_key, 32) == 0);
        char *mykeyh = hex(my_key, 32);
        snprintf(args, sizeof args, "seal-reply %s %s 0x6869", mykeyh, cidh);
        json_t *pr = run_peer(args);
        phx_buf_t ct = PHX_BUF_INIT, got = PHX_BUF_INIT;
        CHECK(pr && phx_json_get_hex(pr, "ciphertext", &ct, &e) == PHX_OK);
        CHECK(phx_confidential_open_reply(my_key, cid, ct.ptr, ct.len, &got, &e) == PHX_OK);
        CHECK(got.len == 2 && memcmp(got.ptr, "hi", 2) == 0);
        phx_buf_free(&ct);
        phx_buf_free(&got);
        json_decref(pr);
        json_decref(po);
        json_decref(mine);
        free(mykeyh);
        free(keyh);
        free(msgh);
        rounds++;
    }
    free(pub);
    free(sk);
    free(cidh);
    printf("interop with @hpke/core + node chacha20-poly1305: %d rounds, both directions\n",
           rounds);
}

/* Secrets open only for the contract id and the code hash they were sealed
 * to: other code under the same id (a hijack, or an update the owner did not
 * re-seal for) gets nothing, and the plain label path does not open them. */
static void test_secrets_bound_to_code(const phx_contract_keys_t *k, const uint8_t cid[32],
                                       const uint8_t other_cid[32])
{
    phx_error_t e = {0};
    uint8_t code_a[32], code_b[32];
    phx_keccak256("export default () => 1;", 23, code_a);
    phx_keccak256("export default (i, ctx) => ctx.secrets;", 39, code_b);
    const char secret[] = "{\"SEED\":\"abandon abandon\"}";
    json_t *sealed = NULL;
    CHECK(phx_confidential_seal_secrets(k->x25519_pub, cid, code_a, secret, sizeof secret - 1,
                                        &sealed, &e) == PHX_OK);
    phx_buf_t pt = PHX_BUF_INIT;
    CHECK(phx_confidential_open_secrets(k->x25519_sk, cid, code_a, sealed, &pt, &e) == PHX_OK &&
          pt.len == sizeof secret - 1 && !memcmp(pt.ptr, secret, pt.len));
    phx_buf_free(&pt);
    CHECK(phx_confidential_open_secrets(k->x25519_sk, cid, code_b, sealed, &pt, &e) ==
          PHX_ERR_VERIFY);
    CHECK(pt.len == 0);
    CHECK(phx_confidential_open_secrets(k->x25519_sk, other_cid, code_a, sealed, &pt, &e) ==
          PHX_ERR_VERIFY);
    CHECK(phx_confidential_open(PHX_SEAL_SECRET, k->x25519_sk, cid, sealed, &pt, NULL, &e) ==
          PHX_ERR_VERIFY);
    phx_buf_free(&pt);
    json_decref(sealed);
    printf("secrets sealed to one code hash do not open under another\n");
}

/* An on-chain request's sealed input (issue 16): opens for its contract only,
 * and a call's sealed input (whose reply would be sealed) never opens as a
 * request's (whose output is public on chain). */
static void test_sealed_request(const phx_contract_keys_t *k, const uint8_t cid[32],
                                const phx_contract_keys_t *other, const uint8_t other_cid[32])
{
    phx_error_t e = {0};
    const char msg[] = "{\"secret\":\"hunter2\"}";
    phx_buf_t in = PHX_BUF_INIT, pt = PHX_BUF_INIT;
    CHECK(phx_confidential_seal_request(k->x25519_pub, cid, msg, sizeof msg - 1, &in, &e) ==
          PHX_OK);
    CHECK(in.len == PHX_SEALED_REQUEST_MAGIC_LEN + 32 + sizeof msg - 1 + PHX_AEAD_TAG_LEN);
    CHECK(phx_confidential_is_sealed_request(in.ptr, in.len));
    bool has_plain = false;
    for (size_t i = 0; i + 7 <= in.len; i++)
        has_plain |= !memcmp(in.ptr + i, "hunter2", 7);
    CHECK(!has_plain);
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, in.ptr, in.len, &pt, &e) == PHX_OK &&
          pt.len == sizeof msg - 1 && !memcmp(pt.ptr, msg, pt.len) && pt.secret);
    phx_buf_free(&pt);
    /* Another contract's key, or the right key under another id. */
    CHECK(phx_confidential_open_request(other->x25519_sk, other_cid, in.ptr, in.len, &pt, &e) ==
          PHX_ERR_VERIFY);
    CHECK(phx_confidential_open_request(k->x25519_sk, other_cid, in.ptr, in.len, &pt, &e) ==
          PHX_ERR_VERIFY);
    /* A flipped bit, a cut one, the magic alone, plain input. */
    in.ptr[in.len - 1] ^= 1;
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, in.ptr, in.len, &pt, &e) ==
          PHX_ERR_VERIFY);
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, in.ptr, 40, &pt, &e) ==
          PHX_ERR_TRUNCATED);
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, in.ptr, PHX_SEALED_REQUEST_MAGIC_LEN,
                                        &pt, &e) == PHX_ERR_TRUNCATED);
    CHECK(!phx_confidential_is_sealed_request((const uint8_t *)msg, sizeof msg - 1));
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, (const uint8_t *)msg, sizeof msg - 1,
                                        &pt, &e) == PHX_ERR_INVALID);
    CHECK(pt.len == 0);
    /* A direct call's sealed input, rewrapped as a request's, does not open. */
    json_t *sealed = NULL;
    CHECK(phx_confidential_seal(PHX_SEAL_INPUT, k->x25519_pub, cid, msg, sizeof msg - 1, &sealed,
                                NULL, &e) == PHX_OK);
    phx_buf_reset(&in);
    CHECK(phx_buf_append(&in, PHX_SEALED_REQUEST_MAGIC, PHX_SEALED_REQUEST_MAGIC_LEN) == PHX_OK);
    CHECK(phx_json_get_hex(sealed, "enc", &in, &e) == PHX_OK &&
          phx_json_get_hex(sealed, "ciphertext", &in, &e) == PHX_OK);
    CHECK(phx_confidential_open_request(k->x25519_sk, cid, in.ptr, in.len, &pt, &e) ==
          PHX_ERR_VERIFY);
    json_decref(sealed);
    phx_buf_free(&pt);
    phx_buf_free(&in);
    printf("sealed request inputs open for their contract only, never a call's\n");
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    phx_error_t e = {0};
    uint8_t root[32], croot[32], cid[32], other_cid[32];
    CHECK(phx_random_bytes(root, 32) == PHX_OK);
    CHECK(phx_kms_contract_root(root, croot, &e) == PHX_OK);
    memset(cid, 0x11, 32);
    memset(other_cid, 0x22, 32);
    phx_contract_keys_t k, other;
    CHECK(phx_kms_contract_keys(croot, cid, &k, &e) == PHX_OK);
    CHECK(phx_kms_contract_keys(croot, other_cid, &other, &e) == PHX_OK);
    test_local(&k, cid, &other, other_cid);
    test_peer(&k, cid);
    test_secrets_bound_to_code(&k, cid, other_cid);
    test_sealed_request(&k, cid, &other, other_cid);
    phx_kms_contract_keys_clear(&k);
    phx_kms_contract_keys_clear(&other);
    return test_done("test_confidential");
}
