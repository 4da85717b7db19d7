/* The KMS as the network uses it, with real parts: the sim TEE (real-format
 * TDX quotes, sealing keys), a real anvil node with the Phalanx contracts, the
 * KMS on a loopback HTTP server, and workers/replicas talking to it with the
 * requester code. Shows: root sealed to the KMS measurement; a worker
 * registered on chain with the KMS's signature then given the contract root;
 * refusals for a measurement not allowed, a tampered quote, report data not
 * binding the key, an unregistered worker, a revoked measurement; a replica
 * onboarding and deriving identical keys. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/chain.h"
#include "phx/crypto.h"
#include "phx/kms_node.h"
#include "phx/tee.h"
#include "support/anvil.h"
#include "support/chain_fixture.h"
#include "support/kms_fixture.h"
#include "support/sim_quote.h"
#include "test.h"

static test_devnet_t net;
static char dir[] = "/tmp/phx-kms-net-XXXXXX";

/* ---- TEE adapters ---------------------------------------------------------------- */

static phx_err_t tee_seal_key(void *ctx, const char *label, uint8_t key[32], phx_error_t *e)
{
    return phx_tee_seal_key(ctx, label, key, e);
}

typedef struct {
    phx_tee_t *tee;
    int tamper;                  /* 1: flip a bit of the signed report */
    const uint8_t *other_x25519; /* quote over report data for this key instead */
    const uint8_t *eth;          /* needed to rebuild report data when other_x25519 is set */
} quoter_t;

static phx_err_t sim_quote(void *ctx, const uint8_t report_data[64], phx_buf_t *quote,
                           phx_buf_t *collateral, phx_error_t *e)
{
    quoter_t *q = ctx;
    uint8_t rd[64];
    memcpy(rd, report_data, 64);
    if (q->other_x25519) phx_chain_report_data(q->eth, q->other_x25519, report_data + 32, rd);
    phx_err_t err = test_sim_quote(q->tee, rd, quote, collateral, e);
    if (!err && q->tamper) quote->ptr[48 + 200] ^= 0x04; /* inside the TD report (MRTD region) */
    return err;
}

/* A request body as a requester would send it, with a fresh KMS nonce and a
 * genuine quote binding addr and x in the KMS domain (kms_domain) or the
 * worker's. */
static json_t *role_body(phx_kms_t *k, phx_tee_t *t, const uint8_t addr[20], const uint8_t x[32],
                         bool kms_domain, uint8_t nonce[32])
{
    uint8_t rd[64];
    int64_t exp;
    phx_error_t e = {0};
    phx_buf_t q = PHX_BUF_INIT, coll = PHX_BUF_INIT;
    json_t *cj = NULL;
    CHECK(phx_kms_nonce_issue(k, addr, nonce, &exp, &e) == PHX_OK);
    if (kms_domain)
        phx_chain_kms_report_data(addr, x, nonce, rd);
    else
        phx_chain_report_data(addr, x, nonce, rd);
    CHECK(phx_tee_quote(t, rd, &q, &e) == PHX_OK && phx_tee_sim_collateral(t, &coll, &e) == 0);
    CHECK(phx_json_parse((const char *)coll.ptr, coll.len, &cj, &e) == PHX_OK);
    json_t *body =
        json_pack("{s:o,s:o,s:o,s:o,s:o}", "quote", phx_json_hex(q.ptr, q.len), "collateral",
                  cj ? cj : json_object(), "eth_address", phx_json_hex(addr, 20), "x25519_pub",
                  phx_json_hex(x, 32), "nonce", phx_json_hex(nonce, 32));
    phx_buf_free(&q);
    phx_buf_free(&coll);
    return body;
}

/* ---- chain helpers ---------------------------------------------------------------- */

typedef struct {
    uint8_t sk[32], eth[20], xsk[32], xpub[32];
} identity_t;

static void identity_new(identity_t *id)
{
    CHECK(phx_secp256k1_keygen(id->sk) == PHX_OK);
    CHECK(phx_eth_address_from_seckey(id->sk, id->eth) == PHX_OK);
    CHECK(phx_x25519_keygen(id->xsk, id->xpub) == PHX_OK);
}

static phx_kms_requester_t requester(const char *url, const uint8_t kms_addr[20],
                                     const identity_t *id, quoter_t *q)
{
    phx_kms_requester_t rq = {
        .kms_url = url, .quote = sim_quote, .quote_ctx = q, .x25519_sk = id->xsk};
    memcpy(rq.kms_address, kms_addr, 20);
    memcpy(rq.eth_address, id->eth, 20);
    memcpy(rq.x25519_pub, id->xpub, 32);
    return rq;
}

/* registerWorker from the operator with what the KMS returned. */
static phx_err_t register_on_chain(phx_signer_t *op, const phx_chain_deployment_t *d,
                                   const json_t *reg, phx_error_t *e)
{
    json_t *args = json_pack("[O,O,O,O,O]", json_object_get(reg, "worker"),
                             json_object_get(reg, "x25519"), json_object_get(reg, "nonce"),
                             json_object_get(reg, "quote"), json_object_get(reg, "signature"));
    return test_chain_transact(op, d->registry,
                               "registerWorker(address,bytes32,bytes32,bytes,bytes)", args, e);
}

static bool remote_says(phx_err_t err, const phx_error_t *e, const char *words)
{
    bool ok = err == PHX_ERR_REMOTE && strstr(e->message, words) != NULL;
    if (!ok)
        fprintf(stderr, "  expected a refusal with \"%s\", got %d: %s\n", words, err, e->message);
    return ok;
}

/* What the cases share: the sim platform and its TEEs, the KMS root and
 * service, the honest worker and the replica. */
static char sim_dir[256];
static phx_tee_config_t tc;
static phx_tee_t *kms_tee, *worker_tee, *evil_tee, *rep_tee;
static uint8_t good_mr[32], root[32], secret[32], cid[32];
static test_kms_service_t ks;
static phx_kms_t *kms;
static const char *url;
static const uint8_t *kms_addr;
static char amount[] = "1000000000000000000000";
static identity_t w, rep;
static quoter_t wq, rpq;
static phx_kms_requester_t rq, rrq;

/* The chain, and TEEs on one sim platform. */
static void test_chain_and_tees(void)
{
    phx_error_t e = {0};
    /* Chain: contracts deployed by the governor, who is also our operator. */
    CHECK_MSG(test_devnet_start(&net, dir, &e) == PHX_OK, "devnet: %s", e.message);
    if (!net.gov) return;
    printf("anvil at %s, state in %s\n", net.node.url, dir);

    /* TEEs on one sim platform: the KMS, an honest worker and a replica run
     * this binary; "evil" runs other code (another RTMR0). */
    char other_cfg[256];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    snprintf(other_cfg, sizeof other_cfg, "%s/other.conf", dir);
    CHECK(phx_file_write_atomic(other_cfg, "patched worker\n", 15, 0600, &e) == PHX_OK);
    tc = (phx_tee_config_t){.sim_dir = sim_dir};
    phx_tee_config_t tc_other = {.sim_dir = sim_dir, .sim_config = other_cfg};
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &kms_tee, &e) == PHX_OK, "%s", e.message);
    CHECK(phx_tee_open(PHX_TEE_SIM, &tc, &worker_tee, &e) == PHX_OK);
    CHECK(phx_tee_open(PHX_TEE_SIM, &tc_other, &evil_tee, &e) == PHX_OK);
    if (!kms_tee || !worker_tee || !evil_tee) return;
    uint8_t evil_mr[32];
    CHECK(test_tee_measurement_id(worker_tee, good_mr, &e) == PHX_OK);
    CHECK(test_tee_measurement_id(evil_tee, evil_mr, &e) == PHX_OK);
    CHECK(memcmp(good_mr, evil_mr, 32) != 0);
}

static void test_root_sealed(void)
{
    phx_error_t e = {0};
    /* The root: made and sealed on first start, the same after a restart, and
     * unreadable to other code on the same platform. */
    char root_path[256];
    snprintf(root_path, sizeof root_path, "%s/kms-root.sealed", dir);
    uint8_t again[32];
    bool created = false;
    CHECK(phx_kms_root_load_or_create(root_path, tee_seal_key, kms_tee, root, &created, &e) ==
          PHX_OK);
    CHECK(created);
    CHECK(phx_kms_root_load_or_create(root_path, tee_seal_key, kms_tee, again, &created, &e) ==
          PHX_OK);
    CHECK(!created && memcmp(root, again, 32) == 0);
    CHECK(phx_kms_root_load_or_create(root_path, tee_seal_key, evil_tee, again, &created, &e) ==
          PHX_ERR_VERIFY);
}

static void test_kms_service(void)
{
    phx_error_t e = {0};
    /* The KMS service on a loopback port, checking quotes against the sim root
     * and peers against the Registry. */
    CHECK_MSG(test_kms_service_start(&ks, kms_tee, net.node.url, &net.dep, root, &e) == PHX_OK,
              "KMS: %s", e.message);
    if (!ks.server) return;
    kms = ks.kms;
    url = ks.url;
    kms_addr = ks.address;

    /* Governance: this KMS is a KMS node; this worker code is allowed; the
     * operator stakes the minimum into its pool. */
    CHECK(test_chain_allow_measurement(net.gov, &net.dep, good_mr, true, &e) == PHX_OK);
    CHECK_MSG(test_kms_admit(net.gov, &net.dep, kms_tee, kms, &e) == PHX_OK, "admitKms: %s",
              e.message);
    CHECK_MSG(test_chain_stake(&net, amount, &e) == PHX_OK, "%s", e.message);
}

/* An honest worker: refused before it is registered on chain with the
 * KMS signature, then given the contract root. */
static void test_honest_worker(void)
{
    phx_error_t e = {0};
    identity_new(&w);
    wq = (quoter_t){.tee = worker_tee};
    rq = requester(url, kms_addr, &w, &wq);
    uint8_t croot[32];
    CHECK(phx_kms_contract_root(root, croot, &e) == PHX_OK);
    phx_err_t err = phx_kms_request_secret(&rq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "not registered"));

    json_t *regdoc = NULL;
    CHECK_MSG(phx_kms_request_registration(&rq, net.gov_addr, &regdoc, &e) == PHX_OK, "%s",
              e.message);
    CHECK_MSG(regdoc && register_on_chain(net.gov, &net.dep, regdoc, &e) == PHX_OK,
              "registerWorker: %s", e.message);
    phx_chain_worker_t onchain;
    CHECK(phx_chain_worker_get(net.rpc, &net.dep, w.eth, &onchain, &e) == PHX_OK);
    CHECK(onchain.status == PHX_CHAIN_WORKER_ACTIVE && memcmp(onchain.kms, kms_addr, 20) == 0);
    CHECK(memcmp(onchain.measurement, good_mr, 32) == 0 && memcmp(onchain.x25519, w.xpub, 32) == 0);
    json_decref(regdoc);

    memset(secret, 0, 32);
    CHECK_MSG(phx_kms_request_secret(&rq, PHX_KMS_ROLE_WORKER, secret, &e) == PHX_OK, "%s",
              e.message);
    CHECK(memcmp(secret, croot, 32) == 0);
    /* The worker derives a contract's keys; they match what the KMS publishes. */
    uint8_t xpub[32];
    memset(cid, 0x5a, 32);
    phx_contract_keys_t ck;
    CHECK(phx_kms_contract_keys(secret, cid, &ck, &e) == PHX_OK);
    char pk_url[256];
    char *cid_hex = phx_hex_encode(cid, 32);
    snprintf(pk_url, sizeof pk_url, "%s/v1/contracts/%s/pubkey", url, cid_hex);
    free(cid_hex);
    json_t *doc = NULL;
    CHECK(phx_http_json("GET", pk_url, NULL, NULL, NULL, &doc, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey_verify(doc, kms_addr, cid, xpub, &e) == PHX_OK);
    CHECK(memcmp(xpub, ck.x25519_pub, 32) == 0);
    json_decref(doc);
    phx_kms_contract_keys_clear(&ck);
    printf("honest worker: registered on chain with the KMS signature, got the contract root\n");
}

/* Refusals: a tampered quote, a key not bound, a rekeyed worker, code not
 * allowed, a worker never registered, the wrong KMS address. */
static void test_refusals(void)
{
    phx_error_t e = {0};
    /* A tampered quote. */
    quoter_t tq = {.tee = worker_tee, .tamper = 1};
    phx_kms_requester_t trq = requester(url, kms_addr, &w, &tq);
    memset(secret, 0, 32);
    phx_err_t err = phx_kms_request_secret(&trq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "verify"));
    /* A genuine quote whose report data binds another X25519 key. */
    identity_t thief;
    identity_new(&thief);
    quoter_t bq = {.tee = worker_tee, .other_x25519 = thief.xpub, .eth = w.eth};
    phx_kms_requester_t brq = requester(url, kms_addr, &w, &bq);
    err = phx_kms_request_secret(&brq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "does not bind"));
    /* The registered worker's address with a fresh X25519 key, honestly quoted
     * (same code): the chain recorded another key, so no. */
    identity_t rekey = w;
    CHECK(phx_x25519_keygen(rekey.xsk, rekey.xpub) == PHX_OK);
    phx_kms_requester_t krq = requester(url, kms_addr, &rekey, &wq);
    err = phx_kms_request_secret(&krq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "X25519 key differs"));
    /* Code whose measurement is not allowed: no registration, no keys. */
    identity_t ev;
    identity_new(&ev);
    quoter_t eq = {.tee = evil_tee};
    phx_kms_requester_t erq = requester(url, kms_addr, &ev, &eq);
    json_t *regdoc = NULL;
    err = phx_kms_request_registration(&erq, net.gov_addr, &regdoc, &e);
    CHECK(remote_says(err, &e, "not allowed"));
    err = phx_kms_request_secret(&erq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "not allowed"));
    /* A second, allowed worker that was never registered. */
    identity_t w2;
    identity_new(&w2);
    phx_kms_requester_t rq2 = requester(url, kms_addr, &w2, &wq);
    err = phx_kms_request_secret(&rq2, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "not registered"));
    /* An answer checked against the wrong KMS address is refused by the worker. */
    phx_kms_requester_t wrong = rq;
    wrong.kms_address[0] ^= 1;
    CHECK(phx_kms_request_secret(&wrong, PHX_KMS_ROLE_WORKER, secret, &e) == PHX_ERR_VERIFY);
}

/* A replica onboards: admitted by a quorum of one, then the same root and
 * contract keys. */
static void test_replica_onboards(void)
{
    phx_error_t e = {0};
    identity_new(&rep);
    CHECK(phx_tee_open(PHX_TEE_SIM, &tc, &rep_tee, &e) == PHX_OK);
    rpq = (quoter_t){.tee = rep_tee};
    rrq = requester(url, kms_addr, &rep, &rpq);
    phx_err_t err = phx_kms_request_secret(&rrq, PHX_KMS_ROLE_KMS, secret, &e);
    CHECK(remote_says(err, &e, "not a KMS node"));
    /* Admitted by a quorum of one: the KMS verifies the replica's quote in its
     * TEE and signs Registry.kmsAdmitDigest; anyone sends it. A worker-domain
     * quote gets no vouch, and the KMS never vouches for its own key. */
    json_t *vouch = NULL;
    CHECK_MSG(phx_kms_request_vouch(&rrq, &vouch, &e) == PHX_OK, "vouch: %s", e.message);
    {
        uint8_t vx[32], vn[32], vch[32], vsig[65];
        phx_buf_t vq = PHX_BUF_INIT;
        CHECK(phx_json_get_hex_fixed(vouch, "x25519", vx, 32, &e) == PHX_OK &&
              phx_json_get_hex_fixed(vouch, "nonce", vn, 32, &e) == PHX_OK &&
              phx_json_get_hex_fixed(vouch, "collateral_hash", vch, 32, &e) == PHX_OK &&
              phx_json_get_hex_fixed(vouch, "signature", vsig, 65, &e) == PHX_OK &&
              phx_json_get_hex(vouch, "quote", &vq, &e) == PHX_OK);
        const uint8_t(*vsigs)[65] = (const uint8_t(*)[65])vsig;
        CHECK_MSG(phx_chain_admit_kms_by_quorum(net.gov, &net.dep, rep.eth, vx, vn, vq.ptr, vq.len,
                                                vch, vsigs, 1, &e) == PHX_OK,
                  "admitKmsByQuorum: %s", e.message);
        phx_buf_free(&vq);
    }
    json_decref(vouch);
    /* The admitted address with another X25519 key gets nothing. */
    {
        identity_t other;
        identity_new(&other);
        phx_kms_requester_t swapped = rrq;
        memcpy(swapped.x25519_pub, other.xpub, 32);
        swapped.x25519_sk = other.xsk;
        err = phx_kms_request_secret(&swapped, PHX_KMS_ROLE_KMS, secret, &e);
        CHECK(remote_says(err, &e, "X25519 key differs from the one admitted"));
    }
    uint8_t rep_root[32];
    CHECK_MSG(phx_kms_request_secret(&rrq, PHX_KMS_ROLE_KMS, rep_root, &e) == PHX_OK, "%s",
              e.message);
    CHECK(memcmp(rep_root, root, 32) == 0);
    phx_kms_config_t rcfg = ks.cfg;
    memcpy(rcfg.root, rep_root, 32);
    phx_kms_t *replica = NULL;
    CHECK(phx_kms_new(&rcfg, &replica, &e) == PHX_OK);
    uint8_t rep_addr[20];
    phx_kms_address(replica, rep_addr);
    CHECK(memcmp(rep_addr, kms_addr, 20) == 0);
    json_t *d1 = NULL, *d2 = NULL;
    CHECK(phx_kms_contract_pubkey(kms, cid, &d1, &e) == PHX_OK);
    CHECK(phx_kms_contract_pubkey(replica, cid, &d2, &e) == PHX_OK);
    CHECK(json_equal(json_object_get(d1, "x25519_pub"), json_object_get(d2, "x25519_pub")));
    CHECK(json_equal(json_object_get(d1, "address"), json_object_get(d2, "address")));
    json_decref(d1);
    json_decref(d2);
    printf("replica: onboarded after a quorum admitted it, same root and contract keys\n");
    phx_kms_free(replica);
}

/* Role domains (issue 10 item 9): a quote made for one role is refused for
 * another, and the KMS never signs for its own key. */
static void test_role_domains(void)
{
    phx_error_t e = {0};
    {
        uint8_t a[20], x[32], n[32];
        phx_random_bytes(a, 20);
        phx_random_bytes(x, 32);
        json_t *resp = NULL;
        json_t *body = role_body(kms, worker_tee, a, x, false, n); /* worker domain */
        CHECK(phx_kms_release(kms, PHX_KMS_ROLE_KMS, body, &resp, &e) == PHX_ERR_VERIFY &&
              strstr(e.message, "does not bind"));
        json_decref(body);
        body = role_body(kms, worker_tee, a, x, false, n);
        CHECK(phx_kms_vouch_replica(kms, body, &resp, &e) == PHX_ERR_VERIFY);
        json_decref(body);
        body = role_body(kms, worker_tee, a, x, true, n); /* KMS domain */
        CHECK(phx_kms_release(kms, PHX_KMS_ROLE_WORKER, body, &resp, &e) == PHX_ERR_VERIFY);
        json_decref(body);
        body = role_body(kms, worker_tee, a, x, true, n);
        json_object_set_new(body, "operator", phx_json_hex(a, 20));
        CHECK(phx_kms_sign_registration(kms, body, &resp, &e) == PHX_ERR_VERIFY);
        json_decref(body);
        /* The KMS's own address, even with a proper worker-domain quote. */
        uint8_t kx[32];
        phx_kms_x25519_pub(kms, kx);
        body = role_body(kms, kms_tee, kms_addr, kx, false, n);
        json_object_set_new(body, "operator", phx_json_hex(a, 20));
        CHECK(phx_kms_sign_registration(kms, body, &resp, &e) == PHX_ERR_POLICY &&
              strstr(e.message, "own key"));
        json_decref(body);
        body = role_body(kms, kms_tee, kms_addr, kx, true, n);
        CHECK(phx_kms_vouch_replica(kms, body, &resp, &e) == PHX_ERR_POLICY);
        json_decref(body);
        CHECK(resp == NULL);
        printf("role domains: worker quote refused as replica, KMS quote refused as worker, "
               "own key refused\n");
    }
}

/* A whole replica node admits itself by quorum and onboards. */
static void test_replica_node(void)
{
    phx_error_t e = {0};
    {
        char rdir[300];
        snprintf(rdir, sizeof rdir, "%s/replica-node", dir);
        uint8_t payer_sk[32]; /* anvil's fourth development account pays the gas */
        CHECK(phx_hex_decode_fixed(
                  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6", payer_sk,
                  32, &e) == PHX_OK);
        phx_kms_node_opts_t ro = {.dir = rdir,
                                  .tee = PHX_TEE_SIM,
                                  .tee_config = &tc,
                                  .rpc_url = net.node.url,
                                  .deployment = &net.dep,
                                  .trust_own_sim_root = true,
                                  .onboard_url = url,
                                  .onboard_kms_address = kms_addr,
                                  .onboard_timeout_s = 30,
                                  .quorum_sender_sk = payer_sk};
        phx_kms_node_t *rn = NULL;
        CHECK_MSG(phx_kms_node_start(&ro, &rn, &e) == PHX_OK, "replica node: %s", e.message);
        if (rn) {
            uint8_t ra[20];
            phx_kms_address(phx_kms_node_kms(rn), ra);
            CHECK(memcmp(ra, kms_addr, 20) == 0);
            printf("replica node: vouched for, admitted by quorum, onboarded (same KMS key)\n");
        }
        phx_kms_node_stop(rn, 500);
    }
}

/* Governance revokes the measurement: the registered worker is cut off. */
static void test_revoked_measurement(void)
{
    phx_error_t e = {0};
    CHECK(test_chain_allow_measurement(net.gov, &net.dep, good_mr, false, &e) == PHX_OK);
    phx_err_t err = phx_kms_request_secret(&rq, PHX_KMS_ROLE_WORKER, secret, &e);
    CHECK(remote_says(err, &e, "not allowed"));
}

int main(void)
{
    static const test_case_t cases[] = {TEST_CASE_REQUIRED(test_chain_and_tees),
                                        TEST_CASE_REQUIRED(test_root_sealed),
                                        TEST_CASE_REQUIRED(test_kms_service),
                                        TEST_CASE_REQUIRED(test_honest_worker),
                                        TEST_CASE(test_refusals),
                                        TEST_CASE(test_replica_onboards),
                                        TEST_CASE(test_role_domains),
                                        TEST_CASE(test_replica_node),
                                        TEST_CASE(test_revoked_measurement)};
    int rc = test_run("test_kms_network", cases, TEST_COUNT(cases));
    if (ks.server) test_kms_service_stop(&ks, 2000);
    test_devnet_close(&net);
    phx_tee_close(rep_tee);
    phx_tee_close(kms_tee);
    phx_tee_close(worker_tee);
    phx_tee_close(evil_tee);
    phx_secure_zero(root, 32);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
