/* Which k signers make a k-of-n quorum that Jobs.fulfill accepts (docs/worker.md
 * "k-of-n"): k of distinct operators whose workers cover at least minTeeKinds
 * TEE kinds, counted as Jobs._checkSignatures counts them. A pure function over
 * what the gatherer learnt from its peers and the Registry, so that it is tested
 * without a network. Not a public header. */
#ifndef PHX_WORKER_QUORUM_H
#define PHX_WORKER_QUORUM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One signer that agrees on the report: its operator and its Registry teeType. */
typedef struct {
    uint8_t operator_[20];
    uint32_t tee_type;
} wk_candidate_t;

/* The kind Jobs counts a Registry teeType as: 0 SGX, any other TDX (the
 * Registry admits no third kind). */
unsigned wk_tee_kind_class(uint32_t tee_type);

/* Choose k of the n candidates, of k distinct operators, whose kinds cover at
 * least min_kinds (0 and 1 both mean any); with first, candidate 0 (this
 * worker's own signature) is always one of them and comes first in pick.
 * Exact: a choice is found whenever one exists, by a matching of the missing
 * kinds to operators, then any other operators; earlier candidates are
 * preferred. pick receives k indexes. false when no such choice exists. */
bool wk_quorum_choose(const wk_candidate_t *c, size_t n, unsigned k, unsigned min_kinds, bool first,
                      size_t *pick);

#endif
