/* The k-of-n quorum chooser (phx_quorum_choose, include/phx/worker.h). Operators are the unit: one
 * operator's workers count once, whatever their kinds, so the question is which k operators, each
 * with which of its workers. The kinds still missing are matched to distinct operators that run a
 * worker of that kind (augmenting paths, so an operator with both kinds is not spent on the kind
 * another could give); any k - matched other operators complete the quorum. */
#include <stdlib.h>
#include <string.h>

#include "phx/worker.h"

#define NCLASS 2     /* the kinds Jobs tells apart */
#define MAX_CANDS 64 /* more than PHX_WORKER_MAX_PEERS + 1 */
#define NONE ((size_t)-1)

unsigned phx_quorum_tee_class(uint32_t tee_type)
{
    return tee_type == 0 ? 0 : 1;
}

typedef struct {
    size_t first;           /* its first candidate */
    size_t by_kind[NCLASS]; /* its first candidate of each kind, NONE if none */
    int matched;            /* the kind it gives, -1 none */
    bool used;
} op_t;

/* Kuhn's augmenting path from kind k over the pool's operators. */
static bool augment(op_t *ops, size_t nops, size_t *kind_op, unsigned kind, bool *seen)
{
    for (size_t o = 0; o < nops; o++) {
        if (ops[o].used || ops[o].by_kind[kind] == NONE || seen[o]) continue;
        seen[o] = true;
        if (ops[o].matched < 0 || augment(ops, nops, kind_op, (unsigned)ops[o].matched, seen)) {
            ops[o].matched = (int)kind;
            kind_op[kind] = o;
            return true;
        }
    }
    return false;
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

bool phx_quorum_choose(const phx_quorum_candidate_t *c, size_t n, unsigned k, unsigned min_kinds,
                       size_t fixed, size_t *pick)
{
    if (n > MAX_CANDS) n = MAX_CANDS;
    if (k == 0 || n == 0 || min_kinds > NCLASS || min_kinds > k || fixed > k || fixed > n)
        return false;
    op_t ops[MAX_CANDS];
    size_t nops = 0, op_of[MAX_CANDS];
    for (size_t i = 0; i < n; i++) {
        size_t o = 0;
        while (o < nops && memcmp(c[ops[o].first].operator_, c[i].operator_, 20))
            o++;
        if (o == nops) {
            ops[nops].first = i;
            for (unsigned t = 0; t < NCLASS; t++)
                ops[nops].by_kind[t] = NONE;
            ops[nops].matched = -1;
            ops[nops].used = false;
            nops++;
        }
        op_of[i] = o;
        unsigned t = phx_quorum_tee_class(c[i].tee_type);
        if (ops[o].by_kind[t] == NONE) ops[o].by_kind[t] = i;
    }
    size_t got = 0;
    unsigned covered = 0; /* kind bits */
    for (size_t i = 0; i < fixed; i++) {
        if (ops[op_of[i]].used) return false; /* Jobs: DuplicateOperator */
        ops[op_of[i]].used = true;
        covered |= 1u << phx_quorum_tee_class(c[i].tee_type);
        pick[got++] = i;
    }
    unsigned have = (covered & 1) + (covered >> 1 & 1);
    unsigned need = min_kinds > have ? min_kinds - have : 0;
    size_t kind_op[NCLASS];
    unsigned matched = 0;
    for (unsigned t = 0; t < NCLASS && matched < need; t++) {
        if (covered >> t & 1) continue;
        bool seen[MAX_CANDS] = {false};
        if (augment(ops, nops, kind_op, t, seen)) matched++;
    }
    if (matched < need || got + need > k) return false;
    for (size_t o = 0; o < nops; o++)
        if (!ops[o].used && ops[o].matched >= 0) {
            pick[got++] = ops[o].by_kind[ops[o].matched];
            ops[o].used = true;
        }
    for (size_t o = 0; o < nops && got < k; o++)
        if (!ops[o].used) {
            pick[got++] = ops[o].first;
            ops[o].used = true;
        }
    if (got < k) return false;
    qsort(pick + fixed, k - fixed, sizeof *pick, by_index);
    return true;
}
