/* Unit tests of the chain module's pure parts (no node): quote field reading at
 * every truncation and for each layout, deployment files (round trip, missing
 * fields, bad checksums), the embedded artifacts, digest sensitivity, and
 * trigger manifests (bounds, errors, the canonical form the owner signs). */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/chain_triggers.h"
#include "phx/crypto.h"
#include "test.h"

static void test_quote_fields(void)
{
    uint8_t q[48 + 584], m[32], rd[64];
    uint32_t tee;
    phx_error_t e;
    memset(q, 0, sizeof q);
    q[0] = 4;
    q[4] = 0x81;
    for (size_t i = 48; i < sizeof q; i++)
        q[i] = (uint8_t)i;
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, m, rd, &e) == PHX_OK && tee == 0x81);
    CHECK(memcmp(rd, q + 48 + 520, 64) == 0);
    /* measurement = keccak256(MRTD || RTMR0..3) */
    uint8_t cat[48 + 192], want[32];
    memcpy(cat, q + 48 + 136, 48);
    memcpy(cat + 48, q + 48 + 328, 192);
    phx_keccak256(cat, sizeof cat, want);
    CHECK(memcmp(m, want, 32) == 0);
    /* MRCONFIGID is not part of it; RTMR3 is. */
    q[48 + 184] ^= 1;
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, m, rd, &e) == PHX_OK && !memcmp(m, want, 32));
    q[48 + 471 + 48] ^= 1;
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, m, rd, &e) == PHX_OK && memcmp(m, want, 32));
    /* Every truncation is refused, never read past. */
    int refused = 0;
    for (size_t n = 0; n < sizeof q; n++)
        refused += phx_chain_quote_fields(q, n, &tee, m, rd, &e) != PHX_OK;
    CHECK(refused == (int)sizeof q);
    /* Unknown TEE type and version. */
    q[4] = 0x42;
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, m, rd, &e) == PHX_ERR_UNSUPPORTED);
    q[4] = 0x81;
    q[0] = 3; /* TDX in a v3 quote */
    CHECK(phx_chain_quote_fields(q, sizeof q, &tee, m, rd, &e) == PHX_ERR_INVALID);
    printf("quote fields: %zu truncations refused\n", sizeof q);
}

static void test_deployment_json(void)
{
    phx_chain_deployment_t d, back;
    memset(&d, 0, sizeof d);
    d.chain_id = 8453;
    d.block = 123456789;
    for (int i = 0; i < 20; i++) {
        d.deployer[i] = (uint8_t)(i + 1);
        d.token[i] = (uint8_t)(0xa0 + i);
        d.registry[i] = (uint8_t)(0x50 + i);
        d.jobs[i] = (uint8_t)(0xf0 - i);
    }
    json_t *j = NULL;
    phx_error_t e;
    CHECK(phx_chain_deployment_to_json(&d, &j, &e) == PHX_OK);
    CHECK(phx_chain_deployment_from_json(j, &back, &e) == PHX_OK && !memcmp(&d, &back, sizeof d));
    /* Addresses are written with their EIP-55 checksum ... */
    const char *tok =
        json_string_value(json_object_get(json_object_get(j, "contracts"), "PhxToken"));
    char want[43];
    phx_eth_address_checksum(d.token, want);
    CHECK(tok && strcmp(tok, want) == 0);
    /* ... and a broken checksum is refused. */
    char bad[43];
    strcpy(bad, want);
    for (int i = 2; i < 42; i++)
        if (bad[i] >= 'a' && bad[i] <= 'f') {
            bad[i] = (char)(bad[i] - 'a' + 'A');
            break;
        }
    json_object_set_new(json_object_get(j, "contracts"), "PhxToken", json_string(bad));
    CHECK(phx_chain_deployment_from_json(j, &back, &e) != PHX_OK);
    json_object_set_new(json_object_get(j, "contracts"), "PhxToken", json_string(want));
    json_object_del(json_object_get(j, "contracts"), "Jobs");
    CHECK(phx_chain_deployment_from_json(j, &back, &e) == PHX_ERR_INVALID);
    json_object_set_new(j, "chainId", json_integer(-1));
    CHECK(phx_chain_deployment_from_json(j, &back, &e) == PHX_ERR_INVALID);
    json_decref(j);
    json_t *empty = json_object();
    CHECK(phx_chain_deployment_from_json(empty, &back, &e) == PHX_ERR_INVALID);
    json_decref(empty);
}

static void test_artifacts(void)
{
    const char *names[] = {"PhxToken", "Registry", "Jobs", "TestConsumer"};
    for (int i = 0; i < 4; i++) {
        const phx_chain_artifact_t *a = phx_chain_artifact(names[i]);
        phx_buf_t code = PHX_BUF_INIT;
        phx_error_t he;
        /* Creation code starts by setting the free memory pointer: PUSH1/PUSH2 .. 0x40 MSTORE. */
        CHECK_MSG(a && phx_hex_decode(a->bytecode_hex, &code, &he) == PHX_OK && code.len > 500 &&
                      (code.ptr[0] == 0x60 || code.ptr[0] == 0x61),
                  "artifact %s", names[i]);
        phx_buf_free(&code);
        json_t *abi = NULL;
        phx_error_t e;
        CHECK(a && phx_json_parse(a->abi_json, strlen(a->abi_json), &abi, &e) == PHX_OK &&
              json_array_size(abi) > 3);
        json_decref(abi);
    }
    CHECK(phx_chain_artifact("Nope") == NULL);
    CHECK(strncmp(phx_chain_solc_version, "0.8.", 4) == 0);
    printf("artifacts: 4 embedded, solc %s\n", phx_chain_solc_version);
}

static void test_digests(void)
{
    /* Each input of the result digest matters. */
    uint8_t domain[32] = {1}, cid[32] = {2}, code[32] = {3}, out[4] = {4, 5, 6, 7};
    uint8_t base[32], d[32];
    phx_chain_result_digest(domain, 1, cid, code, true, out, 4, base);
    phx_chain_result_digest(domain, 2, cid, code, true, out, 4, d);
    CHECK(memcmp(base, d, 32) != 0);
    cid[31] = 1;
    phx_chain_result_digest(domain, 1, cid, code, true, out, 4, d);
    CHECK(memcmp(base, d, 32) != 0);
    cid[31] = 0;
    phx_chain_result_digest(domain, 1, cid, code, true, out, 3, d);
    CHECK(memcmp(base, d, 32) != 0);
    /* A failed run's error is not the same result as an output of the same bytes. */
    phx_chain_result_digest(domain, 1, cid, code, false, out, 4, d);
    CHECK(memcmp(base, d, 32) != 0);
    phx_chain_result_digest(domain, 1, cid, code, true, out, 4, d);
    CHECK(memcmp(base, d, 32) == 0);
    /* Jobs on another chain or address has another domain. */
    uint8_t jobs[20] = {9}, d1[32], d2[32];
    phx_chain_jobs_domain(1, jobs, d1);
    phx_chain_jobs_domain(2, jobs, d2);
    CHECK(memcmp(d1, d2, 32) != 0);
    /* report_data = keccak(tag || addr || x25519 || nonce) || nonce */
    uint8_t worker[20] = {1}, x[32] = {2}, nonce[32] = {3}, rd[64], buf[13 + 20 + 32 + 32], h[32];
    phx_chain_report_data(worker, x, nonce, rd);
    memcpy(buf, "phx-worker-v1", 13);
    memcpy(buf + 13, worker, 20);
    memcpy(buf + 33, x, 32);
    memcpy(buf + 65, nonce, 32);
    phx_keccak256(buf, sizeof buf, h);
    CHECK(memcmp(rd, h, 32) == 0 && memcmp(rd + 32, nonce, 32) == 0);
    /* phx_chain_sign: v is 27/28 and the key recovers. */
    uint8_t sk[32], sig[65], addr[20], back[20];
    phx_secp256k1_keygen(sk);
    phx_eth_address_from_seckey(sk, addr);
    CHECK(phx_chain_sign(sk, base, sig) == PHX_OK && (sig[64] == 27 || sig[64] == 28));
    uint8_t pub[64];
    CHECK(phx_secp256k1_recover(base, sig, pub) == PHX_OK);
    phx_eth_address_from_pubkey(pub, back);
    CHECK(memcmp(addr, back, 20) == 0);
}

/* Reverts named from the embedded ABIs: what the node shows as "custom error
 * 0x32f66f19" is Jobs' ContractExists(bytes32). */
static void test_revert_describe(void)
{
    phx_buf_t d = PHX_BUF_INIT;
    char out[512];
    phx_error_t e;
    const char *id = "0x00000000000000000000000000000000000000000000000000000000000000aa";
    char args[128];
    snprintf(args, sizeof args, "[\"%s\"]", id);
    CHECK(phx_abi_encode_call("ContractExists(bytes32)", args, &d, &e) == PHX_OK);
    CHECK(d.len == 36 && d.ptr[0] == 0x32 && d.ptr[1] == 0xf6 && d.ptr[2] == 0x6f &&
          d.ptr[3] == 0x19);
    CHECK(phx_chain_revert_describe(d.ptr, d.len, out, sizeof out));
    char want[128];
    snprintf(want, sizeof want, "ContractExists(%s)", id);
    CHECK(strcmp(out, want) == 0);
    /* Every truncation of the arguments is refused, never read past. */
    int refused = 0;
    for (size_t n = 0; n < d.len; n++)
        refused += !phx_chain_revert_describe(d.ptr, n, out, sizeof out);
    CHECK(refused == (int)d.len);
    phx_buf_free(&d);
    /* Two arguments, another contract's error, Solidity's Error(string). */
    CHECK(phx_abi_encode_call("FeeTooLow(uint256,uint256)", "[\"5\",\"10\"]", &d, &e) == PHX_OK);
    CHECK(phx_chain_revert_describe(d.ptr, d.len, out, sizeof out) &&
          !strcmp(out, "FeeTooLow(5, 10)"));
    phx_buf_free(&d);
    /* PHA's errors are OpenZeppelin's: the token's ABI carries them too. */
    CHECK(phx_abi_encode_call("ERC20InsufficientBalance(address,uint256,uint256)",
                              "[\"0x00000000000000000000000000000000000000aa\",1,2]", &d,
                              &e) == PHX_OK);
    CHECK(phx_chain_revert_describe(d.ptr, d.len, out, sizeof out));
    CHECK(
        !strcmp(out, "ERC20InsufficientBalance(0x00000000000000000000000000000000000000aa, 1, 2)"));
    phx_buf_free(&d);
    CHECK(phx_abi_encode_call("Error(string)", "[\"boom\"]", &d, &e) == PHX_OK);
    CHECK(phx_chain_revert_describe(d.ptr, d.len, out, sizeof out) && !strcmp(out, "Error(boom)"));
    phx_buf_free(&d);
    /* A selector no contract declares is not guessed at. */
    CHECK(phx_abi_encode_call("NoSuchError(uint256)", "[1]", &d, &e) == PHX_OK);
    CHECK(!phx_chain_revert_describe(d.ptr, d.len, out, sizeof out) && out[0] == 0);
    phx_buf_free(&d);
    printf("revert describe: ContractExists, FeeTooLow, ERC20InsufficientBalance, Error named\n");
}

static bool manifest_fails(const char *text, const char *want)
{
    phx_triggers_t t;
    phx_error_t e = {0};
    return phx_triggers_parse(text, strlen(text), &t, &e) != PHX_OK && strstr(e.message, want);
}

static void test_triggers(void)
{
    uint64_t s = 0;
    CHECK(!phx_trigger_schedule_parse("@every 30s", &s, NULL) && s == 30);
    CHECK(!phx_trigger_schedule_parse("@every 2m", &s, NULL) && s == 120);
    CHECK(!phx_trigger_schedule_parse("@every 1h", &s, NULL) && s == 3600);
    const char *bad[] = {"*/5 * * * *", "@every 0s", "@every 5",   "@every 5d", "@every 05s",
                         "@every 31d",  "@every s",  "@every 5s ", "every 5s",  "@every 721h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(phx_trigger_schedule_parse(bad[i], &s, NULL) == PHX_ERR_INVALID, "%s", bad[i]);
    CHECK(manifest_fails("{}", "JSON array"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"cron\",\"schedule\":\"@every 1s\",\"x\":1}]",
                         "unknown field \"x\""));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"block\",\"every\":1},"
                         "{\"name\":\"a\",\"kind\":\"block\",\"every\":2}]",
                         "two triggers are named \"a\""));
    CHECK(manifest_fails("[{\"name\":\"A\",\"kind\":\"block\",\"every\":1}]", "\"name\""));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"timer\"}]", "\"kind\" must be"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"evm_log\",\"address\":\"0x12\"}]",
                         "\"address\" must be"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"evm_log\",\"address\":"
                         "\"0x00000000000000000000000000000000000000aa\",\"topics\":[1]}]",
                         "topic 0"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"evm_log\",\"address\":"
                         "\"0x00000000000000000000000000000000000000aa\",\"confirmations\":65}]",
                         "\"confirmations\" is a whole number"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"evm_log\",\"address\":"
                         "\"0x00000000000000000000000000000000000000aa\",\"confirmations\":\"2\"}]",
                         "\"confirmations\" is a whole number"));
    CHECK(manifest_fails("[{\"name\":\"a\",\"kind\":\"cron\",\"schedule\":\"@every 1s\","
                         "\"confirmations\":1}]",
                         "unknown field \"confirmations\""));
    char many[2048] = "[";
    for (int i = 0; i <= PHX_TRIGGERS_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many),
                 "%s{\"name\":\"t%d\",\"kind\":\"block\",\"every\":1}", i ? "," : "", i);
    strcat(many, "]");
    CHECK(manifest_fails(many, "at most 16 triggers"));
    /* The canonical form (what is signed) does not depend on how it was written. */
    phx_triggers_t a, b;
    uint8_t ha[32], hb[32], other[32];
    const char *ta = "[{\"kind\":\"cron\",\"name\":\"t\",\"schedule\":\"@every 1m\"}]";
    const char *tb = "[ {\"name\":\"t\", \"schedule\":\"@every 60s\", \"kind\":\"cron\"} ]";
    const char *tc = "[{\"name\":\"t\",\"kind\":\"cron\",\"schedule\":\"@every 61s\"}]";
    CHECK(!phx_triggers_parse(ta, strlen(ta), &a, NULL) && !phx_triggers_hash(&a, ha, NULL));
    CHECK(!phx_triggers_parse(tb, strlen(tb), &b, NULL) && !phx_triggers_hash(&b, hb, NULL));
    CHECK(!memcmp(ha, hb, 32));
    CHECK(!phx_triggers_parse(tc, strlen(tc), &b, NULL) && !phx_triggers_hash(&b, other, NULL));
    CHECK(memcmp(ha, other, 32) != 0);
    /* A named chain and confirmations are kept; 0 confirmations is the same
     * manifest as none (what owners signed before the field existed). */
    const char *td = "[{\"name\":\"l\",\"kind\":\"evm_log\",\"address\":"
                     "\"0x00000000000000000000000000000000000000AA\",\"chain\":\"b\","
                     "\"confirmations\":3}]";
    CHECK(!phx_triggers_parse(td, strlen(td), &b, NULL) && b.t[0].confirmations == 3 &&
          !strcmp(b.t[0].chain, "b"));
    json_t *canon = phx_triggers_to_json(&b);
    char *ct = canon ? phx_json_dump(canon, false) : NULL;
    CHECK(ct && !strcmp(ct, "[{\"name\":\"l\",\"kind\":\"evm_log\",\"address\":"
                            "\"0x00000000000000000000000000000000000000aa\",\"topics\":[],"
                            "\"chain\":\"b\",\"confirmations\":3}]"));
    free(ct);
    json_decref(canon);
    const char *te = "[{\"name\":\"l\",\"kind\":\"evm_log\",\"address\":"
                     "\"0x00000000000000000000000000000000000000aa\",\"confirmations\":0}]";
    const char *tf = "[{\"name\":\"l\",\"kind\":\"evm_log\",\"address\":"
                     "\"0x00000000000000000000000000000000000000aa\"}]";
    CHECK(!phx_triggers_parse(te, strlen(te), &a, NULL) && !phx_triggers_hash(&a, ha, NULL));
    CHECK(!phx_triggers_parse(tf, strlen(tf), &b, NULL) && !phx_triggers_hash(&b, hb, NULL));
    CHECK(!memcmp(ha, hb, 32));
    /* Firing ids are keccak256("<name>/<position>"). */
    uint8_t fid[32], want[32];
    phx_chain_firing_id("tick", "5", fid);
    phx_keccak256("tick/5", 6, want);
    CHECK(!memcmp(fid, want, 32));
    printf("triggers: schedules, %zu bad ones, manifest errors, canonical hash, firing ids\n",
           sizeof bad / sizeof bad[0]);
}

/* A WorkerEndpoint log for worker 0x..42 announcing url (as a node returns it). */
/* The one decoder every record getter goes through: each kind, and the
 * refusals a short field or a lying node would otherwise slip past. */
static void test_ret_get(void)
{
    json_t *ret = json_loads("[\"0x00000000000000000000000000000000000000aa\", \"255\", \"256\","
                             " \"4294967296\", true, \"node-a\", 7]",
                             0, NULL);
    struct {
        uint8_t addr[20];
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        phx_u256_t big;
        bool flag;
        char name[7];
        char shortname[6];
    } o;
    memset(&o, 0, sizeof o);
    phx_error_t e;
    const phx_chain_ret_t addr = PHX_CHAIN_HEX(o.addr), u8 = PHX_CHAIN_UINT(o.u8),
                          u16 = PHX_CHAIN_UINT(o.u16), u32 = PHX_CHAIN_UINT(o.u32),
                          u64 = PHX_CHAIN_UINT(o.u64), big = PHX_CHAIN_U256(o.big),
                          flag = PHX_CHAIN_BOOL(o.flag), name = PHX_CHAIN_STR(o.name),
                          shortname = PHX_CHAIN_STR(o.shortname);
    CHECK(ret != NULL);
    CHECK(phx_chain_ret_get(ret, 0, &addr, &e) == PHX_OK && o.addr[19] == 0xaa && o.addr[0] == 0);
    CHECK(phx_chain_ret_get(ret, 1, &u8, &e) == PHX_OK && o.u8 == 255);
    CHECK_MSG(phx_chain_ret_get(ret, 2, &u8, &e) == PHX_ERR_INVALID && o.u8 == 255, "256 in a u8");
    CHECK(phx_chain_ret_get(ret, 2, &u16, &e) == PHX_OK && o.u16 == 256);
    CHECK(phx_chain_ret_get(ret, 3, &u32, &e) == PHX_ERR_INVALID);
    CHECK(phx_chain_ret_get(ret, 3, &u64, &e) == PHX_OK && o.u64 == 4294967296ull);
    CHECK(phx_chain_ret_get(ret, 3, &big, &e) == PHX_OK && o.big.b[27] == 1);
    CHECK(phx_chain_ret_get(ret, 4, &flag, &e) == PHX_OK && o.flag);
    CHECK(phx_chain_ret_get(ret, 1, &flag, &e) == PHX_ERR_INVALID);
    CHECK(phx_chain_ret_get(ret, 5, &name, &e) == PHX_OK && strcmp(o.name, "node-a") == 0);
    CHECK(phx_chain_ret_get(ret, 5, &shortname, &e) == PHX_ERR_INVALID);
    /* an address of the wrong width, a number where hex is wanted, past the end */
    CHECK(phx_chain_ret_get(ret, 6, &u64, &e) == PHX_ERR_INVALID);
    CHECK(phx_chain_ret_get(ret, 1, &addr, &e) != PHX_OK);
    CHECK(phx_chain_ret_get(ret, 9, &name, &e) == PHX_ERR_INVALID);
    json_decref(ret);
}

static void endpoint_log(const char *url, phx_evm_log_t *log, phx_buf_t *data)
{
    char args[400];
    phx_error_t e = {0};
    memset(log, 0, sizeof *log);
    snprintf(args, sizeof args, "[\"%s\"]", url);
    phx_buf_free(data);
    CHECK(phx_abi_encode_call("f(string)", args, data, &e) == PHX_OK);
    CHECK(phx_abi_event_topic(PHX_CHAIN_EV_WORKER_ENDPOINT, log->topics[0], &e) == PHX_OK);
    log->topics[1][31] = 0x42;
    log->topic_count = 2;
    log->data = data->ptr + 4; /* abi.encode(url): the call data without its selector */
    log->data_len = data->len - 4;
}

/* What the gateway's discovery rests on: the URL rule (the Registry's, in C),
 * the Registry's worker events as a follower reads them, and the identity
 * challenge a worker signs. */
static void test_discovery_pieces(void)
{
    phx_error_t e = {0};
    static const char *const good[] = {"http://127.0.0.1:8801", "https://w1.example.org/phx",
                                       "http://[::1]:8801"};
    static const char *const bad[] = {"http://",
                                      "ftp://127.0.0.1:21",
                                      "http://user:pw@127.0.0.1:8545",
                                      "http://127.0.0.1:8801/?to=evil",
                                      "http://127.0.0.1:8801/#x",
                                      "http://127.0.0.1 :8801",
                                      "http://127.0.0.1\\@evil",
                                      "HTTP://127.0.0.1:8801"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_MSG(phx_chain_endpoint_check(good[i], strlen(good[i]), &e) == PHX_OK, "%s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(phx_chain_endpoint_check(bad[i], strlen(bad[i]), &e) == PHX_ERR_INVALID, "%s",
                  bad[i]);
    char longurl[PHX_CHAIN_ENDPOINT_MAX + 2];
    memset(longurl, 'a', sizeof longurl);
    memcpy(longurl, "http://", 7);
    CHECK(phx_chain_endpoint_check(longurl, PHX_CHAIN_ENDPOINT_MAX, &e) == PHX_OK);
    CHECK(phx_chain_endpoint_check(longurl, PHX_CHAIN_ENDPOINT_MAX + 1, &e) == PHX_ERR_INVALID);
    char nul[] = "http://a\0b";
    CHECK(phx_chain_endpoint_check(nul, sizeof nul - 1, &e) == PHX_ERR_INVALID);

    phx_evm_log_t log;
    phx_buf_t data = PHX_BUF_INIT;
    phx_chain_registry_event_t ev;
    endpoint_log("http://127.0.0.1:8801", &log, &data);
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_OK);
    CHECK(ev.kind == PHX_CHAIN_REG_EV_ENDPOINT && ev.worker[19] == 0x42 &&
          !strcmp(ev.url, "http://127.0.0.1:8801"));
    endpoint_log("http://user@127.0.0.1:8545", &log, &data);
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_ERR_INVALID);
    CHECK(ev.kind == 0 && ev.url[0] == '\0');
    endpoint_log("http://127.0.0.1:8801", &log, &data);
    log.topics[1][0] = 1; /* not an address */
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_ERR_INVALID);
    phx_buf_free(&data);
    memset(&log, 0, sizeof log);
    CHECK(phx_abi_event_topic(PHX_CHAIN_EV_WORKER_DEREGISTERED, log.topics[0], &e) == PHX_OK);
    log.topics[1][31] = 0x42;
    log.topics[2][31] = 0x07;
    log.topic_count = 3;
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_OK);
    CHECK(ev.kind == PHX_CHAIN_REG_EV_DEREGISTERED && ev.operator_[19] == 0x07);
    log.topic_count = 2;
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_ERR_INVALID);
    CHECK(phx_abi_event_topic("Transfer(address indexed,address indexed,uint256)", log.topics[0],
                              &e) == PHX_OK);
    CHECK(phx_chain_parse_registry_event(&log, &ev, &e) == PHX_ERR_NOT_FOUND);

    uint8_t sk[32], addr[20], reg[20] = {0x11}, ch[32] = {0x22}, sig[65], who[20];
    CHECK(phx_secp256k1_keygen(sk) == PHX_OK && phx_eth_address_from_seckey(sk, addr) == PHX_OK);
    CHECK(phx_chain_identity_sign(31337, reg, ch, sk, sig, &e) == PHX_OK);
    CHECK(phx_chain_identity_signer(31337, reg, ch, sig, who, &e) == PHX_OK &&
          !memcmp(who, addr, 20));
    /* Another challenge, chain or Registry: the signature names someone else. */
    ch[0] ^= 1;
    CHECK(phx_chain_identity_signer(31337, reg, ch, sig, who, &e) != PHX_OK ||
          memcmp(who, addr, 20) != 0);
    ch[0] ^= 1;
    CHECK(phx_chain_identity_signer(1, reg, ch, sig, who, &e) != PHX_OK ||
          memcmp(who, addr, 20) != 0);
    sig[64] = 0; /* v must be 27 or 28 */
    CHECK(phx_chain_identity_signer(31337, reg, ch, sig, who, &e) == PHX_ERR_VERIFY);
    printf("discovery: URL rule, Registry worker events, identity challenge\n");
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE(test_quote_fields),    TEST_CASE(test_deployment_json),
        TEST_CASE(test_artifacts),       TEST_CASE(test_digests),
        TEST_CASE(test_revert_describe), TEST_CASE(test_discovery_pieces),
        TEST_CASE(test_triggers),        TEST_CASE(test_ret_get),
    };
    return test_run("test_chain_unit", cases, TEST_COUNT(cases));
}
