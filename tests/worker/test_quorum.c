/* The k-of-n quorum chooser (phx_quorum_choose, src/worker/quorum.c): which k agreeing signers a
 * worker submits so that Jobs.fulfill takes them (distinct operators, at least
 * minTeeKinds kinds, 0 = SGX and 129 = TDX as the Registry records them).
 * Cases where taking signers in the order they answered fails, and a check
 * against every subset of small random pools that a choice is found exactly
 * when one exists. */
#include <stdint.h>
#include <string.h>

#include "phx/worker.h"
#include "test.h"

#define SGX 0u
#define TDX 129u

static phx_quorum_candidate_t cand(char op, uint32_t tee)
{
    phx_quorum_candidate_t c;
    memset(&c, 0, sizeof c);
    memset(c.operator_, op, 20);
    c.tee_type = tee;
    return c;
}

/* Whether pick[0..k) is a quorum Jobs accepts: distinct candidates of distinct
 * operators covering at least m kinds, candidates 0..fixed-1 first. */
static bool valid(const phx_quorum_candidate_t *c, size_t n, unsigned k, unsigned m, size_t fixed,
                  const size_t *pick)
{
    unsigned kinds = 0;
    for (size_t i = 0; i < fixed; i++)
        if (pick[i] != i) return false;
    for (unsigned i = 0; i < k; i++) {
        if (pick[i] >= n) return false;
        for (unsigned j = 0; j < i; j++)
            if (pick[i] == pick[j] || !memcmp(c[pick[i]].operator_, c[pick[j]].operator_, 20))
                return false;
        kinds |= 1u << phx_quorum_tee_class(c[pick[i]].tee_type);
    }
    return (kinds & 1) + (kinds >> 1 & 1) >= (m ? m : 1);
}

static void test_greedy_fails(void)
{
    /* A:TDX, B:TDX, C:SGX, k=2 m=2: the first two answers are both TDX. */
    phx_quorum_candidate_t c[] = {cand('A', TDX), cand('B', TDX), cand('C', SGX)};
    size_t pick[4];
    CHECK(phx_quorum_choose(c, 3, 2, 2, 1, pick));
    CHECK(pick[0] == 0 && pick[1] == 2);
    CHECK(phx_quorum_choose(c, 3, 2, 2, 0, pick));
    CHECK(valid(c, 3, 2, 2, false, pick));
    /* m=1: the earliest answers, as before. */
    CHECK(phx_quorum_choose(c, 3, 2, 1, 1, pick));
    CHECK(pick[0] == 0 && pick[1] == 1);
}

static void test_operator_with_both_kinds(void)
{
    /* Operator B runs a TDX and an SGX worker: its SGX one is the signer to take. */
    phx_quorum_candidate_t c[] = {cand('A', TDX), cand('B', TDX), cand('B', SGX)};
    size_t pick[4];
    CHECK(phx_quorum_choose(c, 3, 2, 2, 1, pick));
    CHECK(pick[0] == 0 && pick[1] == 2);
    /* Without this worker first: X has both kinds, Y only TDX; taking X's
     * first answer (TDX) leaves no SGX. A matching gives X:SGX + Y:TDX. */
    phx_quorum_candidate_t d[] = {cand('X', TDX), cand('Y', TDX), cand('X', SGX)};
    CHECK(phx_quorum_choose(d, 3, 2, 2, 0, pick));
    CHECK(valid(d, 3, 2, 2, false, pick));
    CHECK(pick[0] == 1 && pick[1] == 2);
}

static void test_kind_late_in_a_big_pool(void)
{
    /* k=3 m=2: four SGX operators answer first, the one TDX operator last. */
    phx_quorum_candidate_t c[] = {cand('A', SGX), cand('B', SGX), cand('C', SGX), cand('D', SGX),
                                  cand('E', TDX)};
    size_t pick[4];
    CHECK(phx_quorum_choose(c, 5, 3, 2, 1, pick));
    CHECK(valid(c, 5, 3, 2, true, pick));
    CHECK(pick[0] == 0 && pick[1] == 1 && pick[2] == 4);
}

static void test_impossible(void)
{
    size_t pick[4];
    /* One kind only: wait, do not submit what Jobs reverts (TooFewTeeKinds). */
    phx_quorum_candidate_t one_kind[] = {cand('A', TDX), cand('B', TDX), cand('C', TDX)};
    CHECK(!phx_quorum_choose(one_kind, 3, 2, 2, 1, pick));
    /* The other kind only from this worker's own operator. */
    phx_quorum_candidate_t same_op[] = {cand('A', TDX), cand('A', SGX), cand('B', TDX)};
    CHECK(!phx_quorum_choose(same_op, 3, 2, 2, 1, pick));
    /* Too few operators (DuplicateOperator). */
    phx_quorum_candidate_t two_ops[] = {cand('A', TDX), cand('B', SGX), cand('B', TDX)};
    CHECK(!phx_quorum_choose(two_ops, 3, 3, 1, 1, pick));
    CHECK(phx_quorum_choose(two_ops, 3, 2, 2, 1, pick));
    /* More kinds than exist, m > k, k = 0, nobody. */
    CHECK(!phx_quorum_choose(two_ops, 3, 3, 3, 0, pick));
    CHECK(!phx_quorum_choose(two_ops, 3, 1, 2, 0, pick));
    CHECK(!phx_quorum_choose(two_ops, 3, 0, 1, 0, pick));
    CHECK(!phx_quorum_choose(two_ops, 0, 1, 1, 0, pick));
    /* Answers already held of one operator cannot both count. */
    CHECK(!phx_quorum_choose(same_op, 3, 2, 1, 2, pick));
    CHECK(phx_quorum_choose(two_ops, 3, 2, 2, 2, pick) && pick[0] == 0 && pick[1] == 1);
}

/* Every subset of size k of n candidates, against the chooser's answer. */
static bool exists(const phx_quorum_candidate_t *c, size_t n, unsigned k, unsigned m, size_t fixed)
{
    unsigned must = (1u << fixed) - 1;
    for (unsigned mask = 0; mask < 1u << n; mask++) {
        if ((unsigned)__builtin_popcount(mask) != k || (mask & must) != must) continue;
        size_t pick[8], got = 0;
        for (size_t i = 0; i < n; i++)
            if (mask >> i & 1) pick[got++] = i;
        if (valid(c, n, k, m, fixed, pick)) return true;
    }
    return false;
}

static void test_exact_against_every_subset(void)
{
    uint32_t seed = 0x13u;
    unsigned found = 0, none = 0, wrong = 0;
    for (int round = 0; round < 4000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 1 + (seed >> 8) % 8;
        unsigned k = 1 + (seed >> 12) % 4, m = 1 + (seed >> 14) % 2;
        size_t fixed = (seed >> 16) % 3; /* none, a worker's own, a client's two answers */
        phx_quorum_candidate_t c[8];
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            c[i] = cand((char)('A' + (seed >> 10) % 4), (seed >> 20) & 1 ? TDX : SGX);
        }
        size_t pick[8];
        bool got = phx_quorum_choose(c, n, k, m, fixed, pick);
        bool want = m <= k && fixed <= n && exists(c, n, k, m, fixed);
        if (got != want || (got && !valid(c, n, k, m, fixed, pick))) wrong++;
        got ? found++ : none++;
    }
    printf("  4000 random pools: %u with a quorum, %u without, %u wrong\n", found, none, wrong);
    CHECK(wrong == 0);
    CHECK(found > 500 && none > 500); /* both answers were exercised */
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE(test_greedy_fails), TEST_CASE(test_operator_with_both_kinds),
        TEST_CASE(test_kind_late_in_a_big_pool), TEST_CASE(test_impossible),
        TEST_CASE(test_exact_against_every_subset)};
    return test_run("test_quorum", cases, TEST_COUNT(cases));
}
