/* phx request: an on-chain request from the CLI (Jobs.request from the user's
 * key), followed to its fulfilment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_net.h"
#include "phx/chain.h"
#include "phx/chain_requests.h"
#include "phx/crypto.h"
#include "phx/worker.h"

static const char request_help[] =
    "usage: phx request ID --fee WEI [--input TEXT|0xHEX] [--encrypt] [options]\n\n"
    "Ask for a run of the contract ID on chain, as a dApp does: approve Jobs for\n"
    "the fee in PHA and call Jobs.request(ID, input, fee, callbackGas, k,\n"
    "minTeeKinds) from\n"
    "--key-file (default: the devnet's user key), then follow the request until a\n"
    "worker fulfils it and print the output Jobs recorded. The requester here is\n"
    "your account, which has no callback to call; a consumer contract gets the\n"
    "same output through phxCallback. The chain comes from the devnet's endpoints\n"
    "file.\n\n"
    "Options:\n"
    "  --fee WEI           the most you pay, in wei of PHA (k times the fee per worker)\n"
    "  --k N               signatures from N workers of distinct operators (default 1)\n"
    "  --min-tee-kinds M   those N workers run on at least M distinct TEE kinds (SGX,\n"
    "                      TDX; default 1, at most N). Jobs refuses at once, naming\n"
    "                      NotEnoughOperators or NotEnoughTeeKinds, when the workers\n"
    "                      eligible now cannot meet N and M; nothing is escrowed\n"
    "  --input TEXT|0xHEX  the request input: 0x hex is sent as those bytes, anything\n"
    "                      else as its text (JSON text reaches the contract as JSON)\n"
    "  --encrypt           seal the input (HPKE) to the contract's KMS-signed key; only\n"
    "                      a worker's TEE opens it, so the chain, its logs and the\n"
    "                      calldata carry ciphertext only. The output is public on\n"
    "                      chain as always\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --callback-gas N    the callback's gas limit (default 300000)\n"
    "  --timeout-s N       how long to wait for the fulfilment (default 120)\n"
    "  --no-wait           print the request id once it is on chain and stop\n"
    "  --key-file FILE     the requester's secp256k1 key, hex\n"
    "  --json              print {\"request_id\",\"tx\",\"status\",\"ok\",\"output\",\n"
    "                      \"callback_ok\",\"k\",\"results\"}: results are the k signed\n"
    "                      results of the fulfilment, rebuilt from the chain alone (its\n"
    "                      transaction's signatures), so that `phx verify` of this\n"
    "                      output checks every signer to its root (--help there)\n\n"
    "The output is printed as the worker signed it: JSON text as it is, other\n"
    "bytes as 0x hex. When the contract failed (threw, did not compile, ran out\n"
    "of time) the request is still fulfilled, with ok false and the error as\n"
    "its output: a consumer's phxCallback(requestId, false, error) sees it as an\n"
    "error, and this command prints it as one and exits 1.\n\n"
    "Exit status: 0 fulfilled with a result (or sent, with --no-wait), 1 refused,\n"
    "not fulfilled in time, refunded, or the contract failed, 2 bad usage or\n"
    "input.\n";

static int parse_pos(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v = s && *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || *end || v == 0 || v > max) return -1;
    *out = v;
    return 0;
}

/* The Fulfilled event of request rid, from `from_block` on: ok, output and
 * callbackOk as Jobs recorded them; tx its transaction, block its block. */
static int fulfilled_output(phx_rpc_t *rpc, const phx_chain_deployment_t *dep, uint64_t rid,
                            uint64_t from_block, json_t **out, uint8_t tx[32], uint64_t *block,
                            phx_error_t *e)
{
    uint8_t topic0[32], topic1[32] = {0};
    if (phx_abi_event_topic(PHX_CHAIN_EV_FULFILLED, topic0, e)) return -1;
    for (int i = 0; i < 8; i++)
        topic1[31 - i] = (uint8_t)(rid >> (8 * i));
    phx_evm_filter_t f;
    memset(&f, 0, sizeof f);
    uint64_t head = 0;
    if (phx_rpc_block_number(rpc, &head, e)) return -1;
    f.from_block = from_block;
    f.to_block = head;
    f.addresses = (const uint8_t(*)[20])dep->jobs;
    f.address_count = 1;
    f.topic_sets[0] = (const uint8_t(*)[32])topic0;
    f.topic_counts[0] = 1;
    f.topic_sets[1] = (const uint8_t(*)[32])topic1;
    f.topic_counts[1] = 1;
    phx_evm_log_t *logs = NULL;
    size_t n = 0;
    int rc = -1;
    if (!phx_rpc_get_logs(rpc, &f, &logs, &n, e) && n > 0 &&
        !phx_abi_decode_log_json(PHX_CHAIN_EV_FULFILLED, false, &logs[n - 1], out, e)) {
        memcpy(tx, logs[n - 1].tx_hash, 32);
        *block = logs[n - 1].block_number;
        rc = 0;
    }
    for (size_t i = 0; i < n; i++)
        phx_evm_log_clear(&logs[i]);
    free(logs);
    return rc;
}

/* The k signed results of request rid's fulfilment from chain data alone: the
 * signatures its Jobs.fulfill transaction carried, each over the Jobs digest
 * of (request, contract, code, ok, output), as "job" envelopes naming the
 * worker each recovers to. The chain accepted them, so each is a worker's;
 * `phx verify` checks each one's worker to its quote and root. input: the
 * request's input as sent on chain. *out: the array. */
static phx_err_t fulfil_results(phx_rpc_t *rpc, const phx_chain_deployment_t *dep, uint64_t rid,
                                const uint8_t tx_hash[32], uint64_t block, const phx_buf_t *input,
                                json_t **out, phx_error_t *e)
{
    static const char sig[] = "fulfill(uint256,bool,bytes,bytes[])";
    phx_evm_tx_t tx;
    memset(&tx, 0, sizeof tx);
    bool found = false;
    json_t *args = NULL, *list = NULL;
    phx_chain_request_t req;
    uint8_t sel[4];
    uint64_t at = 0;
    phx_err_t err = phx_rpc_get_transaction(rpc, tx_hash, &tx, &found, e);
    if (err) return err;
    if (!found || !tx.has_to || memcmp(tx.to, dep->jobs, 20) || tx.data_len < 4 ||
        phx_abi_selector(sig, sel, NULL) || memcmp(tx.data, sel, 4)) {
        err = phx_fail(e, PHX_ERR_STATE, "the fulfilment's transaction is not a Jobs.fulfill");
        goto out;
    }
    if ((err = phx_abi_decode_json("(uint256,bool,bytes,bytes[])", tx.data + 4, tx.data_len - 4,
                                   &args, e)) ||
        (err = phx_chain_request_get(rpc, dep, rid, &req, e)) ||
        (err = phx_rpc_get_block_time(rpc, block, &at, e)))
        goto out;
    const json_t *sigs = json_array_get(args, 3);
    const char *out_hex = json_string_value(json_array_get(args, 2));
    if (!(list = json_array()) || !out_hex || !json_is_array(sigs)) {
        err = phx_fail(e, PHX_ERR_NOMEM, "results");
        goto out;
    }
    size_t i;
    const json_t *sj;
    json_array_foreach(sigs, i, sj)
    {
        phx_result_t r;
        memset(&r, 0, sizeof r);
        r.kind = PHX_RESULT_JOB;
        r.chain_id = dep->chain_id;
        memcpy(r.jobs, dep->jobs, 20);
        for (int b = 0; b < 8; b++)
            r.request_id[31 - b] = (uint8_t)(rid >> (8 * b));
        memcpy(r.contract_id, req.contract_id, 32);
        memcpy(r.code_hash, req.code_hash, 32);
        phx_keccak256(input->ptr, input->len, r.input_hash);
        r.ok = json_is_true(json_array_get(args, 1));
        r.timestamp = at; /* not signed for a job: the fulfilment's block time */
        json_t *env = NULL;
        if ((err = phx_hex_decode(out_hex, &r.output, e)) ||
            (err = phx_hex_decode_fixed(json_string_value(sj), r.signature, 65, e)) ||
            (err = phx_result_recover(&r, e)) || (err = phx_result_to_json(&r, &env, e)) ||
            json_array_append_new(list, env)) {
            phx_result_free(&r);
            if (!err) err = phx_fail(e, PHX_ERR_NOMEM, "results");
            goto out;
        }
        phx_result_free(&r);
    }
    *out = list;
    list = NULL;
out:
    json_decref(list);
    json_decref(args);
    phx_evm_tx_clear(&tx);
    return err;
}

static int cmd_request(int argc, char **argv)
{
    const char *prefix = "phx request";
    if (cli_wants_help(argc, argv)) return cli_help(request_help);
    enum {
        INPUT,
        FEE,
        CBGAS,
        TIMEOUT,
        NOWAIT,
        KEYFILE,
        GATEWAY,
        JSON,
        ENCRYPT,
        KMS,
        KSIGS,
        KINDS,
        NOPTS
    };
    cli_opt_t opts[NOPTS] = {
        [INPUT] = {.name = "input", .takes_value = true},
        [FEE] = {.name = "fee", .takes_value = true},
        [CBGAS] = {.name = "callback-gas", .takes_value = true},
        [TIMEOUT] = {.name = "timeout-s", .takes_value = true},
        [NOWAIT] = {.name = "no-wait"},
        [KEYFILE] = {.name = "key-file", .takes_value = true},
        [GATEWAY] = {.name = "gateway", .takes_value = true},
        [JSON] = {.name = "json"},
        [ENCRYPT] = {.name = "encrypt"},
        [KMS] = {.name = "kms-address", .takes_value = true},
        [KSIGS] = {.name = "k", .takes_value = true},
        [KINDS] = {.name = "min-tee-kinds", .takes_value = true},
    };
    cli_args_t args;
    int rc = cli_parse(prefix, argc, argv, opts, NOPTS, &args);
    if (rc) return rc;
    net_t n = {0};
    phx_rpc_t *rpc = NULL;
    phx_signer_t *signer = NULL;
    phx_buf_t input = PHX_BUF_INIT, sealed = PHX_BUF_INIT;
    input.secret = true;
    json_t *a1 = NULL, *a2 = NULL, *ev = NULL, *res = NULL;
    phx_evm_receipt_t rcpt;
    memset(&rcpt, 0, sizeof rcpt);
    phx_error_t e = {0};
    uint8_t id[32], sk[32] = {0}, me[20];
    unsigned long long cbgas = 300000, timeout_s = 120, k = 1, kinds = 1;
    phx_u256_t fee;
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "wants one contract ID (see --help)");
        goto out;
    }
    if ((rc = net_parse_id(prefix, args.pos[0], id))) goto out;
    if (!opts[FEE].value || phx_u256_from_str(opts[FEE].value, &fee, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--fee WEI: a decimal amount is required");
        goto out;
    }
    if ((opts[CBGAS].value && parse_pos(opts[CBGAS].value, 30000000, &cbgas)) ||
        (opts[TIMEOUT].value && parse_pos(opts[TIMEOUT].value, 86400, &timeout_s))) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "--callback-gas and --timeout-s take a positive integer");
        goto out;
    }
    /* Jobs.MAX_K; minTeeKinds above k is refused here, as Jobs would. */
    if ((opts[KSIGS].value && parse_pos(opts[KSIGS].value, 16, &k)) ||
        (opts[KINDS].value && parse_pos(opts[KINDS].value, 16, &kinds)) || kinds > k) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "--k takes 1 to 16 and --min-tee-kinds 1 to the --k value");
        goto out;
    }
    const char *in = opts[INPUT].value ? opts[INPUT].value : "null";
    if (!strncmp(in, "0x", 2) && !phx_hex_decode(in, &input, NULL)) {
        /* bytes as given */
    } else {
        phx_buf_reset(&input);
        phx_buf_append_str(&input, in);
    }
    if ((rc = net_find(prefix, opts[GATEWAY].value, &n)) ||
        (rc = net_owner_key(prefix, &n, opts[KEYFILE].value, sk, me)))
        goto out;
    if (opts[ENCRYPT].seen) {
        if ((rc = net_seal_request(prefix, &n, opts[KMS].value, id, input.ptr, input.len, &sealed)))
            goto out;
    } else if (opts[KMS].value) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--kms-address is for --encrypt");
        goto out;
    }
    const phx_buf_t *sent = opts[ENCRYPT].seen ? &sealed : &input;
    const char *rpc_url =
        n.endpoints ? json_string_value(json_object_get(n.endpoints, "rpc")) : NULL;
    json_t *depj = n.endpoints ? json_object_get(n.endpoints, "deployment") : NULL;
    phx_chain_deployment_t dep;
    if (!rpc_url || !depj || phx_chain_deployment_from_json(depj, &dep, &e)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "no chain known: start `phx devnet` (its endpoints "
                       "file names the RPC and the contracts)");
        goto out;
    }
    if (phx_rpc_open(rpc_url, NULL, &rpc, &e) || phx_signer_open(rpc, sk, NULL, &signer, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
        goto out;
    }
    char fee_dec[80];
    phx_u256_to_dec(&fee, fee_dec);
    a1 = json_pack("[o,s]", phx_json_hex(dep.jobs, 20), fee_dec);
    a2 = json_pack("[o,o,s,I,I,I]", phx_json_hex(id, 32), phx_json_hex(sent->ptr, sent->len),
                   fee_dec, (json_int_t)cbgas, (json_int_t)k, (json_int_t)kinds);
    static const char approve[] = "approve(address,uint256)",
                      request[] = "request(bytes32,bytes,uint256,uint32,uint8,uint8)";
    if (phx_chain_transact(signer, dep.token, approve, a1, NULL, &e)) {
        phx_chain_explain_revert(rpc, me, dep.token, approve, a1, &e);
        rc = cli_error(PHX_EXIT_FAIL, prefix, "PhxToken.approve: %s", e.message);
        goto out;
    }
    if (phx_chain_transact(signer, dep.jobs, request, a2, &rcpt, &e)) {
        phx_chain_explain_revert(rpc, me, dep.jobs, request, a2, &e);
        rc = cli_error(PHX_EXIT_FAIL, prefix, "Jobs.request: %s", e.message);
        goto out;
    }
    uint64_t rid = 0;
    for (size_t i = 0; i < rcpt.log_count && !rid; i++) {
        phx_chain_requested_t r;
        if (!memcmp(rcpt.logs[i].address, dep.jobs, 20) &&
            !phx_chain_parse_requested(&rcpt.logs[i], &r, NULL)) {
            rid = r.request_id;
            phx_chain_requested_clear(&r);
        }
    }
    if (!rid) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "the request was mined but Jobs logged no Requested");
        goto out;
    }
    char tx[67];
    tx[0] = '0', tx[1] = 'x';
    phx_hex_encode_to(tx + 2, rcpt.tx_hash, 32);
    res = json_pack("{s:I,s:s}", "request_id", (json_int_t)rid, "tx", tx);
    if (!opts[JSON].seen) printf("request    #%llu  (tx %s)\n", (unsigned long long)rid, tx);
    uint8_t status = PHX_CHAIN_REQ_PENDING;
    if (!opts[NOWAIT].seen) {
        /* Follow it: a worker runs it and sends Jobs.fulfill. */
        uint64_t deadline = phx_monotonic_ms() + timeout_s * 1000;
        while (status == PHX_CHAIN_REQ_PENDING && phx_monotonic_ms() < deadline) {
            phx_chain_request_t r;
            if (phx_chain_request_get(rpc, &dep, rid, &r, &e)) {
                rc = cli_error(PHX_EXIT_FAIL, prefix, "reading request #%llu: %s",
                               (unsigned long long)rid, e.message);
                goto out;
            }
            status = r.status;
            if (status == PHX_CHAIN_REQ_PENDING) {
                struct timespec ts = {0, 250 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
    }
    bool run_ok = true;
    /* The request reader's words (phx jobs, the console): one vocabulary. */
    const char *status_name = phx_chain_request_status_name(status);
    json_object_set_new(res, "status", json_string(status_name));
    uint8_t ful_tx[32];
    uint64_t ful_block = 0;
    if ((status == PHX_CHAIN_REQ_FULFILLED || status == PHX_CHAIN_REQ_CALLBACK_FAILED) &&
        !fulfilled_output(rpc, &dep, rid, rcpt.block_number, &ev, ful_tx, &ful_block, &e)) {
        phx_buf_t out = PHX_BUF_INIT;
        const char *hx = json_string_value(json_object_get(ev, "output"));
        json_t *chk = NULL;
        bool text = hx && !phx_hex_decode(hx, &out, NULL) &&
                    !phx_json_parse((const char *)out.ptr, out.len, &chk, NULL);
        json_decref(chk);
        run_ok = json_is_true(json_object_get(ev, "ok"));
        json_object_set(res, "ok", json_object_get(ev, "ok"));
        json_object_set_new(res, "output", json_string(hx ? hx : "0x"));
        json_object_set(res, "callback_ok", json_object_get(ev, "callbackOk"));
        json_t *results = NULL;
        phx_error_t re = {0};
        if (opts[JSON].seen &&
            !fulfil_results(rpc, &dep, rid, ful_tx, ful_block, sent, &results, &re)) {
            json_object_set_new(res, "k", json_integer((json_int_t)json_array_size(results)));
            json_object_set_new(res, "results", results);
        } else if (opts[JSON].seen) {
            fprintf(stderr, "%s: warning: the signed results: %s\n", prefix, re.message);
        }
        if (!opts[JSON].seen) {
            if (!run_ok)
                printf("error      %.*s\n", (int)out.len, (const char *)out.ptr);
            else if (text)
                printf("output     %.*s\n", (int)out.len, (const char *)out.ptr);
            else
                printf("output     %s  (bytes)\n", hx ? hx : "0x");
        }
        phx_buf_free(&out);
    }
    if (opts[JSON].seen)
        cli_print_json(res);
    else
        printf("status     %s\n", status_name);
    if (opts[NOWAIT].seen)
        rc = 0;
    else if (status == PHX_CHAIN_REQ_PENDING)
        rc = cli_error(PHX_EXIT_FAIL, prefix, "request #%llu not fulfilled within %llu s",
                       (unsigned long long)rid, timeout_s);
    else if (status != PHX_CHAIN_REQ_FULFILLED && status != PHX_CHAIN_REQ_CALLBACK_FAILED)
        rc = cli_error(PHX_EXIT_FAIL, prefix, "request #%llu ended %s", (unsigned long long)rid,
                       status_name);
    else if (!run_ok)
        rc = cli_error(PHX_EXIT_FAIL, prefix,
                       "request #%llu: the contract failed; its error went on chain (ok false)",
                       (unsigned long long)rid);
out:
    phx_secure_zero(sk, sizeof sk);
    phx_evm_receipt_clear(&rcpt);
    json_decref(a1);
    json_decref(a2);
    json_decref(ev);
    json_decref(res);
    phx_buf_free(&input);
    phx_buf_free(&sealed);
    phx_signer_close(signer);
    phx_rpc_close(rpc);
    net_free(&n);
    cli_opts_free(opts, NOPTS);
    return rc;
}
PHX_CLI_COMMAND(request, "request", 415, "send an on-chain request and follow it to its result",
                cmd_request)
