/* phx infer: serve a GGUF model as an attested, OpenAI-compatible endpoint
 * (src/infer) until SIGINT/SIGTERM. Prints one ready line (or JSON). Built
 * only when llama.cpp is (src/infer/CMakeLists.txt). */
#ifdef PHX_HAVE_INFER
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_onchain.h"
#include "phx/crypto.h"
#include "phx/infer.h"
#include "phx/tee.h"

static const char help[] =
    "usage: phx infer --model FILE.gguf [options]\n"
    "       phx infer --upstream URL --model-name NAME (--model-file FILE | --model-hash HEX)\n"
    "                 [options]\n\n"
    "Serve a model from inside the TEE: an OpenAI-compatible endpoint whose every\n"
    "answer is signed with keys made in the TEE, and whose attestation report binds\n"
    "those keys, the SHA-256 of the model file and the client's nonce. The engine\n"
    "is llama.cpp (CPU). docs/infer.md.\n\n"
    "Routes:\n"
    "  POST /v1/chat/completions     OpenAI chat (\"stream\": true for server-sent events)\n"
    "  POST /v1/completions          OpenAI text completion (streaming too)\n"
    "  GET  /v1/models               the one model served, with its sha256\n"
    "  GET  /v1/attestation/report   ?nonce=HEX32&signing_algo=ecdsa|ed25519 (vllm-proxy)\n"
    "  GET  /v1/signature/ID         ?signing_algo=ecdsa|ed25519: the signed\n"
    "                                sha256(request body):sha256(response body)\n\n"
    "Options:\n"
    "  --model FILE.gguf        the model (required, unless --upstream)\n"
    "  --model-name NAME        the name clients ask for (default: the file's name\n"
    "                           without .gguf)\n"
    "  --listen HOST:PORT       where to serve (default 127.0.0.1:8900; port 0 = any free)\n"
    "  --tee sim|tdx|sgx        TEE backend (default sim)\n"
    "  --sim-dir DIR            the sim platform directory (default $PHX_HOME/sim)\n"
    "  --production             refuse the sim TEE\n"
    "  --ctx N                  tokens per request, prompt and answer (default 2048)\n"
    "  --slots N                requests generating at once; more get 429 (default 4)\n"
    "  --max-tokens N           cap on tokens generated per request (default 512);\n"
    "                           a request asking for more gets 400\n"
    "  --threads N              CPU threads for llama.cpp (default 2)\n"
    "  --json                   print the ready line as JSON\n\n"
    "Proxy mode (a GPU engine in the same TEE):\n"
    "  --upstream URL           serve the same API by forwarding to the OpenAI-compatible\n"
    "                           engine at URL (vLLM, llama.cpp's server, Ollama, another\n"
    "                           phx infer) instead of loading a model. Every answer is\n"
    "                           still made, sealed and signed here; an engine that is\n"
    "                           down is a 502 OpenAI error. --slots and --max-tokens\n"
    "                           apply; --ctx is only advertised in /v1/models.\n"
    "  --upstream-model NAME    the name the upstream serves (default --model-name)\n"
    "  --model-file FILE        the weights the upstream loaded: their SHA-256 is the\n"
    "                           model hash the attestation binds\n"
    "  --model-hash HEX         that SHA-256 given directly. The proxy cannot see the\n"
    "                           weights the upstream loaded: the hash is the operator's\n"
    "                           claim, worth what the TEE's measurement of the upstream\n"
    "                           and its model volume is worth (docs/infer.md)\n\n"
    "On chain (contracts/InferenceRegistry.sol):\n"
    "  --register               once serving, register this endpoint in the deployment's\n"
    "                           InferenceRegistry as the key's operator (its keys, model\n"
    "                           name and SHA-256, URL and a quote made for the chain's\n"
    "                           registration nonce), before the ready line; deregister\n"
    "                           it on a clean stop. Workers then route phx.ai.chat for\n"
    "                           the model here from the chain\n"
    "  --public-url URL         the URL registered (default: the listening URL)\n" ONCHAIN_OPTS_HELP
    "\n"
    "phx infer register --url URL registers a running endpoint instead, phx infer\n"
    "deregister ADDRESS takes one off, and phx infer verify checks a saved answer\n"
    "(each with --help).\n\n"
    "Prompts and answers are never logged or written to disk. The signing keys live\n"
    "in memory only: a restart makes new ones, so clients fetch a fresh report.\n\n"
    "Exit status: 0 after a clean stop, 1 when the endpoint cannot start (a model\n"
    "llama.cpp cannot load, a TEE that cannot open), 2 bad usage.\n";

static const char verify_help[] =
    "usage: phx infer verify --request FILE --response FILE --signature FILE --report FILE\n"
    "                        --collateral FILE [--trust-sim-root DIR] [--model FILE.gguf |\n"
    "                        --model-sha256 HEX] [--nonce HEX] [--now UNIX] [--json]\n"
    "                        [--rpc URL --deployment FILE | --endpoints FILE]\n"
    "       phx infer verify --receipt FILE [--collateral FILE] [--trust-sim-root DIR] ...\n\n"
    "Check a saved answer of a phx infer endpoint, link by link:\n"
    "  1. the signed text is sha256(request):sha256(response) of the two files (the\n"
    "     exact bytes sent and received);\n"
    "  2. the signature (ECDSA or Ed25519, as GET /v1/signature/ID returned it) is\n"
    "     the key in the attestation report (GET /v1/attestation/report);\n"
    "  3. the report's quote verifies against the collateral to Intel's root, or to\n"
    "     the sim TEE's root in DIR with --trust-sim-root (development only);\n"
    "  4. the quote's report data binds the report's keys, model hash and nonce;\n"
    "  5. the model is the one expected (--model hashes the file) and the report\n"
    "     answers the nonce the client sent (--nonce), when given.\n\n"
    "--receipt FILE takes all four from a receipt as phx.ai.chat returns it\n"
    "({request, response, text, signature, signing_algo, report, ...}): the file is\n"
    "the receipt or any JSON holding one, such as a contract's result (the first\n"
    "found, depth first). With --trust-sim-root and no --collateral, the sim\n"
    "platform's own collateral is used. A receipt of a sealed exchange (phx.ai.chat\n"
    "seals every request to the endpoint's attested key) holds the sealed bytes\n"
    "that were signed and the reply key that opens the answer: link 1 also checks\n"
    "that the answer opens with it.\n\n"
    "With --rpc URL and --deployment FILE (or --endpoints FILE, a devnet's\n"
    "endpoints.json), one more link, checked after the others:\n"
    "  6. registered on chain: the report's signing key is in the deployment's\n"
    "     InferenceRegistry, not invalidated by governance, with the report's\n"
    "     Ed25519 and X25519 keys and model hash, the measurement its quote shows,\n"
    "     and governance still allows that measurement.\n\n"
    "Exit status: 0 every link holds, 1 a link failed (printed), 2 unreadable input.\n";

static const char register_help[] =
    "usage: phx infer register --url URL [--deployment FILE] [--rpc URL] [--key-file FILE]\n"
    "                          [--json]\n\n"
    "Register the phx infer endpoint serving at URL in the deployment's\n"
    "InferenceRegistry, as the key's operator: its model name (GET URL/v1/models),\n"
    "the chain's registration nonce for (operator, model, URL), the endpoint's\n"
    "report for that nonce, whose quote binds its keys, the model's SHA-256 and the\n"
    "nonce, then registerEndpoint. The chain checks the binding and that the\n"
    "quote's measurement is one governance allows; clients verify the quote itself.\n\n"
    "Options:\n"
    "  --url URL          the endpoint's base URL, as clients reach it\n" ONCHAIN_OPTS_HELP
    "\nExit status: 0 registered, 1 refused (printed: a revert by name, an endpoint\n"
    "that cannot be reached), 2 bad usage.\n";

static const char deregister_help[] =
    "usage: phx infer deregister ADDRESS [--deployment FILE] [--rpc URL] [--key-file FILE]\n"
    "                            [--json]\n\n"
    "Take the endpoint with signing address ADDRESS off the InferenceRegistry (its\n"
    "operator's or its own key). Receipts it signed still verify; workers no longer\n"
    "route to it.\n\nOptions:\n" ONCHAIN_OPTS_HELP
    "\nExit status: 0 deregistered, 1 refused (printed), 2 bad usage.\n";

#define REGISTER_TIMEOUT_MS 30000

static int cmd_infer_register(int argc, char **argv)
{
    const char *prefix = "phx infer register";
    if (cli_wants_help(argc, argv)) return cli_help(register_help);
    enum { URL = OC_NOPTS, NOPTS };
    cli_opt_t opts[NOPTS] = {ONCHAIN_OPTS, [URL] = {.name = "url", .takes_value = true}};
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    onchain_t c;
    memset(&c, 0, sizeof c);
    phx_error_t e = {0};
    uint8_t signer[20];
    rc = PHX_EXIT_USAGE;
    if (args.npos || !opts[URL].value) {
        cli_error(rc, prefix, "needs --url URL and no other arguments (see --help)");
        goto out;
    }
    if (strncmp(opts[URL].value, "http://", 7) && strncmp(opts[URL].value, "https://", 8)) {
        cli_error(rc, prefix, "--url wants http(s)://HOST:PORT, got '%s'", opts[URL].value);
        goto out;
    }
    if ((rc = onchain_open(prefix, opts, true, &c))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_infer_register(c.rpc, c.signer, &c.dep, opts[URL].value, REGISTER_TIMEOUT_MS, signer,
                           &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    char checksum[43];
    phx_eth_address_checksum(signer, checksum);
    if (opts[OC_JSON].seen) {
        json_t *o = json_pack("{s:s,s:s,s:o}", "endpoint", checksum, "url", opts[URL].value,
                              "operator", phx_json_hex(c.me, 20));
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("registered endpoint %s at %s\n", checksum, opts[URL].value);
    }
    rc = PHX_EXIT_OK;
out:
    onchain_close(&c);
    cli_opts_free(opts, NOPTS);
    return rc;
}

static int cmd_infer_deregister(int argc, char **argv)
{
    const char *prefix = "phx infer deregister";
    if (cli_wants_help(argc, argv)) return cli_help(deregister_help);
    cli_opt_t opts[OC_NOPTS] = {ONCHAIN_OPTS};
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, OC_NOPTS, &args);
    if (rc) return rc;
    onchain_t c;
    memset(&c, 0, sizeof c);
    phx_error_t e = {0};
    uint8_t signer[20];
    rc = PHX_EXIT_USAGE;
    if (args.npos != 1 || phx_evm_address_parse(args.pos[0], signer, &e)) {
        cli_error(rc, prefix, "needs one endpoint ADDRESS (see --help)");
        goto out;
    }
    if ((rc = onchain_open(prefix, opts, true, &c))) goto out;
    rc = PHX_EXIT_FAIL;
    if (phx_chain_deregister_endpoint(c.rpc, c.signer, &c.dep, signer, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (opts[OC_JSON].seen) {
        json_t *o = json_pack("{s:s,s:b}", "endpoint", args.pos[0], "deregistered", 1);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("deregistered endpoint %s\n", args.pos[0]);
    }
    rc = PHX_EXIT_OK;
out:
    onchain_close(&c);
    cli_opts_free(opts, OC_NOPTS);
    return rc;
}

static int read_json_file(const char *prefix, const char *path, json_t **out)
{
    phx_error_t e = {0};
    if (phx_json_load_file(path, out, &e)) return cli_error_e(PHX_EXIT_USAGE, prefix, &e);
    return 0;
}

static int cmd_infer_verify(int argc, char **argv)
{
    const char *prefix = "phx infer verify";
    if (cli_wants_help(argc, argv)) return cli_help(verify_help);
    enum {
        REQ = CLI_TRUST_NOPTS,
        RESP,
        SIG,
        REP,
        COLL,
        MODEL,
        MSHA,
        NONCE,
        NOW,
        JSON,
        RECEIPT,
        RPC,
        DEPL,
        ENDP,
        NOPTS
    };
    cli_opt_t opts[NOPTS] = {
        [REQ] = {.name = "request", .takes_value = true},
        [RESP] = {.name = "response", .takes_value = true},
        [SIG] = {.name = "signature", .takes_value = true},
        [REP] = {.name = "report", .takes_value = true},
        [COLL] = {.name = "collateral", .takes_value = true},
        [MODEL] = {.name = "model", .takes_value = true},
        [MSHA] = {.name = "model-sha256", .takes_value = true},
        [NONCE] = {.name = "nonce", .takes_value = true},
        [NOW] = {.name = "now", .takes_value = true},
        [JSON] = {.name = "json"},
        [RECEIPT] = {.name = "receipt", .takes_value = true},
        [RPC] = {.name = "rpc", .takes_value = true},
        [DEPL] = {.name = "deployment", .takes_value = true},
        [ENDP] = {.name = "endpoints", .takes_value = true},
    };
    cli_trust_opts(opts, false);
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    phx_buf_t req = PHX_BUF_INIT, resp = PHX_BUF_INIT, coll = PHX_BUF_INIT, model = PHX_BUF_INIT;
    json_t *sig = NULL, *rep = NULL;
    cli_trust_t trust = {0};
    uint8_t msha[32], nonce[32], reply_key[32];
    phx_infer_evidence_t ev = {0};
    rc = PHX_EXIT_USAGE;
    json_t *receipt_doc = NULL, *endpoints = NULL;
    phx_tee_t *sim = NULL;
    phx_rpc_t *rpc = NULL;
    phx_chain_deployment_t dep;
    if (opts[ENDP].value && (opts[RPC].value || opts[DEPL].value)) {
        cli_error(rc, prefix, "--endpoints replaces --rpc and --deployment");
        goto out;
    }
    if (!opts[ENDP].value && (!opts[RPC].value) != (!opts[DEPL].value)) {
        cli_error(rc, prefix, "--rpc and --deployment go together");
        goto out;
    }
    if (opts[RECEIPT].value) {
        if (args.npos || opts[REQ].value || opts[RESP].value || opts[SIG].value ||
            opts[REP].value) {
            cli_error(rc, prefix,
                      "--receipt replaces --request, --response, --signature, --report");
            goto out;
        }
        if (read_json_file(prefix, opts[RECEIPT].value, &receipt_doc)) goto out;
        const json_t *r = phx_infer_receipt_find(receipt_doc);
        if (!r) {
            cli_error(rc, prefix, "%s: no receipt in it ({request, response, signature, report})",
                      opts[RECEIPT].value);
            goto out;
        }
        const char *rq = json_string_value(json_object_get(r, "request"));
        const char *rs = json_string_value(json_object_get(r, "response"));
        phx_buf_append(&req, rq, json_string_length(json_object_get(r, "request")));
        phx_buf_append(&resp, rs, json_string_length(json_object_get(r, "response")));
        sig = json_incref((json_t *)r);
        rep = json_incref(json_object_get(r, "report"));
        if (phx_infer_receipt_reply_key(r, reply_key)) ev.reply_key = reply_key;
        if (!opts[COLL].value && opts[CLI_TRUST_SIMROOT].value) {
            phx_tee_config_t tc = {.sim_dir = opts[CLI_TRUST_SIMROOT].value};
            if (phx_tee_open(PHX_TEE_SIM, &tc, &sim, &e) ||
                phx_tee_sim_collateral(sim, &coll, &e)) {
                cli_error_e(rc, prefix, &e);
                goto out;
            }
        } else if (!opts[COLL].value) {
            cli_error(rc, prefix, "needs --collateral (or --trust-sim-root DIR)");
            goto out;
        } else if (phx_file_read(opts[COLL].value, &coll, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
    } else if (args.npos || !opts[REQ].value || !opts[RESP].value || !opts[SIG].value ||
               !opts[REP].value || !opts[COLL].value) {
        cli_error(
            rc, prefix,
            "needs --request, --response, --signature, --report and --collateral (see --help)");
        goto out;
    }
    if (!opts[RECEIPT].value) {
        if (phx_file_read(opts[REQ].value, &req, &e) ||
            phx_file_read(opts[RESP].value, &resp, &e) ||
            phx_file_read(opts[COLL].value, &coll, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        if ((rc = read_json_file(prefix, opts[SIG].value, &sig)) ||
            (rc = read_json_file(prefix, opts[REP].value, &rep))) {
            rc = PHX_EXIT_USAGE;
            goto out;
        }
    }
    rc = PHX_EXIT_USAGE;
    if (opts[MODEL].value) {
        if (phx_file_read(opts[MODEL].value, &model, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        phx_sha256(model.ptr, model.len, msha);
        ev.model_sha256 = msha;
    } else if (opts[MSHA].value) {
        if (phx_hex_decode_fixed(opts[MSHA].value, msha, 32, &e)) {
            cli_error(rc, prefix, "--model-sha256: %s", e.message);
            goto out;
        }
        ev.model_sha256 = msha;
    }
    if (opts[NONCE].value) {
        if (phx_hex_decode_fixed(opts[NONCE].value, nonce, 32, &e)) {
            cli_error(rc, prefix, "--nonce: %s", e.message);
            goto out;
        }
        ev.nonce = nonce;
    }
    /* The chain link: --rpc with --deployment, or a devnet's endpoints file. */
    if (opts[ENDP].value || opts[RPC].value) {
        const char *url = opts[RPC].value;
        phx_err_t derr;
        if (opts[ENDP].value) {
            derr = phx_json_load_file(opts[ENDP].value, &endpoints, &e);
            if (!derr)
                derr = phx_chain_deployment_from_json(json_object_get(endpoints, "deployment"),
                                                      &dep, &e);
            url = json_string_value(json_object_get(endpoints, "rpc"));
            if (!derr && !url) derr = phx_fail(&e, PHX_ERR_INVALID, "no \"rpc\" in it");
            if (derr) phx_error_wrap(&e, derr, "%s", opts[ENDP].value);
        } else {
            derr = phx_chain_deployment_load(opts[DEPL].value, &dep, &e);
        }
        if (!derr && !phx_chain_has_inference_registry(&dep))
            derr = phx_fail(&e, PHX_ERR_INVALID, "the deployment has no InferenceRegistry");
        if (derr || phx_rpc_open(url, NULL, &rpc, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
    }
    if (cli_trust_open(prefix, opts[CLI_TRUST_SIMROOT].value, NULL, &trust)) goto out;
    ev.request = req.ptr;
    ev.request_len = req.len;
    ev.response = resp.ptr;
    ev.response_len = resp.len;
    ev.signature = sig;
    ev.report = rep;
    ev.collateral = coll.ptr;
    ev.collateral_len = coll.len;
    ev.now = opts[NOW].value ? strtoll(opts[NOW].value, NULL, 10) : (int64_t)(phx_now_ms() / 1000);
    phx_attest_result_t ar;
    phx_err_t err = phx_infer_verify(trust.verifier, &ev, &ar, &e);
    /* 6. The endpoint was registered on chain with these keys and this model. */
    if (!err && rpc) err = phx_infer_check_registered(rpc, &dep, rep, false, NULL, &e);
    if (err == PHX_ERR_INVALID || err == PHX_ERR_TRUNCATED) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (err == PHX_ERR_IO || err == PHX_ERR_TIMEOUT) { /* no verdict: the chain is unreachable */
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    rc = err ? PHX_EXIT_FAIL : PHX_EXIT_OK;
    if (opts[JSON].seen) {
        json_t *o = json_pack("{s:b,s:s?}", "ok", !err, "error", err ? e.message : NULL);
        cli_print_json(o);
        json_decref(o);
    } else if (err) {
        fprintf(stderr, "%s: FAILED: %s\n", prefix, e.message);
    } else {
        printf("ok: signed by the attested endpoint%s%s%s\n",
               ev.model_sha256 ? ", the expected model" : "", ev.nonce ? ", fresh nonce" : "",
               rpc ? ", registered on chain" : "");
    }
out:
    phx_rpc_close(rpc);
    json_decref(endpoints);
    cli_trust_close(&trust);
    phx_tee_close(sim);
    json_decref(receipt_doc);
    json_decref(sig);
    json_decref(rep);
    phx_buf_free(&req);
    phx_buf_free(&resp);
    phx_buf_free(&coll);
    phx_buf_free(&model);
    cli_opts_free(opts, NOPTS);
    return rc;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = (unsigned)v;
    return 0;
}

static int cmd_infer(int argc, char **argv)
{
    const char *prefix = "phx infer";
    if (argc >= 2 && strcmp(argv[1], "verify") == 0) return cmd_infer_verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "register") == 0)
        return cmd_infer_register(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "deregister") == 0)
        return cmd_infer_deregister(argc - 1, argv + 1);
    if (cli_wants_help(argc, argv)) return cli_help(help);
    enum {
        JSON = OC_JSON,
        MODEL = OC_NOPTS,
        NAME,
        LISTEN,
        TEE,
        SIMDIR,
        PROD,
        CTX,
        SLOTS,
        MAXTOK,
        THREADS,
        UPSTREAM,
        UPMODEL,
        MHASH,
        MFILE,
        REGISTER,
        PUBURL,
        NOPTS
    };
    cli_opt_t opts[NOPTS] = {
        ONCHAIN_OPTS,
        [MODEL] = {.name = "model", .takes_value = true},
        [NAME] = {.name = "model-name", .takes_value = true},
        [LISTEN] = {.name = "listen", .takes_value = true},
        [TEE] = {.name = "tee", .takes_value = true},
        [SIMDIR] = {.name = "sim-dir", .takes_value = true},
        [PROD] = {.name = "production"},
        [CTX] = {.name = "ctx", .takes_value = true},
        [SLOTS] = {.name = "slots", .takes_value = true},
        [MAXTOK] = {.name = "max-tokens", .takes_value = true},
        [THREADS] = {.name = "threads", .takes_value = true},
        [UPSTREAM] = {.name = "upstream", .takes_value = true},
        [UPMODEL] = {.name = "upstream-model", .takes_value = true},
        [MHASH] = {.name = "model-hash", .takes_value = true},
        [MFILE] = {.name = "model-file", .takes_value = true},
        [REGISTER] = {.name = "register"},
        [PUBURL] = {.name = "public-url", .takes_value = true},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    phx_error_t e = {0};
    char host[256] = "127.0.0.1";
    uint16_t port = 8900;
    phx_tee_config_t tc = {0};
    phx_infer_opts_t o = {0};
    phx_infer_t *d = NULL;
    json_t *ready = NULL;
    onchain_t chain;
    memset(&chain, 0, sizeof chain);
    bool registered = false;
    uint8_t signer[20];
    rc = PHX_EXIT_USAGE;
    if (!opts[REGISTER].seen && (opts[OC_DEPL].value || opts[OC_RPC].value ||
                                 opts[OC_KEYFILE].value || opts[PUBURL].value)) {
        cli_error(rc, prefix,
                  "--deployment, --rpc, --key-file and --public-url go with --register");
        goto out;
    }
    if (opts[PUBURL].value && strncmp(opts[PUBURL].value, "http://", 7) &&
        strncmp(opts[PUBURL].value, "https://", 8)) {
        cli_error(rc, prefix, "--public-url wants http(s)://HOST:PORT, got '%s'",
                  opts[PUBURL].value);
        goto out;
    }
    if (opts[REGISTER].seen && (rc = onchain_open(prefix, opts, true, &chain))) goto out;
    rc = PHX_EXIT_USAGE;
    if (args.npos) {
        cli_error(rc, prefix, "takes no arguments (see --help)");
        goto out;
    }
    uint8_t mhash[32];
    if (opts[UPSTREAM].value) {
        if (opts[MODEL].value) {
            cli_error(rc, prefix,
                      "--upstream serves another engine's model: use --model-file or "
                      "--model-hash, not --model");
            goto out;
        }
        if (!opts[NAME].value || !!opts[MHASH].value == !!opts[MFILE].value) {
            cli_error(rc, prefix,
                      "--upstream needs --model-name and one of --model-hash HEX or "
                      "--model-file FILE (the weights the upstream serves)");
            goto out;
        }
        if (opts[MHASH].value && phx_hex_decode_fixed(opts[MHASH].value, mhash, 32, &e)) {
            cli_error(rc, prefix, "--model-hash wants 32 bytes of hex: %s", e.message);
            goto out;
        }
        if (strncmp(opts[UPSTREAM].value, "http://", 7) &&
            strncmp(opts[UPSTREAM].value, "https://", 8)) {
            cli_error(rc, prefix, "--upstream wants http(s)://HOST:PORT, got '%s'",
                      opts[UPSTREAM].value);
            goto out;
        }
        o.upstream = opts[UPSTREAM].value;
        o.upstream_model = opts[UPMODEL].value;
        o.model_sha256 = opts[MHASH].value ? mhash : NULL;
        o.model_path = opts[MFILE].value;
    } else if (opts[UPMODEL].value || opts[MHASH].value || opts[MFILE].value) {
        cli_error(rc, prefix, "--upstream-model, --model-hash and --model-file go with --upstream");
        goto out;
    } else if (!opts[MODEL].value) {
        cli_error(rc, prefix, "needs --model FILE.gguf (or --upstream URL)");
        goto out;
    } else {
        o.model_path = opts[MODEL].value;
    }
    if (opts[LISTEN].value && cli_parse_hostport(opts[LISTEN].value, host, sizeof host, &port)) {
        cli_error(rc, prefix, "--listen wants HOST:PORT, got '%s'", opts[LISTEN].value);
        goto out;
    }
    o.tee = PHX_TEE_SIM;
    if (opts[TEE].value && phx_tee_kind_parse(opts[TEE].value, &o.tee, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    struct {
        int i;
        unsigned lo, hi;
        unsigned *dst;
    } nums[] = {
        {CTX, 64, 131072, &o.engine.n_ctx},
        {SLOTS, 1, 64, &o.engine.n_slots},
        {MAXTOK, 1, 131072, &o.engine.max_tokens},
        {THREADS, 1, 256, &o.engine.n_threads},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        const char *v = opts[nums[i].i].value;
        if (v && parse_uint(v, nums[i].lo, nums[i].hi, nums[i].dst)) {
            cli_error(rc, prefix, "--%s wants a number from %u to %u, got '%s'",
                      opts[nums[i].i].name, nums[i].lo, nums[i].hi, v);
            goto out;
        }
    }
    tc.sim_dir = opts[SIMDIR].value;
    tc.production = opts[PROD].seen;
    o.model_name = opts[NAME].value;
    o.host = host;
    o.port = port;
    o.tee_config = &tc;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    phx_log_set_component("infer");
    rc = PHX_EXIT_FAIL;
    if (phx_infer_start(&o, &d, &e)) {
        cli_error_e(rc, prefix, &e);
        goto out;
    }
    if (opts[REGISTER].seen) {
        const char *url = opts[PUBURL].value ? opts[PUBURL].value : phx_infer_url(d);
        if (phx_infer_register(chain.rpc, chain.signer, &chain.dep, url, REGISTER_TIMEOUT_MS,
                               signer, &e)) {
            cli_error_e(rc, prefix, &e);
            goto out;
        }
        registered = true;
        PHX_INFO("infer: registered on chain at %s", url);
    }
    const char *name;
    uint8_t sha[32], addr[20], ed[32];
    phx_infer_identity(d, &name, sha, addr, ed);
    char checksum[43];
    phx_eth_address_checksum(addr, checksum);
    ready =
        json_pack("{s:s,s:s,s:o,s:s,s:o,s:s,s:i}", "url", phx_infer_url(d), "model", name,
                  "model_sha256", phx_json_hex(sha, 32), "address", checksum, "ed25519_public_key",
                  phx_json_hex(ed, 32), "tee", phx_tee_kind_name(o.tee), "pid", (int)getpid());
    if (ready && registered)
        json_object_set_new(ready, "registry", phx_json_hex(chain.dep.inference_registry, 20));
    if (opts[JSON].seen) {
        cli_print_json(ready);
    } else {
        printf("infer listening on %s\nmodel %s sha256 ", phx_infer_url(d), name);
        for (int i = 0; i < 32; i++)
            printf("%02x", sha[i]);
        printf("\nsigning address %s\n", checksum);
    }
    fflush(stdout);
    PHX_INFO("infer: serving %s on %s", name, phx_infer_url(d));
    int sig = 0;
    sigwait(&sigs, &sig);
    PHX_INFO("infer: signal %d, stopping", sig);
    /* Its keys die with the process: clients should stop routing here. */
    if (registered &&
        phx_chain_deregister_endpoint(chain.rpc, chain.signer, &chain.dep, signer, &e))
        PHX_WARN("infer: deregistering: %s", e.message);
    phx_infer_stop(d, 5000);
    d = NULL;
    rc = PHX_EXIT_OK;
out:
    phx_infer_stop(d, 0);
    onchain_close(&chain);
    json_decref(ready);
    cli_opts_free(opts, NOPTS);
    return rc;
}

PHX_CLI_COMMAND(infer, "infer", 340, "serve a model: attested, signed OpenAI-compatible inference",
                cmd_infer)
#else
/* Without llama.cpp this build has no infer verb (ISO C wants something here). */
typedef int phx_cmd_infer_unavailable_t;
#endif
