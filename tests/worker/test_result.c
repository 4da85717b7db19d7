/* Tests for the signed result envelope: sign, JSON round trip, verify, and
 * refusal of every tampered field. The digests are checked against Foundry's
 * `cast abi-encode` + `cast keccak` (an independent ABI encoder), so what we
 * sign is what contracts/Jobs.sol resultDigest computes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/worker.h"
#include "support/cast.h"
#include "test.h"

static char *hex(const uint8_t *p, size_t n)
{
    return phx_hex_encode(p, n);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 13);
}

static void make_result(phx_result_t *r, phx_result_kind_t kind, const char *output)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->chain_id = 31337;
    fill(r->jobs, 20, 0x10);
    fill(r->contract_id, 32, 0x20);
    fill(r->code_hash, 32, 0x30);
    const char input[] = "{\"pair\":\"ETH/USD\"}";
    phx_keccak256(input, sizeof input - 1, r->input_hash);
    if (kind == PHX_RESULT_JOB) {
        memset(r->request_id, 0, 32);
        r->request_id[31] = 7;
    }
    r->timestamp = 1764000000;
    r->ok = true;
    phx_buf_append_str(&r->output, output);
}

static void test_roundtrip(const uint8_t sk[32])
{
    phx_error_t e = {0};
    phx_result_t r, back;
    make_result(&r, PHX_RESULT_DIRECT, "{\"price\":3120.55,\"src\":\"local\"}");
    CHECK(phx_result_sign(&r, sk, &e) == PHX_OK);
    CHECK(r.signature[64] == 27 || r.signature[64] == 28);
    uint8_t addr[20];
    CHECK(phx_eth_address_from_seckey(sk, addr) == PHX_OK && memcmp(addr, r.worker, 20) == 0);
    CHECK(phx_result_verify(&r, &e) == PHX_OK);

    json_t *j = NULL;
    CHECK(phx_result_to_json(&r, &j, &e) == PHX_OK);
    CHECK(json_is_real(json_object_get(json_object_get(j, "output"), "price")));
    CHECK(strcmp(json_string_value(json_object_get(j, "kind")), "direct") == 0);
    char *text = phx_json_dump(j, false);
    json_t *j2 = NULL;
    CHECK(phx_json_parse(text, strlen(text), &j2, &e) == PHX_OK);
    CHECK(phx_result_from_json(j2, &back, &e) == PHX_OK);
    CHECK(phx_result_verify(&back, &e) == PHX_OK);
    CHECK(back.output.len == r.output.len &&
          memcmp(back.output.ptr, r.output.ptr, r.output.len) == 0);
    phx_result_free(&back);
    free(text);

    /* Each tampered field is caught by the verifier. */
    const char *fields[] = {"contract_id", "code_hash", "input_hash",   "request_id",
                            "jobs",        "worker",    "output_bytes", "signature"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        json_t *t = json_deep_copy(j2);
        char *v = strdup(json_string_value(json_object_get(t, fields[i])));
        size_t n = strlen(v);
        v[n - 3] = v[n - 3] == '0' ? '1' : '0'; /* flip a hex digit near the end */
        json_object_set_new(t, fields[i], json_string(v));
        if (strcmp(fields[i], "output_bytes") == 0) json_object_del(t, "output");
        phx_result_t x;
        phx_err_t err = phx_result_from_json(t, &x, &e);
        if (err == PHX_OK) {
            err = phx_result_verify(&x, &e);
            phx_result_free(&x);
        }
        CHECK_MSG(err == PHX_ERR_VERIFY, "tampered %s -> %d", fields[i], err);
        free(v);
        json_decref(t);
    }
    const char *ints[] = {"timestamp", "chain_id"};
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_deep_copy(j2);
        json_object_set_new(t, ints[i],
                            json_integer(json_integer_value(json_object_get(t, ints[i])) + 1));
        phx_result_t x;
        CHECK(phx_result_from_json(t, &x, &e) == PHX_OK);
        CHECK_MSG(phx_result_verify(&x, &e) == PHX_ERR_VERIFY, "tampered %s", ints[i]);
        phx_result_free(&x);
        json_decref(t);
    }
    /* The ok flag is signed: an error cannot be shown as a result, nor the
     * other way round; and an envelope without it is refused. */
    {
        json_t *t = json_deep_copy(j2);
        json_object_set_new(t, "ok", json_false());
        phx_result_t x;
        CHECK(phx_result_from_json(t, &x, &e) == PHX_OK && !x.ok);
        CHECK_MSG(phx_result_verify(&x, &e) == PHX_ERR_VERIFY, "flipped ok verified");
        phx_result_free(&x);
        json_object_del(t, "ok");
        CHECK(phx_result_from_json(t, &x, &e) == PHX_ERR_INVALID);
        json_decref(t);
    }
    /* A shown output that differs from the signed bytes is refused on parse. */
    json_t *t = json_deep_copy(j2);
    json_object_set_new(json_object_get(t, "output"), "price", json_real(1.0));
    phx_result_t x;
    CHECK(phx_result_from_json(t, &x, &e) == PHX_ERR_VERIFY);
    json_decref(t);

    /* The malleated twin (n - s, flipped v) is valid ECDSA but not low-s: refused. */
    static const uint8_t order[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
                                      0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b,
                                      0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    phx_result_t m = r;
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = order[i] - r.signature[32 + i] - borrow;
        borrow = d < 0;
        m.signature[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    m.signature[64] = r.signature[64] == 27 ? 28 : 27;
    CHECK(phx_result_verify(&m, &e) == PHX_ERR_VERIFY);

    /* Oversize outputs are refused before signing. */
    phx_result_t big;
    make_result(&big, PHX_RESULT_JOB, "");
    for (unsigned i = 0; i <= PHX_RESULT_MAX_OUTPUT; i++)
        phx_buf_append_byte(&big.output, 'x');
    CHECK(phx_result_sign(&big, sk, &e) == PHX_ERR_LIMIT);
    phx_result_free(&big);

    /* Non-JSON output is carried as bytes only. */
    phx_result_t raw;
    make_result(&raw, PHX_RESULT_JOB, "not json \x01");
    CHECK(phx_result_sign(&raw, sk, &e) == PHX_OK);
    json_t *rj = NULL;
    CHECK(phx_result_to_json(&raw, &rj, &e) == PHX_OK);
    CHECK(json_object_get(rj, "output") == NULL);
    phx_result_t rb;
    CHECK(phx_result_from_json(rj, &rb, &e) == PHX_OK && phx_result_verify(&rb, &e) == PHX_OK);
    phx_result_free(&rb);
    json_decref(rj);
    phx_result_free(&raw);

    json_decref(j);
    json_decref(j2);
    phx_result_free(&r);
}

/* A caller nonce (request id v2): the id commits to input and nonce, not to
 * the second, so two calls are two requests and a retry is one; a nonce
 * changed on the way is caught, and a job result cannot name one. */
static void test_nonce(const uint8_t sk[32])
{
    phx_error_t e = {0};
    phx_result_t r, later, other, back;
    make_result(&r, PHX_RESULT_DIRECT, "{\"n\":1}");
    make_result(&later, PHX_RESULT_DIRECT, "{\"n\":1}");
    make_result(&other, PHX_RESULT_DIRECT, "{\"n\":1}");
    r.has_nonce = later.has_nonce = other.has_nonce = true;
    fill(r.nonce, 32, 0x77);
    fill(later.nonce, 32, 0x77);
    fill(other.nonce, 32, 0x78);
    later.timestamp = r.timestamp + 5; /* a retry, seconds later */
    CHECK(phx_result_sign(&r, sk, &e) == PHX_OK && phx_result_sign(&later, sk, &e) == PHX_OK &&
          phx_result_sign(&other, sk, &e) == PHX_OK);
    CHECK_MSG(!memcmp(r.request_id, later.request_id, 32), "a retry is the same request");
    CHECK_MSG(memcmp(r.request_id, other.request_id, 32), "another nonce, another request");
    uint8_t v1[32];
    phx_result_direct_request_id(r.input_hash, r.timestamp, v1);
    CHECK(memcmp(v1, r.request_id, 32)); /* not the v1 id */
    json_t *j = NULL;
    CHECK(phx_result_to_json(&r, &j, &e) == PHX_OK && json_object_get(j, "nonce"));
    CHECK(phx_result_from_json(j, &back, &e) == PHX_OK && back.has_nonce &&
          phx_result_verify(&back, &e) == PHX_OK);
    phx_result_free(&back);
    /* the nonce changed, or dropped (read as v1 by the time): refused */
    json_t *t = json_deep_copy(j);
    json_object_set_new(
        t, "nonce",
        json_string("0x"
                    "1111111111111111111111111111111111111111111111111111111111111111"));
    CHECK(phx_result_from_json(t, &back, &e) == PHX_OK);
    CHECK(phx_result_verify(&back, &e) == PHX_ERR_VERIFY && strstr(e.message, "nonce"));
    phx_result_free(&back);
    json_object_del(t, "nonce");
    CHECK(phx_result_from_json(t, &back, &e) == PHX_OK);
    CHECK(phx_result_verify(&back, &e) == PHX_ERR_VERIFY);
    phx_result_free(&back);
    json_object_set_new(t, "nonce", json_string("0x12"));
    CHECK(phx_result_from_json(t, &back, &e) != PHX_OK);
    json_object_set(t, "nonce", json_object_get(j, "nonce"));
    json_object_set_new(t, "kind", json_string("job"));
    CHECK(phx_result_from_json(t, &back, &e) == PHX_ERR_INVALID);
    json_decref(t);
    json_decref(j);
    phx_result_free(&r);
    phx_result_free(&later);
    phx_result_free(&other);
}

static void test_against_cast(void)
{
    if (!test_cast_available()) return;
    int checked = 0;
    char args[2048];
    uint8_t ours[32], theirs[32], tag[32];

    /* Jobs.domain and Jobs.resultDigest. */
    phx_result_t r;
    make_result(&r, PHX_RESULT_JOB, "{\"ok\":true}");
    uint8_t domain[32];
    phx_chain_jobs_domain(r.chain_id, r.jobs, domain);
    phx_keccak256("phx-result-v1", 13, tag);
    char *h_tag = hex(tag, 32), *h_jobs = hex(r.jobs, 20);
    snprintf(args, sizeof args, "%s %llu %s", h_tag, (unsigned long long)r.chain_id, h_jobs);
    CHECK(test_cast_digest("f(bytes32,uint256,address)", args, theirs));
    CHECK(memcmp(domain, theirs, 32) == 0);
    checked++;
    phx_result_digest(domain, r.request_id, r.contract_id, r.code_hash, true, r.output.ptr,
                      r.output.len, ours);
    uint8_t out_hash[32];
    phx_keccak256(r.output.ptr, r.output.len, out_hash);
    char *h_dom = hex(domain, 32), *h_cid = hex(r.contract_id, 32), *h_code = hex(r.code_hash, 32),
         *h_out = hex(out_hash, 32);
    snprintf(args, sizeof args, "%s 7 %s %s true %s", h_dom, h_cid, h_code, h_out);
    CHECK(test_cast_digest("f(bytes32,uint256,bytes32,bytes32,bool,bytes32)", args, theirs));
    CHECK(memcmp(ours, theirs, 32) == 0);
    checked++;

    /* chain.h's uint64 form agrees with ours for every id it can express. */
    uint8_t chain_digest[32];
    phx_chain_result_digest(domain, 7, r.contract_id, r.code_hash, true, r.output.ptr, r.output.len,
                            chain_digest);
    CHECK(memcmp(ours, chain_digest, 32) == 0);

    /* The direct request id. */
    uint8_t rid[32];
    phx_result_direct_request_id(r.input_hash, r.timestamp, rid);
    phx_keccak256("phx-direct-v1", 13, tag);
    char *h_tag2 = hex(tag, 32), *h_in = hex(r.input_hash, 32);
    snprintf(args, sizeof args, "%s %s %llu", h_tag2, h_in, (unsigned long long)r.timestamp);
    CHECK(test_cast_digest("f(bytes32,bytes32,uint256)", args, theirs));
    CHECK(memcmp(rid, theirs, 32) == 0);
    checked++;
    /* ... and with a caller nonce (v2). */
    uint8_t nonce[32];
    fill(nonce, 32, 0x77);
    phx_result_direct_request_id_nonce(r.input_hash, nonce, rid);
    phx_keccak256("phx-direct-v2", 13, tag);
    char *h_tag3 = hex(tag, 32), *h_nonce = hex(nonce, 32);
    snprintf(args, sizeof args, "%s %s %s", h_tag3, h_in, h_nonce);
    CHECK(test_cast_digest("f(bytes32,bytes32,bytes32)", args, theirs));
    CHECK(memcmp(rid, theirs, 32) == 0);
    checked++;
    free(h_tag3), free(h_nonce);

    free(h_tag), free(h_jobs), free(h_dom), free(h_cid), free(h_code), free(h_out), free(h_tag2),
        free(h_in);
    phx_result_free(&r);
    printf("cast cross-checks: %d digests\n", checked);
}

int main(void)
{
    if (phx_crypto_init()) return 1;
    uint8_t sk[32];
    fill(sk, 32, 0x55);
    test_roundtrip(sk);
    test_nonce(sk);
    test_against_cast();
    return test_done("test_result");
}
