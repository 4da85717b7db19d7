/* Secret hygiene: zeroing the compiler cannot drop, and comparison whose
 * timing does not depend on where two secrets differ. */
#include <string.h>

#include "phx/core.h"

void phx_secure_zero(void *p, size_t n)
{
    if (!p || !n) return;
    /* explicit_bzero is in glibc >= 2.25 and is documented not to be elided. */
    explicit_bzero(p, n);
}

int phx_ct_eq(const void *a, const void *b, size_t n)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    /* Map 0 -> 1 and anything else -> 0 without a branch on diff. */
    return (int)(1 & ((uint32_t)(diff - 1) >> 8));
}
