/* Fuzz the chain module's readers of outside input: DCAP quote fields (from a
 * worker's registration), deployment files, the Requested event a worker
 * decodes from a log (topics and data as a node returned them) and the four
 * request events the request reader decodes (phx_chain_parse_jobs_event), the
 * Registry's worker events the gateway's discovery reads (the announced URL
 * held to the contract's rule), and revert
 * data as a node returns it (named by the embedded ABIs). The first byte picks
 * the reader: 0xc0 and up the revert reader, else by its value mod 3. */
#include <stdlib.h>
#include <string.h>

#include "phx/chain.h"
#include "phx/chain_requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t which = data[0];
    data++;
    size--;
    phx_error_t e;
    if (which >= 0xc0) {
        char out[512];
        phx_chain_revert_describe(data, size, out, sizeof out);
        if (strlen(out) >= sizeof out) abort(); /* always terminated */
    } else if (which % 3 == 0) {
        uint32_t tee;
        uint8_t measurement[32], report_data[64];
        phx_chain_quote_fields(data, size, &tee, measurement, report_data, &e);
    } else if (which % 3 == 1) {
        json_t *j = NULL;
        if (phx_json_parse((const char *)data, size, &j, &e) == PHX_OK) {
            phx_chain_deployment_t d;
            phx_chain_deployment_from_json(j, &d, &e);
            json_decref(j);
        }
    } else {
        /* [topic count (0..4)] [topics...] [data...] */
        phx_evm_log_t log;
        memset(&log, 0, sizeof log);
        if (size < 1) return 0;
        size_t n = data[0] % 5;
        data++;
        size--;
        if (size < n * 32) return 0;
        for (size_t i = 0; i < n; i++)
            memcpy(log.topics[i], data + 32 * i, 32);
        log.topic_count = n;
        log.data = (uint8_t *)(uintptr_t)(data + 32 * n); /* read only by the decoder */
        log.data_len = size - 32 * n;
        phx_chain_requested_t r;
        if (phx_chain_parse_requested(&log, &r, &e) == PHX_OK) phx_chain_requested_clear(&r);
        /* The request reader's decoder of all four lifecycle events. */
        phx_chain_jobs_event_t ev;
        if (phx_chain_parse_jobs_event(&log, &ev, &e) == PHX_OK &&
            (ev.kind < PHX_CHAIN_JOBS_EV_REQUESTED || ev.kind > PHX_CHAIN_JOBS_EV_CALLBACK_FAILED ||
             (ev.operator_count > 0) != (ev.operators != NULL)))
            abort();
        phx_chain_jobs_event_clear(&ev);
        /* The gateway's discovery: the Registry's worker events; a URL it
         * accepts keeps Registry.setWorkerEndpoint's rule. */
        phx_chain_registry_event_t rev;
        if (phx_chain_parse_registry_event(&log, &rev, &e) == PHX_OK &&
            (rev.kind < PHX_CHAIN_REG_EV_REGISTERED || rev.kind > PHX_CHAIN_REG_EV_ENDPOINT ||
             (rev.kind == PHX_CHAIN_REG_EV_ENDPOINT &&
              phx_chain_endpoint_check(rev.url, strlen(rev.url), &e) != PHX_OK)))
            abort();
    }
    return 0;
}
