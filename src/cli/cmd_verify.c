/* phx verify RESULT.json: check a signed result's whole chain of trust
 * (src/worker/verify.c) against a chain node and the Phalanx deployment on it,
 * printing each step. Exit 0 valid, 1 invalid, 2 unreadable input or usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/tee.h"
#include "phx/worker.h"

static const char help[] =
    "usage: phx verify RESULT.json [options]\n\n"
    "Check a result envelope (what `phx call --json` prints) from end to end:\n"
    "  1. its signature is by the worker it names, over the digest Jobs checks\n"
    "  2. it is for this chain's Jobs contract (and, for a job, the request's code)\n"
    "  3. the worker is registered and active in the Registry\n"
    "  4. the quote it registered with verifies to the trusted root\n"
    "  5. that quote binds the worker's keys and the registered measurement\n"
    "  6. the measurement is still allowed by governance\n"
    "  7. the KMS that vouched for the worker was admitted (by governance or a\n"
    "     quorum of admitted KMS) and not revoked, and the quote recorded at its\n"
    "     admission verifies to the trusted root, binds its key in the KMS domain\n"
    "     and shows a measurement governance still allows\n"
    "  8. when the signed output holds an inference receipt (what phx.ai.chat returns),\n"
    "     the endpoint signed sha256(request):sha256(response) of its exact bytes, and\n"
    "     the report with it carries a quote that verifies to the same root and\n"
    "     binds that key, the model's SHA-256 and the nonce, and the endpoint is\n"
    "     registered in the deployment's InferenceRegistry (not invalidated) with\n"
    "     that key, its other keys, that model hash and the quote's measurement,\n"
    "     which governance still allows (phx infer verify --help)\n\n"
    "A k-signature result (`phx call --k N --json`: {\"k\":N,\"results\":[...]}) has\n"
    "every one of its N envelopes checked so, each shown, and then that they agree\n"
    "(one contract and code, the same verdict and output bytes) and come from N\n"
    "distinct operators; the TEE kinds their quotes cover are shown. `phx request\n"
    "--json` prints one for an on-chain request, rebuilt from its fulfilment's\n"
    "transaction.\n\n"
    "Options:\n"
    "  --rpc URL            chain node (else \"rpc\" from the endpoints file)\n"
    "  --deployment FILE    contract addresses (else \"deployment\" from the endpoints file)\n"
    "  --endpoints FILE     default $PHX_HOME/endpoints.json, else ~/.phx/devnet/endpoints.json:\n"
    "                       {\"rpc\":URL,\"deployment\":FILE or object,\"sim_dir\":DIR}\n"
    "  --collateral FILE    collateral for the worker's quote (dcap-qvl JSON)\n"
    "  --kms-collateral FILE  collateral for the KMS's admission quote (default: the\n"
    "                       worker's collateral)\n"
    "  --trust-sim-root DIR trust the sim TEE platform in DIR (development networks);\n"
    "                       its collateral is used when --collateral is absent (the\n"
    "                       SGX one for a worker whose quote is SGX, from --tee sim-sgx)\n"
    "  --policy FILE        TCB policy JSON (default: UpToDate, SWHardeningNeeded)\n"
    "  --now UNIX           verification time (default: now)\n"
    "  --json               print {\"valid\",\"steps\",...} instead of text\n\n"
    "Exit status: 0 valid, 1 invalid, 2 bad usage or unreadable input.\n";

static int endpoints_path(const char *given, char *out, size_t cap)
{
    if (given) return snprintf(out, cap, "%s", given) >= (int)cap ? -1 : 0;
    return cli_endpoints_path(out, cap);
}

/* The inference receipt a result's signed output carries (phx.ai.chat), and
 * how its check went. */
typedef struct {
    bool present, ok;
    char endpoint[64], model_sha256[80], error[256];
} inference_t;

static void print_steps(const phx_result_t *r, const phx_result_report_t *rep, phx_err_t err,
                        const phx_error_t *e, const inference_t *inf, bool as_json,
                        json_t **json_out)
{
    static const char *names[] = {"signature", "deployment",  "registered", "quote",
                                  "binding",   "measurement", "kms"};
    bool flags[] = {rep->signature, rep->deployment,  rep->registered, rep->quote,
                    rep->binding,   rep->measurement, rep->kms};
    enum { NSTEPS = sizeof flags / sizeof flags[0] };
    if (as_json) {
        json_t *steps = json_object();
        for (int i = 0; i < NSTEPS; i++)
            json_object_set_new(steps, names[i], json_boolean(flags[i]));
        json_t *o = json_pack("{s:b,s:o,s:o}", "valid", err == PHX_OK, "steps", steps, "worker",
                              phx_json_hex(r->worker, 20));
        if (rep->registered) {
            json_object_set_new(o, "operator", phx_json_hex(rep->operator_, 20));
            json_object_set_new(o, "measurement", phx_json_hex(rep->measurement_id, 32));
        }
        if (rep->quote) {
            json_object_set_new(o, "tcb_status", json_string(rep->tcb_status));
            json_object_set_new(o, "tee", json_string(rep->tee));
            json_object_set_new(o, "quote_version", json_integer(rep->quote_version));
        }
        if (rep->measurement) json_object_set_new(o, "kms", phx_json_hex(rep->kms_address, 20));
        if (rep->kms)
            json_object_set_new(o, "kms_admitted_by", phx_json_hex(rep->kms_admitted_by, 20));
        if (err) json_object_set_new(o, "error", json_string(e->message));
        if (inf->present) {
            json_object_set_new(steps, "inference", json_boolean(inf->ok));
            json_object_set_new(o, "inference",
                                json_pack("{s:b,s:s,s:s,s:s?}", "valid", inf->ok, "endpoint",
                                          inf->endpoint, "model_sha256", inf->model_sha256, "error",
                                          inf->ok ? NULL : inf->error));
            if (!inf->ok) json_object_set_new(o, "valid", json_false());
        }
        if (json_out) {
            *json_out = o;
            return;
        }
        cli_print_json(o);
        json_decref(o);
        return;
    }
    char addr[43];
    phx_eth_address_checksum(r->worker, addr);
    printf("worker      %s\n", addr);
    bool failed_shown = false;
    for (int i = 0; i < NSTEPS; i++) {
        if (flags[i]) {
            printf("ok          %s\n", names[i]);
        } else if (!failed_shown) {
            printf("FAIL        %s: %s\n", names[i], e->message);
            failed_shown = true;
        } else {
            printf("-           %s (not reached)\n", names[i]);
        }
    }
    if (rep->quote)
        printf("tcb status  %s (%s quote v%u)\n", rep->tcb_status, rep->tee, rep->quote_version);
    if (inf->present && inf->ok)
        printf("ok          inference receipt: endpoint %s, model sha256 %s\n", inf->endpoint,
               inf->model_sha256);
    else if (inf->present)
        printf("FAIL        inference receipt: %s\n", inf->error);
    printf("%s\n", err || (inf->present && !inf->ok) ? "INVALID" : "VALID");
}

/* Steps 1-8 for one result; prints them (or gives their JSON in *json_out).
 * operator_ (may be NULL) gets the signer's operator once it is known, tee
 * (may be NULL, 8 bytes) its quote's kind once verified. Exit code: 0 valid,
 * 1 invalid, 2 the chain could not be read. */
static int verify_one(const char *prefix, const phx_result_t *r, const phx_result_check_t *check,
                      const cli_trust_t *trust, const phx_buf_t *coll, bool as_json,
                      json_t **json_out, uint8_t operator_[20], char tee[8])
{
    phx_error_t e = {0};
    phx_result_report_t rep;
    memset(&rep, 0, sizeof rep);
    phx_err_t err = phx_result_verify_chain(r, check, &rep, &e);
    /* A chain we could not read is not a verdict on the result. */
    if (err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT) return cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    /* 8. An inference receipt in the signed output (phx.ai.chat): the
     * endpoint's signature over the exact bytes, its report's quote to the
     * same root (and collateral), the report data over its keys and model. */
    inference_t inf = {0};
    json_t *outj = NULL;
    if (!err && r->output.len &&
        !phx_json_parse((const char *)r->output.ptr, r->output.len, &outj, NULL)) {
        const json_t *rc_ = phx_infer_receipt_find(outj);
        if (rc_) {
            const json_t *rq = json_object_get(rc_, "request"),
                         *rs = json_object_get(rc_, "response");
            phx_infer_evidence_t ev = {.request = (const uint8_t *)json_string_value(rq),
                                       .request_len = json_string_length(rq),
                                       .response = (const uint8_t *)json_string_value(rs),
                                       .response_len = json_string_length(rs),
                                       .signature = rc_,
                                       .report = json_object_get(rc_, "report"),
                                       .collateral = coll->ptr,
                                       .collateral_len = coll->len,
                                       .now = check->now ? check->now
                                                         : (int64_t)(phx_now_ms() / 1000)};
            uint8_t rk[32];
            if (phx_infer_receipt_reply_key(rc_, rk)) ev.reply_key = rk;
            phx_attest_result_t ar;
            phx_error_t ie = {0};
            inf.present = true;
            phx_err_t ierr = phx_infer_verify(trust->verifier, &ev, &ar, &ie);
            /* The chain link: endpoint key -> registered with this model. */
            if (!ierr)
                ierr = phx_infer_check_registered(check->rpc, check->deployment, ev.report, false,
                                                  NULL, &ie);
            inf.ok = ierr == PHX_OK;
            snprintf(inf.error, sizeof inf.error, "%s", ie.message);
            const char *ep = json_string_value(json_object_get(rc_, "signing_address"));
            const char *ms =
                json_string_value(json_object_get(json_object_get(rc_, "report"), "model_sha256"));
            snprintf(inf.endpoint, sizeof inf.endpoint, "%s", ep ? ep : "?");
            snprintf(inf.model_sha256, sizeof inf.model_sha256, "%s", ms ? ms : "?");
        }
    }
    json_decref(outj);
    print_steps(r, &rep, err, &e, &inf, as_json, json_out);
    if (operator_ && rep.registered) memcpy(operator_, rep.operator_, 20);
    if (tee && rep.quote) memcpy(tee, rep.tee, sizeof rep.tee);
    return err || (inf.present && !inf.ok) ? PHX_EXIT_FAIL : PHX_EXIT_OK;
}

static bool zero20(const uint8_t a[20])
{
    uint8_t acc = 0;
    for (int i = 0; i < 20; i++)
        acc |= a[i];
    return acc == 0;
}

/* A k-signature result (`phx call --k N --json`: {"k":N,"results":[envelope,
 * ...]}): every envelope verified on its own, each shown, then the bundle:
 * k envelopes, one contract, code and verdict, the same output bytes, and k
 * distinct operators. */
static int verify_bundle(const char *prefix, const json_t *doc, const phx_result_check_t *check,
                         const cli_trust_t *trust, const phx_buf_t *coll, bool as_json)
{
    const json_t *list = json_object_get(doc, "results");
    json_int_t k = json_integer_value(json_object_get(doc, "k"));
    size_t n = json_array_size(list);
    if (n == 0 || n > 16 || k != (json_int_t)n)
        return cli_error(PHX_EXIT_USAGE, prefix,
                         "a k-signature result needs \"k\" and as many \"results\" (1..16)");
    phx_result_t rs[16];
    uint8_t ops[16][20];
    char tees[16][8];
    memset(ops, 0, sizeof ops);
    memset(tees, 0, sizeof tees);
    size_t parsed = 0;
    int rc = PHX_EXIT_OK;
    json_t *arr = as_json ? json_array() : NULL;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        phx_error_t e = {0};
        if (phx_result_from_json(json_array_get(list, i), &rs[i], &e)) {
            rc = e.code == PHX_ERR_VERIFY ? PHX_EXIT_FAIL : PHX_EXIT_USAGE;
            cli_error(rc, prefix, "result %zu of %zu: %s", i + 1, n, e.message);
            goto out;
        }
        parsed++;
        if (!as_json) printf("result %zu of %zu\n", i + 1, n);
        json_t *one = NULL;
        int r1 = verify_one(prefix, &rs[i], check, trust, coll, as_json, as_json ? &one : NULL,
                            ops[i], tees[i]);
        if (one) json_array_append_new(arr, one);
        if (r1 == PHX_EXIT_USAGE) {
            rc = r1;
            goto out;
        }
        if (r1) rc = PHX_EXIT_FAIL;
        if (i == 0) continue;
        if (memcmp(rs[i].contract_id, rs[0].contract_id, 32) ||
            memcmp(rs[i].code_hash, rs[0].code_hash, 32) || rs[i].ok != rs[0].ok ||
            rs[i].output.len != rs[0].output.len ||
            (rs[0].output.len && memcmp(rs[i].output.ptr, rs[0].output.ptr, rs[0].output.len)))
            why = why ? why : "the results do not agree (contract, code, verdict or output)";
        for (size_t j = 0; j < i; j++)
            if (!memcmp(rs[i].worker, rs[j].worker, 20) ||
                (!zero20(ops[i]) && !memcmp(ops[i], ops[j], 20)))
                why = why ? why : "two results are of one operator";
    }
    if (why) rc = PHX_EXIT_FAIL;
    /* The TEE kinds the signers' verified quotes cover (a request's minTeeKinds). */
    bool sgx = false, tdx = false;
    for (size_t i = 0; i < n; i++)
        sgx |= !strcmp(tees[i], "sgx"), tdx |= !strcmp(tees[i], "tdx");
    char kinds[16];
    snprintf(kinds, sizeof kinds, "%s%s%s", sgx ? "sgx" : "", sgx && tdx ? ", " : "",
             tdx ? "tdx" : "");
    if (as_json) {
        json_t *o = json_pack("{s:b,s:I,s:o,s:s?}", "valid", rc == PHX_EXIT_OK, "k", (json_int_t)n,
                              "results", arr, "error", why);
        arr = NULL;
        json_t *tk = json_array();
        if (sgx) json_array_append_new(tk, json_string("sgx"));
        if (tdx) json_array_append_new(tk, json_string("tdx"));
        json_object_set_new(o, "tee_kinds", tk);
        cli_print_json(o);
        json_decref(o);
    } else {
        if (why)
            printf("FAIL        %s\n", why);
        else
            printf("ok          %zu results agree, %zu distinct operators, TEE kinds: %s\n", n, n,
                   kinds);
        printf("%s (k=%zu)\n", rc == PHX_EXIT_OK ? "VALID" : "INVALID", n);
    }
out:
    json_decref(arr);
    for (size_t i = 0; i < parsed; i++)
        phx_result_free(&rs[i]);
    return rc;
}

static int cmd_verify(int argc, char **argv)
{
    const char *prefix = "phx verify";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum { RPC = CLI_TRUST_NOPTS, DEPL, ENDP, COLL, KCOLL, NOW, JSON, NOPTS };
    cli_opt_t opts[NOPTS] = {
        [RPC] = {.name = "rpc", .takes_value = true},
        [DEPL] = {.name = "deployment", .takes_value = true},
        [ENDP] = {.name = "endpoints", .takes_value = true},
        [COLL] = {.name = "collateral", .takes_value = true},
        [KCOLL] = {.name = "kms-collateral", .takes_value = true},
        [NOW] = {.name = "now", .takes_value = true},
        [JSON] = {.name = "json"},
    };
    cli_trust_opts(opts, true);
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    json_t *doc = NULL, *endpoints = NULL;
    phx_result_t r;
    bool have_result = false;
    phx_chain_deployment_t dep;
    phx_rpc_t *rpc = NULL;
    cli_trust_t trust = {0};
    phx_buf_t coll = PHX_BUF_INIT, kcoll = PHX_BUF_INIT, coll_sgx = PHX_BUF_INIT;
    phx_tee_t *sim = NULL;
    const char *sim_dir = opts[CLI_TRUST_SIMROOT].value;
    rc = PHX_EXIT_USAGE;

    if (args.npos != 1) {
        cli_error(rc, prefix, "takes one RESULT.json (see --help)");
        goto out;
    }
    bool bundle = false;
    if (!phx_json_load_file(args.pos[0], &doc, &e) &&
        json_is_array(json_object_get(doc, "results")))
        bundle = true;
    else if (e.code || phx_result_from_json(doc, &r, &e)) {
        /* A readable envelope whose shown output is not what was signed has
         * been tampered with: that is a verdict (1), not bad input (2). */
        rc = e.code == PHX_ERR_VERIFY ? PHX_EXIT_FAIL : PHX_EXIT_USAGE;
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    have_result = !bundle;

    /* Where the chain is: flags first, then the endpoints file the devnet writes. */
    const char *rpc_url = opts[RPC].value;
    char ep_path[1024];
    if ((!rpc_url || !opts[DEPL].value) &&
        endpoints_path(opts[ENDP].value, ep_path, sizeof ep_path) == 0 &&
        access(ep_path, R_OK) == 0 && phx_json_load_file(ep_path, &endpoints, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (!rpc_url) rpc_url = json_string_value(json_object_get(endpoints, "rpc"));
    if (!sim_dir) sim_dir = json_string_value(json_object_get(endpoints, "sim_dir"));
    json_t *dj = json_object_get(endpoints, "deployment");
    phx_err_t derr;
    if (opts[DEPL].value)
        derr = phx_chain_deployment_load(opts[DEPL].value, &dep, &e);
    else if (json_is_string(dj))
        derr = phx_chain_deployment_load(json_string_value(dj), &dep, &e);
    else if (json_is_object(dj))
        derr = phx_chain_deployment_from_json(dj, &dep, &e);
    else
        derr = phx_fail(&e, PHX_ERR_INVALID, "no --deployment and no endpoints file with one");
    if (derr || !rpc_url) {
        if (!derr) phx_fail(&e, PHX_ERR_INVALID, "no --rpc and no endpoints file with one");
        cli_error_e(rc, prefix, &e);
        goto out;
    }

    /* Which root we trust, and the collateral for the worker's quote. */
    if (cli_trust_open(prefix, sim_dir, opts[CLI_TRUST_POLICY].value, &trust)) goto out;
    if (opts[COLL].value) {
        if (phx_file_read(opts[COLL].value, &coll, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
    } else if (sim_dir) {
        phx_tee_config_t tc = {.sim_dir = sim_dir};
        /* The sim platform's TDX collateral, and its SGX one for an SGX worker. */
        if (phx_tee_open(PHX_TEE_SIM, &tc, &sim, &e) || phx_tee_sim_collateral(sim, &coll, &e) ||
            phx_tee_sim_read_collateral(sim_dir, PHX_QUOTE_TEE_SGX, &coll_sgx, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
    } else {
        cli_error(rc, prefix, "need --collateral for the worker's quote (or --trust-sim-root)");
        goto out;
    }
    if (opts[KCOLL].value && phx_file_read(opts[KCOLL].value, &kcoll, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (phx_rpc_open(rpc_url, NULL, &rpc, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }

    phx_result_check_t check = {.rpc = rpc,
                                .deployment = &dep,
                                .verifier = trust.verifier,
                                .policy = cli_trust_policy(&trust),
                                .collateral = coll.ptr,
                                .collateral_len = coll.len,
                                .collateral_sgx = coll_sgx.len ? coll_sgx.ptr : NULL,
                                .collateral_sgx_len = coll_sgx.len,
                                .kms_collateral = kcoll.len ? kcoll.ptr : NULL,
                                .kms_collateral_len = kcoll.len,
                                .now = opts[NOW].value ? strtoll(opts[NOW].value, NULL, 10) : 0};
    if (!bundle) {
        rc = verify_one(prefix, &r, &check, &trust, &coll, opts[JSON].seen, NULL, NULL, NULL);
        goto out;
    }
    rc = verify_bundle(prefix, doc, &check, &trust, &coll, opts[JSON].seen);
out:
    if (have_result) phx_result_free(&r);
    phx_tee_close(sim);
    phx_rpc_close(rpc);
    cli_trust_close(&trust);
    phx_buf_free(&coll);
    phx_buf_free(&coll_sgx);
    phx_buf_free(&kcoll);
    json_decref(doc);
    json_decref(endpoints);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(verify, "verify", 420,
                "check a result's whole chain of trust (exit 0 valid, 1 invalid)", cmd_verify)
