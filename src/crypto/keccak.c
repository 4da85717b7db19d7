/* Keccak-256 as Ethereum uses it: Keccak-f[1600] with rate 136 bytes and the
 * original Keccak padding (0x01 ... 0x80), not FIPS 202 SHA3's 0x06. Our own
 * implementation from the Keccak reference specification (keccak.team,
 * "The Keccak reference" v3.0, §1.2-1.3); OpenSSL 3.0 only exposes SHA3. */
#include <string.h>

#include "phx/crypto.h"

#define KECCAK256_RATE 136

static const uint64_t round_constants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

static inline uint64_t rotl(uint64_t v, unsigned n)
{
    return n ? (v << n) | (v >> (64 - n)) : v;
}

/* Lane (x, y) lives at a[x + 5y]. One round is theta, rho+pi, chi, iota; rho and
 * pi are fused: lane (x, y) rotated by its offset goes to (y, 2x + 3y). The
 * straight-line form below is what the compiler turns into register code. */
#define ROUND(a, rc)                                                                               \
    do {                                                                                           \
        uint64_t c0 = a[0] ^ a[5] ^ a[10] ^ a[15] ^ a[20];                                         \
        uint64_t c1 = a[1] ^ a[6] ^ a[11] ^ a[16] ^ a[21];                                         \
        uint64_t c2 = a[2] ^ a[7] ^ a[12] ^ a[17] ^ a[22];                                         \
        uint64_t c3 = a[3] ^ a[8] ^ a[13] ^ a[18] ^ a[23];                                         \
        uint64_t c4 = a[4] ^ a[9] ^ a[14] ^ a[19] ^ a[24];                                         \
        uint64_t d0 = c4 ^ rotl(c1, 1), d1 = c0 ^ rotl(c2, 1), d2 = c1 ^ rotl(c3, 1);              \
        uint64_t d3 = c2 ^ rotl(c4, 1), d4 = c3 ^ rotl(c0, 1);                                     \
        uint64_t b[25];                                                                            \
        b[0] = a[0] ^ d0;                                                                          \
        b[10] = rotl(a[1] ^ d1, 1);                                                                \
        b[20] = rotl(a[2] ^ d2, 62);                                                               \
        b[5] = rotl(a[3] ^ d3, 28);                                                                \
        b[15] = rotl(a[4] ^ d4, 27);                                                               \
        b[16] = rotl(a[5] ^ d0, 36);                                                               \
        b[1] = rotl(a[6] ^ d1, 44);                                                                \
        b[11] = rotl(a[7] ^ d2, 6);                                                                \
        b[21] = rotl(a[8] ^ d3, 55);                                                               \
        b[6] = rotl(a[9] ^ d4, 20);                                                                \
        b[7] = rotl(a[10] ^ d0, 3);                                                                \
        b[17] = rotl(a[11] ^ d1, 10);                                                              \
        b[2] = rotl(a[12] ^ d2, 43);                                                               \
        b[12] = rotl(a[13] ^ d3, 25);                                                              \
        b[22] = rotl(a[14] ^ d4, 39);                                                              \
        b[23] = rotl(a[15] ^ d0, 41);                                                              \
        b[8] = rotl(a[16] ^ d1, 45);                                                               \
        b[18] = rotl(a[17] ^ d2, 15);                                                              \
        b[3] = rotl(a[18] ^ d3, 21);                                                               \
        b[13] = rotl(a[19] ^ d4, 8);                                                               \
        b[14] = rotl(a[20] ^ d0, 18);                                                              \
        b[24] = rotl(a[21] ^ d1, 2);                                                               \
        b[9] = rotl(a[22] ^ d2, 61);                                                               \
        b[19] = rotl(a[23] ^ d3, 56);                                                              \
        b[4] = rotl(a[24] ^ d4, 14);                                                               \
        for (int y = 0; y < 25; y += 5) {                                                          \
            a[y + 0] = b[y + 0] ^ (~b[y + 1] & b[y + 2]);                                          \
            a[y + 1] = b[y + 1] ^ (~b[y + 2] & b[y + 3]);                                          \
            a[y + 2] = b[y + 2] ^ (~b[y + 3] & b[y + 4]);                                          \
            a[y + 3] = b[y + 3] ^ (~b[y + 4] & b[y + 0]);                                          \
            a[y + 4] = b[y + 4] ^ (~b[y + 0] & b[y + 1]);                                          \
        }                                                                                          \
        a[0] ^= (rc);                                                                              \
    } while (0)

static void keccak_f1600(uint64_t a[25])
{
    for (int i = 0; i < 24; i++)
        ROUND(a, round_constants[i]);
}

/* Lanes are little-endian (spec §1.1); load byte-wise so any host works. */
static inline uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

static inline void xor_byte(uint64_t *state, size_t pos, uint8_t v)
{
    state[pos / 8] ^= (uint64_t)v << (8 * (pos % 8));
}

void phx_keccak256_init(phx_keccak_t *k)
{
    memset(k, 0, sizeof *k);
}

void phx_keccak256_update(phx_keccak_t *k, const void *data, size_t len)
{
    const uint8_t *p = data;
    /* Finish a partly filled block byte by byte. */
    while (len && k->pos) {
        xor_byte(k->state, k->pos++, *p++);
        len--;
        if (k->pos == KECCAK256_RATE) {
            keccak_f1600(k->state);
            k->pos = 0;
        }
    }
    /* Whole blocks a lane at a time. */
    while (len >= KECCAK256_RATE) {
        for (int i = 0; i < KECCAK256_RATE / 8; i++)
            k->state[i] ^= load_le64(p + 8 * i);
        keccak_f1600(k->state);
        p += KECCAK256_RATE;
        len -= KECCAK256_RATE;
    }
    while (len--)
        xor_byte(k->state, k->pos++, *p++);
}

void phx_keccak256_final(phx_keccak_t *k, uint8_t out[32])
{
    /* pad10*1 with Keccak's domain byte 0x01; both ends may share one byte. */
    xor_byte(k->state, k->pos, 0x01);
    xor_byte(k->state, KECCAK256_RATE - 1, 0x80);
    keccak_f1600(k->state);
    for (int i = 0; i < 32; i++)
        out[i] = (uint8_t)(k->state[i / 8] >> (8 * (i % 8)));
    phx_secure_zero(k, sizeof *k);
}

void phx_keccak256(const void *data, size_t len, uint8_t out[32])
{
    phx_keccak_t k;
    phx_keccak256_init(&k);
    phx_keccak256_update(&k, data, len);
    phx_keccak256_final(&k, out);
}
