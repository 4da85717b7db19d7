/* A worker's k-of-n peer list (src/worker/peers.c) as the chain changes under
 * it, with real parts: anvil with the Phalanx contracts, a KMS on the sim TEE,
 * workers registered through it. The list follows the Registry's events on
 * its own thread while two reader threads copy it as rounds do (the TSan pass
 * runs this test): a --peer URL first, every active worker with an announced
 * URL after it, never this worker (by address, nor another identity at its
 * URL), one without a URL left out until it announces one, a moved URL
 * followed, and a deregistered or invalidated worker dropped. Peer health,
 * on real loopback sockets: a peer whose port is closed is backed off (left
 * out of rounds) for 1 s, then asked again and backed off for 2 s, and is
 * back once a server answers there again; a refusal is an answer, not a sign
 * of a dead peer; and the health table holds under two threads asking at
 * once, while the Registry's thread rebuilds the list. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/worker/peers.h"
#include "phx/crypto.h"
#include "support/chain_fixture.h"
#include "support/kms_fixture.h"
#include "support/stand_in.h"
#include "test.h"

static test_devnet_t net;
static char dir[] = "/tmp/phx-peers-XXXXXX";
static phx_tee_t *tee;
static test_kms_service_t ks;
static uint8_t self[20], b[20], c[20];
static wk_peers_t *peers;

#define FLAG "http://127.0.0.1:9/flag"
#define URL_SELF "http://127.0.0.1:10"
#define URL_B "http://127.0.0.1:11"
#define URL_B2 "http://127.0.0.1:12"
#define URL_C "http://127.0.0.1:13"

/* Two readers copy the list as rounds do; every copy must hold. */
static atomic_bool stop;
static atomic_int reads, bad;

static void *reader(void *arg)
{
    (void)arg;
    wk_peer_list_t l;
    while (!atomic_load(&stop)) {
        wk_peers_get(peers, &l);
        bool ok = l.n >= 1 && l.n <= 3 && !strcmp(l.url[0], FLAG);
        for (size_t i = 0; i < l.n; i++) {
            ok &= strcmp(l.url[i], URL_SELF) != 0 && l.url[i][0];
            for (size_t k = 0; k < i; k++)
                ok &= strcmp(l.url[i], l.url[k]) != 0;
        }
        /* Ask what a round would (closed ports: each is backed off), as the
         * Registry's thread rebuilds the list and drops their health. */
        wk_peer_list_t due;
        size_t down = 99;
        wk_peers_due(peers, &due, &down);
        ok &= due.n + down <= 3;
        for (size_t i = 0; i < due.n; i++) {
            json_t *res = NULL;
            phx_error_t e = {0};
            wk_peers_ask(peers, due.url[i], "/healthz", &res, NULL, &e);
            json_decref(res);
        }
        ok &= wk_peers_down(peers) <= 3;
        if (!ok) atomic_fetch_add(&bad, 1);
        atomic_fetch_add(&reads, 1);
        usleep(1000);
    }
    return NULL;
}

static phx_err_t announce(const uint8_t w[20], const char *url, phx_error_t *e)
{
    return test_chain_transact(net.gov, net.dep.registry, "setWorkerEndpoint(address,string)",
                               json_pack("[o,s]", phx_json_hex(w, 20), url), e);
}

/* The list as one string, "URL URL ..."; waits up to 30 s for want. */
static const char *list_is(const char *want)
{
    static char got[4 * WK_PEER_URL_MAX];
    for (int i = 0; i < 300; i++) {
        wk_peer_list_t l;
        wk_peers_get(peers, &l);
        got[0] = '\0';
        for (size_t k = 0; k < l.n; k++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", k ? " " : "", l.url[k]);
        if (!strcmp(got, want)) break;
        usleep(100 * 1000);
    }
    return got;
}

/* Chain, KMS, stake for 3 workers, and the workers: this one and B announce
 * a URL, C does not yet. */
static void test_network(void)
{
    phx_error_t e = {0};
    CHECK_MSG(test_devnet_start(&net, dir, &e) == PHX_OK, "devnet: %s", e.message);
    if (!net.gov) return;
    char sim_dir[300];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    phx_tee_config_t tc = {.sim_dir = sim_dir};
    uint8_t mr[32];
    CHECK_MSG(phx_tee_open(PHX_TEE_SIM, &tc, &tee, &e) == PHX_OK, "%s", e.message);
    if (!tee) return;
    CHECK(test_tee_measurement_id(tee, mr, &e) == PHX_OK);
    CHECK_MSG(test_kms_service_start(&ks, tee, net.node.url, &net.dep, NULL, &e) == PHX_OK,
              "KMS: %s", e.message);
    CHECK(test_chain_allow_measurement(net.gov, &net.dep, mr, true, &e) == PHX_OK);
    CHECK_MSG(test_kms_admit(net.gov, &net.dep, tee, ks.kms, &e) == PHX_OK, "admitKms: %s",
              e.message);
    CHECK_MSG(test_chain_stake(&net, "3000000000000000000000", &e) == PHX_OK, "stake: %s",
              e.message);
    CHECK_MSG(test_kms_register_worker(&ks, tee, net.gov, &net.dep, self, &e) == PHX_OK &&
                  test_kms_register_worker(&ks, tee, net.gov, &net.dep, b, &e) == PHX_OK &&
                  test_kms_register_worker(&ks, tee, net.gov, &net.dep, c, &e) == PHX_OK,
              "register: %s", e.message);
    CHECK_MSG(announce(self, URL_SELF, &e) == PHX_OK && announce(b, URL_B, &e) == PHX_OK,
              "setWorkerEndpoint: %s", e.message);
}

/* Before it follows anything the list is the flags; then B joins it. */
static void test_follows(void)
{
    phx_error_t e = {0};
    const char *flags[] = {FLAG "/", "ftp://127.0.0.1:9"};
    CHECK(wk_peers_new(flags, 2, &peers, &e) == PHX_ERR_INVALID && !peers);
    CHECK(strstr(e.message, "ftp://127.0.0.1:9") != NULL);
    CHECK(wk_peers_new(flags, 1, &peers, &e) == PHX_OK);
    if (!peers) return;
    CHECK_MSG(!strcmp(list_is(FLAG), FLAG), "before following: %s", list_is(FLAG));
    char pdir[300];
    snprintf(pdir, sizeof pdir, "%s/self", dir);
    CHECK(mkdir(pdir, 0700) == 0);
    CHECK_MSG(wk_peers_start(peers, net.node.url, &net.dep, pdir, self, URL_SELF, 100, &e) ==
                  PHX_OK,
              "%s", e.message);
    const char *got = list_is(FLAG " " URL_B);
    CHECK_MSG(!strcmp(got, FLAG " " URL_B), "got \"%s\"", got);
    size_t from_chain = 9, from_flags = 9;
    wk_peers_counts(peers, &from_chain, &from_flags);
    CHECK(from_chain == 1 && from_flags == 1);
}

/* While readers copy it: C announces, B moves, then another identity names
 * this worker's URL; then B is deregistered and C invalidated. */
static void test_changes_under_readers(void)
{
    phx_error_t e = {0};
    if (!peers) return;
    pthread_t r[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&r[i], NULL, reader, NULL) == 0);
    CHECK_MSG(announce(c, URL_C, &e) == PHX_OK, "%s", e.message);
    const char *got = list_is(FLAG " " URL_B " " URL_C);
    CHECK_MSG(!strcmp(got, FLAG " " URL_B " " URL_C), "C announced: \"%s\"", got);
    CHECK_MSG(announce(c, URL_SELF, &e) == PHX_OK && announce(b, URL_B2, &e) == PHX_OK, "%s",
              e.message);
    got = list_is(FLAG " " URL_B2);
    CHECK_MSG(!strcmp(got, FLAG " " URL_B2), "B moved, C at this worker's URL: \"%s\"", got);
    CHECK_MSG(announce(c, URL_C, &e) == PHX_OK, "%s", e.message);
    got = list_is(FLAG " " URL_B2 " " URL_C);
    CHECK_MSG(!strcmp(got, FLAG " " URL_B2 " " URL_C), "C back: \"%s\"", got);
    CHECK_MSG(test_chain_transact(net.gov, net.dep.registry, "deregisterWorker(address)",
                                  json_pack("[o]", phx_json_hex(b, 20)), &e) == PHX_OK &&
                  test_chain_transact(net.gov, net.dep.registry, "invalidateWorker(address,string)",
                                      json_pack("[o,s]", phx_json_hex(c, 20), "test"),
                                      &e) == PHX_OK,
              "%s", e.message);
    got = list_is(FLAG);
    CHECK_MSG(!strcmp(got, FLAG), "B deregistered, C invalidated: \"%s\"", got);
    size_t from_chain = 9, from_flags = 9;
    wk_peers_counts(peers, &from_chain, &from_flags);
    CHECK(from_chain == 0 && from_flags == 1);
    atomic_store(&stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join(r[i], NULL);
    CHECK_MSG(atomic_load(&reads) > 0 && atomic_load(&bad) == 0, "%d of %d copies wrong",
              atomic_load(&bad), atomic_load(&reads));
}

/* ---- health ---------------------------------------------------------------------- */

static test_stand_in_t live, back;
static char dead_url[64];
static unsigned dead_port;
static wk_peers_t *hp;

static phx_err_t no_observation(void *ctx, const phx_http_request_t *req, phx_http_response_t *resp,
                                phx_error_t *e)
{
    (void)ctx, (void)req, (void)resp;
    return phx_fail(e, PHX_ERR_NOT_FOUND, "no signed observation");
}

static const test_route_t routes[] = {{"GET", "/v1/jobs/:id/observation", no_observation}};

/* "LIVE" and/or "DEAD": who a round asks now; *down the others. */
static const char *due_is(size_t *down)
{
    wk_peer_list_t l;
    wk_peers_due(hp, &l, down);
    bool has_live = false, has_dead = false;
    for (size_t i = 0; i < l.n; i++) {
        has_live |= !strcmp(l.url[i], live.url);
        has_dead |= !strcmp(l.url[i], dead_url);
    }
    return l.n == 2 && has_live && has_dead ? "LIVE DEAD"
           : l.n == 1 && has_live           ? "LIVE"
           : l.n == 1 && has_dead           ? "DEAD"
           : l.n == 0                       ? ""
                                            : "?";
}

/* Ask peer as a round does; *down: failed in transport. */
static phx_err_t ask(const char *peer, bool *down)
{
    json_t *res = NULL;
    phx_error_t e = {0};
    *down = false;
    phx_err_t err = wk_peers_ask(hp, peer, "/v1/jobs/7/observation", &res, down, &e);
    json_decref(res);
    return err;
}

/* Milliseconds from t0 (taken right after DEAD's failed ask) until it is
 * due again (polls every 20 ms, up to 10 s). */
static uint64_t until_due(uint64_t t0)
{
    while (phx_monotonic_ms() - t0 < 10000 && strcmp(due_is(NULL), "LIVE DEAD"))
        usleep(20 * 1000);
    return phx_monotonic_ms() - t0;
}

/* A live peer that refuses (404) and a closed port: the closed one is
 * skipped for 1 s, retried, skipped for 2 s, and back once it answers. */
static void test_down_peer_backed_off(void)
{
    phx_error_t e = {0};
    CHECK(test_stand_in_start(&live, "0x01", routes, 1, NULL) == 0);
    /* A port a server had and let go: nothing listens there now. */
    CHECK(test_stand_in_start(&back, "0x02", routes, 1, NULL) == 0);
    dead_port = back.server ? phx_http_server_port(back.server) : 0;
    snprintf(dead_url, sizeof dead_url, "%s", back.url);
    test_stand_in_stop(&back);
    const char *urls[] = {live.url, dead_url};
    CHECK(wk_peers_new(urls, 2, &hp, &e) == PHX_OK);
    if (!hp || !dead_port) return;
    size_t down = 9;
    CHECK_MSG(!strcmp(due_is(&down), "LIVE DEAD") && down == 0, "before any ask: %s", due_is(NULL));
    bool d = true;
    CHECK_MSG(ask(live.url, &d) == PHX_ERR_REMOTE && !d, "a 404 is an answer, not a dead peer");
    CHECK(ask(dead_url, &d) == PHX_ERR_IO && d);
    uint64_t t0 = phx_monotonic_ms();
    CHECK_MSG(!strcmp(due_is(&down), "LIVE") && down == 1, "after a refused connect: %s",
              due_is(NULL));
    CHECK(wk_peers_down(hp) == 1);
    uint64_t ms = until_due(t0);
    /* Bounds wide enough for a loaded 2-core machine under TSan: only the
     * order matters (skipped a while, then due; twice as long the second
     * time; back to 1 s after an answer, not 4 s). */
    CHECK_MSG(ms >= WK_PEER_BACKOFF_MS / 2 && ms <= WK_PEER_BACKOFF_MS + 4000,
              "due again after %llu ms", (unsigned long long)ms);
    CHECK(wk_peers_down(hp) == 0);
    CHECK(ask(dead_url, &d) == PHX_ERR_IO && d); /* still down: twice as long */
    t0 = phx_monotonic_ms();
    CHECK(!strcmp(due_is(NULL), "LIVE") && wk_peers_down(hp) == 1);
    CHECK(test_stand_in_start_on(&back, dead_port, "0x02", routes, 1, NULL) == 0);
    ms = until_due(t0);
    CHECK_MSG(ms >= 2 * WK_PEER_BACKOFF_MS - 500 && ms <= 2 * WK_PEER_BACKOFF_MS + 4000,
              "due again after %llu ms", (unsigned long long)ms);
    CHECK_MSG(ask(dead_url, &d) == PHX_ERR_REMOTE && !d, "back: it answers");
    CHECK(!strcmp(due_is(&down), "LIVE DEAD") && down == 0 && wk_peers_down(hp) == 0);
    /* Back for good: a failure now starts the back-off at 1 s again. */
    test_stand_in_stop(&back);
    CHECK(ask(dead_url, &d) == PHX_ERR_IO && d);
    t0 = phx_monotonic_ms();
    ms = until_due(t0);
    CHECK_MSG(ms <= 4 * WK_PEER_BACKOFF_MS - 1000, "reset: due again after %llu ms",
              (unsigned long long)ms);
}

/* Two threads ask both peers as rounds do, the dead one even when backed off
 * (a round's copy may predate its back-off), and read the gauge. */
static atomic_int health_bad;

static void *asker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        size_t down = 9;
        const char *due = due_is(&down);
        bool d = false;
        if (strcmp(due, "LIVE DEAD") && strcmp(due, "LIVE")) atomic_fetch_add(&health_bad, 1);
        if (ask(live.url, &d) != PHX_ERR_REMOTE || d) atomic_fetch_add(&health_bad, 1);
        if (ask(dead_url, &d) != PHX_ERR_IO || !d) atomic_fetch_add(&health_bad, 1);
        if (wk_peers_down(hp) != 1) atomic_fetch_add(&health_bad, 1);
    }
    return NULL;
}

static void test_health_threads(void)
{
    if (!hp) return;
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, asker, NULL) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_MSG(atomic_load(&health_bad) == 0, "%d wrong", atomic_load(&health_bad));
}

int main(void)
{
    /* health first: it needs no chain */
    static const test_case_t cases[] = {
        TEST_CASE(test_down_peer_backed_off), TEST_CASE(test_health_threads),
        TEST_CASE_REQUIRED(test_network), TEST_CASE_REQUIRED(test_follows),
        TEST_CASE(test_changes_under_readers)};
    int rc = test_run("test_peers", cases, TEST_COUNT(cases));
    wk_peers_free(peers);
    wk_peers_free(hp);
    test_stand_in_stop(&live);
    test_stand_in_stop(&back);
    test_kms_service_stop(&ks, 1000);
    phx_tee_close(tee);
    test_devnet_close(&net);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
    return rc;
}
