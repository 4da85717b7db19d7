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
    "Options:\n"
    "  --rpc URL            chain node (else \"rpc\" from the endpoints file)\n"
    "  --deployment FILE    contract addresses (else \"deployment\" from the endpoints file)\n"
    "  --endpoints FILE     default $PHX_HOME/endpoints.json, else ~/.phx/devnet/endpoints.json:\n"
    "                       {\"rpc\":URL,\"deployment\":FILE or object,\"sim_dir\":DIR}\n"
    "  --collateral FILE    collateral for the worker's quote (dcap-qvl JSON)\n"
    "  --kms-collateral FILE  collateral for the KMS's admission quote (default: the\n"
    "                       worker's collateral)\n"
    "  --trust-sim-root DIR trust the sim TEE platform in DIR (development networks);\n"
    "                       its collateral is used when --collateral is absent\n"
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
                        const phx_error_t *e, const inference_t *inf, bool as_json)
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
        if (rep->quote) json_object_set_new(o, "tcb_status", json_string(rep->tcb_status));
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
    if (rep->quote) printf("tcb status  %s\n", rep->tcb_status);
    if (inf->present && inf->ok)
        printf("ok          inference receipt: endpoint %s, model sha256 %s\n", inf->endpoint,
               inf->model_sha256);
    else if (inf->present)
        printf("FAIL        inference receipt: %s\n", inf->error);
    printf("%s\n", err || (inf->present && !inf->ok) ? "INVALID" : "VALID");
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
    phx_buf_t coll = PHX_BUF_INIT, kcoll = PHX_BUF_INIT;
    phx_tee_t *sim = NULL;
    const char *sim_dir = opts[CLI_TRUST_SIMROOT].value;
    rc = PHX_EXIT_USAGE;

    if (args.npos != 1) {
        cli_error(rc, prefix, "takes one RESULT.json (see --help)");
        goto out;
    }
    if (phx_json_load_file(args.pos[0], &doc, &e) || phx_result_from_json(doc, &r, &e)) {
        /* A readable envelope whose shown output is not what was signed has
         * been tampered with: that is a verdict (1), not bad input (2). */
        rc = e.code == PHX_ERR_VERIFY ? PHX_EXIT_FAIL : PHX_EXIT_USAGE;
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    have_result = true;

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
        if (phx_tee_open(PHX_TEE_SIM, &tc, &sim, &e) || phx_tee_sim_collateral(sim, &coll, &e)) {
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
                                .kms_collateral = kcoll.len ? kcoll.ptr : NULL,
                                .kms_collateral_len = kcoll.len,
                                .now = opts[NOW].value ? strtoll(opts[NOW].value, NULL, 10) : 0};
    phx_result_report_t rep;
    memset(&e, 0, sizeof e);
    phx_err_t err = phx_result_verify_chain(&r, &check, &rep, &e);
    /* A chain we could not read is not a verdict on the result. */
    if (err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT) {
        cli_error_e(PHX_EXIT_USAGE, prefix, &e);
        rc = PHX_EXIT_USAGE;
        goto out;
    }
    /* 8. An inference receipt in the signed output (phx.ai.chat): the
     * endpoint's signature over the exact bytes, its report's quote to the
     * same root (and collateral), the report data over its keys and model. */
    inference_t inf = {0};
    json_t *outj = NULL;
    if (!err && r.output.len &&
        !phx_json_parse((const char *)r.output.ptr, r.output.len, &outj, NULL)) {
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
                                       .collateral = coll.ptr,
                                       .collateral_len = coll.len,
                                       .now =
                                           check.now ? check.now : (int64_t)(phx_now_ms() / 1000)};
            phx_attest_result_t ar;
            phx_error_t ie = {0};
            inf.present = true;
            phx_err_t ierr = phx_infer_verify(trust.verifier, &ev, &ar, &ie);
            /* The chain link: endpoint key -> registered with this model. */
            if (!ierr) ierr = phx_infer_check_registered(rpc, &dep, ev.report, false, NULL, &ie);
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
    print_steps(&r, &rep, err, &e, &inf, opts[JSON].seen);
    rc = err || (inf.present && !inf.ok) ? PHX_EXIT_FAIL : PHX_EXIT_OK;
out:
    if (have_result) phx_result_free(&r);
    phx_tee_close(sim);
    phx_rpc_close(rpc);
    cli_trust_close(&trust);
    phx_buf_free(&coll);
    phx_buf_free(&kcoll);
    json_decref(doc);
    json_decref(endpoints);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(verify, "verify", 420,
                "check a result's whole chain of trust (exit 0 valid, 1 invalid)", cmd_verify)
