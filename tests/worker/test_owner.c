/* Contract owners' signatures (include/phx/chain_owner.h): our ContractOp and
 * OwnerRequest digests and signatures equal an independent EIP-712
 * implementation's (ethers, tests/worker/owner_peer.js), so a wallet's
 * eth_signTypedData_v4 is accepted; and phx_owner_request_check refuses
 * every way a read or put can be wrong: another signer, expired, too
 * long-lived, another action or subject, malformed or missing parts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "phx/chain_owner.h"
#include "phx/crypto.h"
#include "test.h"

static const char *sk_hex = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

static void test_peer(const uint8_t sk[32])
{
    const char *src = getenv("PHX_SOURCE_DIR");
    const char *nm = getenv("PHX_NODE_MODULES");
    char peer[1024], probe[1100];
    snprintf(peer, sizeof peer, "%s/tests/worker/owner_peer.js", src ? src : ".");
    snprintf(probe, sizeof probe, "%s/ethers", nm ? nm : "node_modules");
    if (access(peer, R_OK) != 0 || access(probe, R_OK) != 0) {
        printf("SKIP peer: %s or %s missing\n", peer, probe);
        return;
    }
    phx_owner_op_t op = {.action = "deploy", .nonce = 1764000000123ull};
    memset(op.contract_id, 0xab, 32);
    memset(op.code_hash, 0xcd, 32);
    memset(op.secrets_hash, 0xef, 32);
    uint8_t subject[32], d[32], rd[32], sig[65], rsig[65], addr[20];
    memset(subject, 0x42, 32);
    uint64_t expires = 1764000300;
    phx_error_t e = {0};
    CHECK(phx_owner_op_digest(&op, d, &e) == PHX_OK);
    CHECK(phx_owner_sign(d, sk, sig, &e) == PHX_OK);
    CHECK(phx_owner_request_digest("logs", subject, expires, rd, &e) == PHX_OK);
    CHECK(phx_owner_sign(rd, sk, rsig, &e) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(sk, addr) == PHX_OK);
    char *cid = phx_hex_encode(op.contract_id, 32), *ch = phx_hex_encode(op.code_hash, 32),
         *sh = phx_hex_encode(op.secrets_hash, 32), *sub = phx_hex_encode(subject, 32);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "node '%s' %s %s deploy %s %s %llu logs %s %llu 2>/dev/null", peer,
             sk_hex, cid, ch, sh, (unsigned long long)op.nonce, sub, (unsigned long long)expires);
    FILE *p = popen(cmd, "r");
    static char line[4096];
    line[0] = '\0';
    char *got = p ? fgets(line, sizeof line, p) : NULL;
    int rc = p ? pclose(p) : -1;
    json_t *j = NULL;
    CHECK_MSG(got && rc == 0 && phx_json_parse(line, strlen(line), &j, NULL) == PHX_OK, "peer: %s",
              line);
    char *want_d = phx_hex_encode(d, 32), *want_s = phx_hex_encode(sig, 65),
         *want_rd = phx_hex_encode(rd, 32), *want_rs = phx_hex_encode(rsig, 65),
         *want_a = phx_hex_encode(addr, 20);
    const char *pd = json_string_value(json_object_get(j, "op_digest"));
    const char *ps = json_string_value(json_object_get(j, "op_sig"));
    const char *prd = json_string_value(json_object_get(j, "req_digest"));
    const char *prs = json_string_value(json_object_get(j, "req_sig"));
    const char *pa = json_string_value(json_object_get(j, "address"));
    CHECK_MSG(pa && !strcasecmp(pa, want_a), "address %s vs %s", pa, want_a);
    CHECK_MSG(pd && !strcasecmp(pd, want_d), "ContractOp digest %s vs ours %s", pd, want_d);
    CHECK_MSG(ps && !strcasecmp(ps, want_s), "ContractOp signature %s vs ours %s", ps, want_s);
    CHECK_MSG(prd && !strcasecmp(prd, want_rd), "OwnerRequest digest %s vs ours %s", prd, want_rd);
    CHECK_MSG(prs && !strcasecmp(prs, want_rs), "OwnerRequest sig %s vs ours %s", prs, want_rs);
    printf("ContractOp and OwnerRequest: digests and signatures equal ethers' (EIP-712 v4)\n");
    json_decref(j);
    free(cid), free(ch), free(sh), free(sub);
    free(want_d), free(want_s), free(want_rd), free(want_rs), free(want_a);
}

static void test_request_check(const uint8_t sk[32])
{
    uint8_t subject[32], other[32], d[32], sig[65], addr[20], got[20];
    memset(subject, 0x42, 32);
    memset(other, 0x43, 32);
    uint64_t now = 1764000000, exp = now + 300;
    CHECK(phx_eth_address_from_seckey(sk, addr) == PHX_OK);
    CHECK(phx_owner_request_digest("logs", subject, exp, d, NULL) == PHX_OK);
    CHECK(phx_owner_sign(d, sk, sig, NULL) == PHX_OK);
    char ah[43] = "0x", sh[133] = "0x", es[24], bad_es[24];
    phx_hex_encode_to(ah + 2, addr, 20);
    phx_hex_encode_to(sh + 2, sig, 65);
    snprintf(es, sizeof es, "%llu", (unsigned long long)exp);
    phx_error_t e = {0};
    CHECK(phx_owner_request_check("logs", subject, ah, es, sh, now, got, &e) == PHX_OK &&
          !memcmp(got, addr, 20));
    /* Each wrong part is a refusal, never a pass. */
    CHECK(phx_owner_request_check("jobs", subject, ah, es, sh, now, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", other, ah, es, sh, now, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, ah, es, sh, exp, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, ah, es, sh, exp - PHX_OWNER_REQUEST_MAX_S - 1,
                                  got, &e) == PHX_ERR_VERIFY);
    snprintf(bad_es, sizeof bad_es, "%llu", (unsigned long long)exp + 1);
    CHECK(phx_owner_request_check("logs", subject, ah, bad_es, sh, now, got, &e) == PHX_ERR_VERIFY);
    char other_addr[43] = "0x1111111111111111111111111111111111111111";
    CHECK(phx_owner_request_check("logs", subject, other_addr, es, sh, now, got, &e) ==
          PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, NULL, es, sh, now, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, ah, "12x", sh, now, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, ah, "", sh, now, got, &e) == PHX_ERR_VERIFY);
    CHECK(phx_owner_request_check("logs", subject, ah, es, "0x1234", now, got, &e) ==
          PHX_ERR_VERIFY);
    sh[10] = sh[10] == '0' ? '1' : '0';
    CHECK(phx_owner_request_check("logs", subject, ah, es, sh, now, got, &e) == PHX_ERR_VERIFY);
    /* A ContractOp's action is deploy or delete, nothing else. */
    phx_owner_op_t op = {.action = "transfer", .nonce = 1};
    CHECK(phx_owner_op_digest(&op, d, &e) == PHX_ERR_INVALID);
    printf("owner requests: another action, subject, signer, time or a malformed part refused\n");
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    uint8_t sk[32];
    CHECK(phx_hex_decode_fixed(sk_hex, sk, 32, NULL) == PHX_OK);
    test_peer(sk);
    test_request_check(sk);
    return test_done("test_owner");
}
