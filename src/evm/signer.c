/* Fee estimation and the signer: one key, one chain, local nonce tracking that
 * survives restarts (a small JSON file written atomically), send/transact/
 * deploy helpers on top of the RPC client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phx/crypto.h"
#include "phx/evm.h"

phx_err_t phx_rpc_estimate_fees(phx_rpc_t *rpc, phx_evm_fees_t *out, phx_error_t *e)
{
    phx_evm_fees_t f;
    phx_evm_fee_history_t h;
    phx_err_t err;
    memset(&f, 0, sizeof f);
    if ((err = phx_rpc_gas_price(rpc, &f.gas_price, e))) return err;
    /* Nodes without EIP-1559 fail feeHistory or give no base fees. */
    phx_error_t ignore;
    if (phx_rpc_fee_history(rpc, 5, "latest", 50.0, &h, &ignore) == PHX_OK) {
        if (h.block_count > 0 && !phx_u256_is_zero(&h.base_fees[h.block_count])) {
            phx_u256_t base = h.base_fees[h.block_count];
            /* Median of the per-block 50th-percentile tips. */
            phx_u256_t tips[8];
            size_t n = h.block_count < 8 ? h.block_count : 8;
            for (size_t i = 0; i < n; i++)
                tips[i] = h.rewards[h.block_count - n + i];
            for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && phx_u256_cmp(&tips[j - 1], &tips[j]) > 0; j--) {
                    phx_u256_t t = tips[j];
                    tips[j] = tips[j - 1];
                    tips[j - 1] = t;
                }
            f.max_priority_fee = tips[n / 2];
            if (phx_u256_is_zero(&f.max_priority_fee) &&
                phx_rpc_max_priority_fee(rpc, &f.max_priority_fee, &ignore) != PHX_OK)
                f.max_priority_fee = phx_u256_from_u64(1);
            if (phx_u256_is_zero(&f.max_priority_fee)) f.max_priority_fee = phx_u256_from_u64(1);
            /* Headroom for the base fee to double before the tx is mined. */
            f.max_fee = phx_u256_mul_u64(&base, 2);
            f.max_fee = phx_u256_add(&f.max_fee, &f.max_priority_fee);
            f.eip1559 = true;
        }
        phx_evm_fee_history_clear(&h);
    }
    *out = f;
    return PHX_OK;
}

struct phx_signer {
    phx_rpc_t *rpc;
    uint8_t sk[32];
    uint8_t address[20];
    uint64_t chain_id;
    uint64_t next_nonce;
    char *nonce_path;
};

static phx_err_t save_nonce(phx_signer_t *s, phx_error_t *e)
{
    if (!s->nonce_path) return PHX_OK;
    char addr[43];
    phx_eth_address_checksum(s->address, addr);
    json_t *j = json_pack("{s:s,s:I,s:I}", "address", addr, "chain_id", (json_int_t)s->chain_id,
                          "next_nonce", (json_int_t)s->next_nonce);
    char *text = j ? phx_json_dump(j, true) : NULL;
    json_decref(j);
    if (!text) return phx_fail(e, PHX_ERR_NOMEM, "signer: out of memory");
    phx_err_t err = phx_file_write_atomic(s->nonce_path, text, strlen(text), 0600, e);
    free(text);
    return err;
}

/* The nonce the file remembers for this key and chain, or 0. */
static uint64_t load_nonce(const phx_signer_t *s)
{
    json_t *j = NULL;
    phx_error_t ignore;
    uint64_t n = 0;
    if (!s->nonce_path || phx_json_load_file(s->nonce_path, &j, &ignore)) return 0;
    const char *addr = json_string_value(json_object_get(j, "address"));
    uint8_t a[20];
    if (addr && phx_evm_address_parse(addr, a, &ignore) == PHX_OK &&
        memcmp(a, s->address, 20) == 0 &&
        json_integer_value(json_object_get(j, "chain_id")) == (json_int_t)s->chain_id &&
        json_integer_value(json_object_get(j, "next_nonce")) > 0)
        n = (uint64_t)json_integer_value(json_object_get(j, "next_nonce"));
    json_decref(j);
    return n;
}

static phx_err_t sync_nonce(phx_signer_t *s, bool keep_local, phx_error_t *e)
{
    uint64_t chain = 0;
    phx_err_t err = phx_rpc_get_transaction_count(s->rpc, s->address, "pending", &chain, e);
    if (err) return err;
    s->next_nonce = keep_local && s->next_nonce > chain ? s->next_nonce : chain;
    return save_nonce(s, e);
}

phx_err_t phx_signer_open(phx_rpc_t *rpc, const uint8_t sk[32], const char *nonce_path,
                          phx_signer_t **out, phx_error_t *e)
{
    phx_err_t err;
    phx_signer_t *s = calloc(1, sizeof *s);
    if (!s) return phx_fail(e, PHX_ERR_NOMEM, "signer: out of memory");
    s->rpc = rpc;
    memcpy(s->sk, sk, 32);
    if ((err = phx_eth_address_from_seckey(sk, s->address))) {
        err = phx_fail(e, PHX_ERR_INVALID, "signer: invalid secret key");
        goto fail;
    }
    if (nonce_path && !(s->nonce_path = strdup(nonce_path))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "signer: out of memory");
        goto fail;
    }
    if ((err = phx_rpc_chain_id(rpc, &s->chain_id, e))) goto fail;
    s->next_nonce = load_nonce(s);
    if ((err = sync_nonce(s, true, e))) goto fail;
    *out = s;
    return PHX_OK;
fail:
    phx_signer_close(s);
    return err;
}

void phx_signer_close(phx_signer_t *s)
{
    if (!s) return;
    phx_secure_zero(s->sk, sizeof s->sk);
    free(s->nonce_path);
    free(s);
}

void phx_signer_address(const phx_signer_t *s, uint8_t out[20])
{
    memcpy(out, s->address, 20);
}
uint64_t phx_signer_chain_id(const phx_signer_t *s)
{
    return s->chain_id;
}
uint64_t phx_signer_next_nonce(const phx_signer_t *s)
{
    return s->next_nonce;
}

phx_err_t phx_signer_resync(phx_signer_t *s, phx_error_t *e)
{
    return sync_nonce(s, false, e);
}

static bool nonce_error(const phx_error_t *e)
{
    return e && (strstr(e->message, "nonce too low") || strstr(e->message, "nonce too high") ||
                 strstr(e->message, "NonceTooLow") || strstr(e->message, "already known") ||
                 strstr(e->message, "replacement transaction underpriced"));
}

/* Does the node know the transaction with these raw bytes (pending or mined)?
 * Its hash is keccak256 of the raw bytes for every type; the node's answer is
 * read with the decoder's range checks and must be this very transaction
 * (same hash, same sender), or it does not count as known. */
static bool node_has_tx(phx_signer_t *s, const uint8_t *raw, size_t raw_len, uint8_t tx_hash[32])
{
    uint8_t h[32];
    phx_evm_tx_t tx;
    bool found = false;
    phx_keccak256(raw, raw_len, h);
    if (phx_rpc_get_transaction(s->rpc, h, &tx, &found, NULL) != PHX_OK || !found) return false;
    bool mine = memcmp(tx.from, s->address, 20) == 0;
    phx_evm_tx_clear(&tx);
    if (mine) memcpy(tx_hash, h, 32);
    return mine;
}

phx_err_t phx_signer_send(phx_signer_t *s, const phx_evm_send_t *req, uint8_t tx_hash[32],
                          phx_error_t *e)
{
    phx_evm_fees_t fees;
    phx_evm_tx_t tx;
    phx_buf_t raw = PHX_BUF_INIT;
    phx_error_t local;
    phx_err_t err;
    phx_error_t *ee = e ? e : &local;
    memset(&tx, 0, sizeof tx);
    if (req->fees)
        fees = *req->fees;
    else if ((err = phx_rpc_estimate_fees(s->rpc, &fees, ee)))
        return err;
    uint64_t gas = req->gas_limit;
    if (!gas) {
        phx_evm_call_t c;
        memset(&c, 0, sizeof c);
        c.has_from = true;
        memcpy(c.from, s->address, 20);
        c.has_to = req->has_to;
        memcpy(c.to, req->to, 20);
        c.data = req->data;
        c.data_len = req->data_len;
        c.value = req->value;
        if ((err = phx_rpc_estimate_gas(s->rpc, &c, &gas, ee))) return err;
        gas += gas / 5; /* estimates are tight; state can move before inclusion */
    }
    tx.type = fees.eip1559 && !req->legacy ? PHX_TX_EIP1559 : PHX_TX_LEGACY;
    tx.chain_id = s->chain_id;
    tx.gas_price = fees.gas_price;
    tx.max_fee = fees.max_fee;
    tx.max_priority_fee = fees.max_priority_fee;
    tx.gas_limit = phx_u256_from_u64(gas);
    tx.has_to = req->has_to;
    memcpy(tx.to, req->to, 20);
    tx.value = req->value;
    tx.data = req->data;
    tx.data_len = req->data_len;
    for (int attempt = 0; attempt < 2; attempt++) {
        tx.nonce = s->next_nonce;
        phx_buf_reset(&raw);
        if ((err = phx_evm_tx_sign(&tx, s->sk, ee)) || (err = phx_evm_tx_encode(&tx, &raw, ee)))
            goto out;
        err = phx_rpc_send_raw_transaction(s->rpc, raw.ptr, raw.len, tx_hash, ee);
        if (!err) {
            s->next_nonce++;
            err = save_nonce(s, ee);
            goto out;
        }
        if (err != PHX_ERR_REMOTE) goto out;
        /* The node may already hold this very transaction: a transport retry resends
         * it after the first answer was lost, and the node then refuses the copy in
         * its own words ("nonce too low" once mined, "already known" in geth's pool,
         * "transaction already imported" in anvil's). Signing the request again under
         * the next nonce would execute it twice, so first ask for our own hash. */
        if (node_has_tx(s, raw.ptr, raw.len, tx_hash)) {
            s->next_nonce++;
            err = save_nonce(s, ee);
            goto out;
        }
        /* Someone else used this key, or the chain moved: take the chain's count once. */
        if (!nonce_error(ee) || attempt) goto out;
        phx_error_t sync_e;
        uint64_t before = s->next_nonce;
        if (sync_nonce(s, false, &sync_e) || s->next_nonce == before) goto out;
    }
out:
    phx_buf_free(&raw);
    return err;
}

phx_err_t phx_signer_transact(phx_signer_t *s, const phx_evm_send_t *req, uint64_t confirmations,
                              uint64_t timeout_ms, phx_evm_receipt_t *receipt, phx_error_t *e)
{
    uint8_t hash[32];
    phx_evm_receipt_t local;
    memset(&local, 0, sizeof local);
    /* A caller that only needs success may pass NULL. */
    phx_evm_receipt_t *r = receipt ? receipt : &local;
    phx_err_t err = phx_signer_send(s, req, hash, e);
    if (err) goto out;
    if ((err = phx_rpc_wait_receipt(s->rpc, hash, confirmations, timeout_ms, 0, r, e))) goto out;
    if (!r->status) {
        char *h = phx_hex_encode(hash, 32);
        err = phx_fail(e, PHX_ERR_REMOTE, "transaction %s reverted", h ? h : "?");
        free(h);
    }
out:
    phx_evm_receipt_clear(&local);
    return err;
}

phx_err_t phx_signer_deploy(phx_signer_t *s, const uint8_t *bytecode, size_t bytecode_len,
                            const uint8_t *ctor_args, size_t ctor_args_len, uint64_t gas_limit,
                            uint64_t confirmations, uint64_t timeout_ms, uint8_t address[20],
                            phx_evm_receipt_t *receipt, phx_error_t *e)
{
    phx_buf_t code = PHX_BUF_INIT;
    phx_evm_receipt_t r;
    phx_evm_send_t req;
    phx_err_t err;
    memset(&req, 0, sizeof req);
    memset(&r, 0, sizeof r);
    if ((err = phx_buf_append(&code, bytecode, bytecode_len)) ||
        (ctor_args_len && (err = phx_buf_append(&code, ctor_args, ctor_args_len)))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "deploy: out of memory");
        goto out;
    }
    req.data = code.ptr;
    req.data_len = code.len;
    req.gas_limit = gas_limit;
    uint64_t nonce = s->next_nonce;
    if ((err = phx_signer_transact(s, &req, confirmations, timeout_ms, &r, e))) goto out;
    if (r.has_contract_address)
        memcpy(address, r.contract_address, 20);
    else if ((err = phx_evm_create_address(s->address, nonce, address)))
        goto out;
out:
    if (receipt && !err)
        *receipt = r;
    else
        phx_evm_receipt_clear(&r);
    phx_buf_free(&code);
    return err;
}
