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

/* Lane (x, y) lives at st[x + 5y] and in the local a<x><y>. One round is theta,
 * rho+pi, chi, iota (reference §1.2); rho and pi are fused: lane (x, y) rotated
 * by its offset goes to (y, 2x + 3y). Everything is in named locals so the
 * compiler can keep the state in registers; the body was generated from the
 * spec's rotation and permutation tables. */
static void keccak_f1600(uint64_t st[25])
{
    uint64_t a00 = st[0], a10 = st[1], a20 = st[2], a30 = st[3], a40 = st[4], a01 = st[5],
             a11 = st[6], a21 = st[7], a31 = st[8], a41 = st[9], a02 = st[10], a12 = st[11],
             a22 = st[12], a32 = st[13], a42 = st[14], a03 = st[15], a13 = st[16], a23 = st[17],
             a33 = st[18], a43 = st[19], a04 = st[20], a14 = st[21], a24 = st[22], a34 = st[23],
             a44 = st[24];
    uint64_t b00, b10, b20, b30, b40, b01, b11, b21, b31, b41, b02, b12, b22, b32, b42, b03, b13,
        b23, b33, b43, b04, b14, b24, b34, b44;
    uint64_t c0, c1, c2, c3, c4, d0, d1, d2, d3, d4;
    for (int round = 0; round < 24; round++) {
        /* theta */
        c0 = a00 ^ a01 ^ a02 ^ a03 ^ a04;
        c1 = a10 ^ a11 ^ a12 ^ a13 ^ a14;
        c2 = a20 ^ a21 ^ a22 ^ a23 ^ a24;
        c3 = a30 ^ a31 ^ a32 ^ a33 ^ a34;
        c4 = a40 ^ a41 ^ a42 ^ a43 ^ a44;
        d0 = c4 ^ rotl(c1, 1);
        d1 = c0 ^ rotl(c2, 1);
        d2 = c1 ^ rotl(c3, 1);
        d3 = c2 ^ rotl(c4, 1);
        d4 = c3 ^ rotl(c0, 1);
        /* rho and pi: lane (x, y) -> (y, 2x + 3y), rotated */
        b00 = a00 ^ d0;
        b02 = rotl(a10 ^ d1, 1);
        b04 = rotl(a20 ^ d2, 62);
        b01 = rotl(a30 ^ d3, 28);
        b03 = rotl(a40 ^ d4, 27);
        b13 = rotl(a01 ^ d0, 36);
        b10 = rotl(a11 ^ d1, 44);
        b12 = rotl(a21 ^ d2, 6);
        b14 = rotl(a31 ^ d3, 55);
        b11 = rotl(a41 ^ d4, 20);
        b21 = rotl(a02 ^ d0, 3);
        b23 = rotl(a12 ^ d1, 10);
        b20 = rotl(a22 ^ d2, 43);
        b22 = rotl(a32 ^ d3, 25);
        b24 = rotl(a42 ^ d4, 39);
        b34 = rotl(a03 ^ d0, 41);
        b31 = rotl(a13 ^ d1, 45);
        b33 = rotl(a23 ^ d2, 15);
        b30 = rotl(a33 ^ d3, 21);
        b32 = rotl(a43 ^ d4, 8);
        b42 = rotl(a04 ^ d0, 18);
        b44 = rotl(a14 ^ d1, 2);
        b41 = rotl(a24 ^ d2, 61);
        b43 = rotl(a34 ^ d3, 56);
        b40 = rotl(a44 ^ d4, 14);
        /* chi */
        a00 = b00 ^ (~b10 & b20);
        a10 = b10 ^ (~b20 & b30);
        a20 = b20 ^ (~b30 & b40);
        a30 = b30 ^ (~b40 & b00);
        a40 = b40 ^ (~b00 & b10);
        a01 = b01 ^ (~b11 & b21);
        a11 = b11 ^ (~b21 & b31);
        a21 = b21 ^ (~b31 & b41);
        a31 = b31 ^ (~b41 & b01);
        a41 = b41 ^ (~b01 & b11);
        a02 = b02 ^ (~b12 & b22);
        a12 = b12 ^ (~b22 & b32);
        a22 = b22 ^ (~b32 & b42);
        a32 = b32 ^ (~b42 & b02);
        a42 = b42 ^ (~b02 & b12);
        a03 = b03 ^ (~b13 & b23);
        a13 = b13 ^ (~b23 & b33);
        a23 = b23 ^ (~b33 & b43);
        a33 = b33 ^ (~b43 & b03);
        a43 = b43 ^ (~b03 & b13);
        a04 = b04 ^ (~b14 & b24);
        a14 = b14 ^ (~b24 & b34);
        a24 = b24 ^ (~b34 & b44);
        a34 = b34 ^ (~b44 & b04);
        a44 = b44 ^ (~b04 & b14);
        /* iota */
        a00 ^= round_constants[round];
    }
    st[0] = a00;
    st[1] = a10;
    st[2] = a20;
    st[3] = a30;
    st[4] = a40;
    st[5] = a01;
    st[6] = a11;
    st[7] = a21;
    st[8] = a31;
    st[9] = a41;
    st[10] = a02;
    st[11] = a12;
    st[12] = a22;
    st[13] = a32;
    st[14] = a42;
    st[15] = a03;
    st[16] = a13;
    st[17] = a23;
    st[18] = a33;
    st[19] = a43;
    st[20] = a04;
    st[21] = a14;
    st[22] = a24;
    st[23] = a34;
    st[24] = a44;
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
