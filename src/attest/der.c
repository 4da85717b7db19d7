/* A minimal DER reader for the certificates and CRLs of Intel's PCK hierarchy:
 * it reads only the fields the DCAP checks use (signed bytes, serial, names,
 * validity, P-256 key, ECDSA signature, basic constraints, key usage, key
 * identifiers, the SGX extension) as views into the input, on phx_reader_t.
 * ITU-T X.690 (DER) and RFC 5280 (profile). Why not d2i_X509: OpenSSL 3 spends
 * 130-250 us per certificate building objects and decoding keys we then throw
 * away; this costs a few microseconds. Anything it accepts, OpenSSL accepts
 * with the same fields (tests/attest/test_der.c, fuzz/fuzz_attest_der.c). */
#include <stdio.h>
#include <string.h>

#include "x509.h"

enum {
    T_BOOLEAN = 0x01,
    T_INTEGER = 0x02,
    T_BIT_STRING = 0x03,
    T_OCTET_STRING = 0x04,
    T_NULL = 0x05,
    T_OID = 0x06,
    T_UTF8 = 0x0C,
    T_PRINTABLE = 0x13,
    T_IA5 = 0x16,
    T_UTCTIME = 0x17,
    T_GENTIME = 0x18,
    T_SEQUENCE = 0x30,
    T_SET = 0x31,
};

/* OID content octets. */
static const uint8_t oid_ecdsa_sha256[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02};
static const uint8_t oid_ec_public_key[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01};
static const uint8_t oid_prime256v1[] = {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
static const uint8_t oid_cn[] = {0x55, 0x04, 0x03};
static const uint8_t oid_skid[] = {0x55, 0x1D, 0x0E};
static const uint8_t oid_key_usage[] = {0x55, 0x1D, 0x0F};
static const uint8_t oid_basic_constraints[] = {0x55, 0x1D, 0x13};
static const uint8_t oid_akid[] = {0x55, 0x1D, 0x23};
static const uint8_t oid_crl_number[] = {0x55, 0x1D, 0x14};
static const uint8_t oid_reason_code[] = {0x55, 0x1D, 0x15};
static const uint8_t oid_invalidity_date[] = {0x55, 0x1D, 0x18};
static const uint8_t oid_netscape_cert_type[] = {0x60, 0x86, 0x48, 0x01, 0x86,
                                                 0xF8, 0x42, 0x01, 0x01};
static const uint8_t oid_sgx[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

#define OID_IS(d, oid) ((d)->len == sizeof(oid) && memcmp((d)->p, (oid), sizeof(oid)) == 0)

static phx_err_t bad(phx_error_t *e, const char *what)
{
    return phx_fail(e, PHX_ERR_INVALID, "DER: %s", what);
}

phx_err_t der_next(phx_reader_t *r, der_t *out, phx_error_t *e)
{
    const uint8_t *start = r->p + r->off;
    uint8_t tag, b;
    size_t len;
    if (phx_reader_u8(r, &tag, e) || phx_reader_u8(r, &b, e)) return bad(e, "header truncated");
    if ((tag & 0x1F) == 0x1F) return bad(e, "high tag number");
    if (b < 0x80) {
        len = b;
    } else if (b == 0x81) {
        uint8_t v;
        if (phx_reader_u8(r, &v, e) || v < 0x80) return bad(e, "bad length");
        len = v;
    } else if (b == 0x82) {
        uint16_t v;
        if (phx_reader_u16be(r, &v, e) || v < 0x100) return bad(e, "bad length");
        len = v;
    } else if (b == 0x83) {
        uint8_t hi;
        uint16_t lo;
        if (phx_reader_u8(r, &hi, e) || phx_reader_u16be(r, &lo, e) || hi == 0)
            return bad(e, "bad length");
        len = (size_t)hi << 16 | lo;
    } else if (b == 0x84) {
        uint32_t v;
        if (phx_reader_u32be(r, &v, e) || v < 0x1000000) return bad(e, "bad length");
        len = v;
    } else {
        return bad(e, "indefinite or oversized length");
    }
    if (phx_reader_view(r, &out->p, len, e)) return bad(e, "value truncated");
    out->tag = tag;
    out->len = len;
    out->tlv = start;
    out->tlv_len = (size_t)(out->p + len - start);
    return PHX_OK;
}

static phx_err_t der_expect(phx_reader_t *r, uint8_t tag, der_t *out, const char *what,
                            phx_error_t *e)
{
    phx_err_t err = der_next(r, out, e);
    if (err) return phx_error_wrap(e, err, "%s", what);
    if (out->tag != tag) return phx_fail(e, PHX_ERR_INVALID, "DER: %s: unexpected tag", what);
    return PHX_OK;
}

/* Is the next TLV tagged `tag`? (without consuming it) */
static bool der_peek(const phx_reader_t *r, uint8_t tag)
{
    return phx_reader_left(r) > 0 && r->p[r->off] == tag;
}

static phx_reader_t der_in(const der_t *d)
{
    return phx_reader(d->p, d->len);
}

/* A non-negative minimal INTEGER. */
static bool int_ok(const der_t *d)
{
    if (d->len == 0 || (d->p[0] & 0x80)) return false;
    return !(d->len > 1 && d->p[0] == 0 && !(d->p[1] & 0x80));
}

/* An OID: non-empty, each arc minimal, the last arc complete. */
static bool oid_ok(const der_t *d)
{
    if (d->len == 0 || (d->p[d->len - 1] & 0x80)) return false;
    for (size_t i = 0; i < d->len; i++)
        if (d->p[i] == 0x80 && (i == 0 || !(d->p[i - 1] & 0x80))) return false;
    return true;
}

static bool utf8_ok(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) return false;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

static bool printable_ok(const uint8_t *p, size_t n)
{
    static const char extra[] = " '()+,-./:=?";
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c && memchr(extra, c, sizeof extra - 1));
        if (!ok) return false;
    }
    return true;
}

/* Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value string }. Values are
 * limited to the string types whose contents we can check the way OpenSSL's
 * name canonicalisation does (it refuses bad UTF-8). cn: first commonName. */
static phx_err_t read_name(phx_reader_t *r, der_view_t *name, der_view_t *cn, const char *what,
                           phx_error_t *e)
{
    der_t seq;
    phx_err_t err;
    if ((err = der_expect(r, T_SEQUENCE, &seq, what, e))) return err;
    *name = (der_view_t){seq.tlv, seq.tlv_len};
    if (cn) *cn = (der_view_t){NULL, 0};
    phx_reader_t rdns = der_in(&seq);
    while (phx_reader_left(&rdns)) {
        der_t set;
        if ((err = der_expect(&rdns, T_SET, &set, what, e))) return err;
        if (set.len == 0) return bad(e, "empty name component");
        phx_reader_t atvs = der_in(&set);
        const uint8_t *prev = NULL;
        size_t prev_len = 0;
        while (phx_reader_left(&atvs)) {
            der_t atv, type, value;
            if ((err = der_expect(&atvs, T_SEQUENCE, &atv, what, e))) return err;
            /* DER orders a SET OF by encoding. */
            if (prev) {
                size_t m = prev_len < atv.tlv_len ? prev_len : atv.tlv_len;
                int c = memcmp(prev, atv.tlv, m);
                if (c > 0 || (c == 0 && prev_len > atv.tlv_len))
                    return bad(e, "name component not in DER order");
            }
            prev = atv.tlv;
            prev_len = atv.tlv_len;
            phx_reader_t ar = der_in(&atv);
            if ((err = der_expect(&ar, T_OID, &type, what, e))) return err;
            if (!oid_ok(&type)) return bad(e, "bad attribute type");
            if ((err = der_next(&ar, &value, e))) return err;
            if (phx_reader_left(&ar)) return bad(e, "trailing bytes in a name attribute");
            bool ok = (value.tag == T_UTF8 && utf8_ok(value.p, value.len)) ||
                      (value.tag == T_PRINTABLE && printable_ok(value.p, value.len)) ||
                      (value.tag == T_IA5 && utf8_ok(value.p, value.len) &&
                       !memchr(value.p, 0, value.len));
            if (value.tag == T_IA5)
                for (size_t i = 0; ok && i < value.len; i++)
                    ok = value.p[i] < 0x80;
            if (!ok) return bad(e, "unsupported name attribute value");
            if (cn && !cn->p && OID_IS(&type, oid_cn)) *cn = (der_view_t){value.p, value.len};
        }
    }
    return PHX_OK;
}

size_t x509_name_text(der_view_t name, char *out, size_t cap)
{
    static const struct {
        uint8_t last; /* 2.5.4.<last> */
        const char *label;
    } labels[] = {{3, "CN"}, {6, "C"}, {7, "L"}, {8, "ST"}, {10, "O"}, {11, "OU"}};
    size_t n = 0;
    if (!cap) return 0;
    out[0] = 0;
    phx_reader_t top = phx_reader(name.p, name.len), rdns, atvs, ar;
    der_t seq, set, atv, type, value;
    if (der_next(&top, &seq, NULL)) return 0;
    rdns = der_in(&seq);
    while (phx_reader_left(&rdns) && !der_next(&rdns, &set, NULL)) {
        atvs = der_in(&set);
        while (phx_reader_left(&atvs) && !der_next(&atvs, &atv, NULL)) {
            ar = der_in(&atv);
            if (der_next(&ar, &type, NULL) || der_next(&ar, &value, NULL)) return n;
            const char *label = NULL;
            char oid[16];
            for (size_t i = 0; i < sizeof labels / sizeof labels[0] && !label; i++)
                if (type.len == 3 && type.p[0] == 0x55 && type.p[1] == 0x04 &&
                    type.p[2] == labels[i].last)
                    label = labels[i].label;
            if (!label) {
                snprintf(oid, sizeof oid, "OID(%zu bytes)", type.len);
                label = oid;
            }
            int w = snprintf(out + n, cap - n, "%s%s=%.*s", n ? ", " : "", label, (int)value.len,
                             (const char *)value.p);
            if (w < 0 || (size_t)w >= cap - n) {
                n = cap - 1;
                out[n] = 0;
                return n;
            }
            n += (size_t)w;
        }
    }
    return n;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const uint8_t *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* UTCTime YYMMDDHHMMSSZ (RFC 5280 4.1.2.5.1: YY < 50 is 20YY) or
 * GeneralizedTime YYYYMMDDHHMMSSZ, as DER and the profile require. */
static phx_err_t read_time(phx_reader_t *r, int64_t *out, const char *what, phx_error_t *e)
{
    der_t t;
    phx_err_t err;
    if ((err = der_next(r, &t, e))) return phx_error_wrap(e, err, "%s", what);
    unsigned year, mon, day, h, min, s;
    const uint8_t *p = t.p;
    if (t.tag == T_UTCTIME && t.len == 13) {
        if (!digits(p, 2, &year)) return bad(e, "bad UTCTime");
        year += year < 50 ? 2000 : 1900;
        p += 2;
    } else if (t.tag == T_GENTIME && t.len == 15) {
        if (!digits(p, 4, &year)) return bad(e, "bad GeneralizedTime");
        p += 4;
    } else {
        return phx_fail(e, PHX_ERR_INVALID, "DER: %s is not a UTCTime or GeneralizedTime", what);
    }
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!digits(p, 2, &mon) || !digits(p + 2, 2, &day) || !digits(p + 4, 2, &h) ||
        !digits(p + 6, 2, &min) || !digits(p + 8, 2, &s) || p[10] != 'Z' || mon < 1 || mon > 12 ||
        day < 1 || day > mdays[mon - 1] || h > 23 || min > 59 || s > 59)
        return phx_fail(e, PHX_ERR_INVALID, "DER: %s is not a valid time", what);
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return phx_fail(e, PHX_ERR_INVALID, "DER: %s is not a valid time", what);
    *out = days_from_civil(year, mon, day) * 86400 + h * 3600 + min * 60 + s;
    return PHX_OK;
}

/* AlgorithmIdentifier: ecdsa-with-SHA256, parameters absent (RFC 5758 3.2). */
static phx_err_t read_sig_alg(phx_reader_t *r, der_view_t *tlv, phx_error_t *e)
{
    der_t seq, oid;
    phx_err_t err;
    if ((err = der_expect(r, T_SEQUENCE, &seq, "signature algorithm", e))) return err;
    phx_reader_t s = der_in(&seq);
    if ((err = der_expect(&s, T_OID, &oid, "signature algorithm", e))) return err;
    if (!OID_IS(&oid, oid_ecdsa_sha256) || phx_reader_left(&s))
        return phx_fail(e, PHX_ERR_UNSUPPORTED,
                        "DER: signature algorithm is not ecdsa-with-SHA256");
    *tlv = (der_view_t){seq.tlv, seq.tlv_len};
    return PHX_OK;
}

/* A positive INTEGER of at most 32 significant bytes, left-padded into out. */
static bool read_scalar(phx_reader_t *r, uint8_t out[32], phx_error_t *e)
{
    der_t i;
    if (der_expect(r, T_INTEGER, &i, "ECDSA signature", e) || !int_ok(&i)) return false;
    const uint8_t *p = i.p;
    size_t n = i.len;
    if (n > 1 && p[0] == 0) p++, n--;
    if (n > 32) return false;
    memset(out, 0, 32 - n);
    memcpy(out + 32 - n, p, n);
    return true;
}

/* signatureValue: BIT STRING, no unused bits, holding ECDSA-Sig-Value
 * SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 / SEC 1) in strict DER. */
static phx_err_t read_signature(phx_reader_t *r, uint8_t sig[64], phx_error_t *e)
{
    der_t bits, seq;
    phx_err_t err;
    if ((err = der_expect(r, T_BIT_STRING, &bits, "signature", e))) return err;
    if (bits.len < 1 || bits.p[0] != 0) return bad(e, "signature has unused bits");
    phx_reader_t b = phx_reader(bits.p + 1, bits.len - 1);
    if ((err = der_expect(&b, T_SEQUENCE, &seq, "ECDSA signature", e))) return err;
    if (phx_reader_left(&b)) return bad(e, "trailing bytes after the ECDSA signature");
    phx_reader_t s = der_in(&seq);
    if (!read_scalar(&s, sig, e) || !read_scalar(&s, sig + 32, e) || phx_reader_left(&s))
        return bad(e, "bad ECDSA signature");
    return PHX_OK;
}

/* SubjectPublicKeyInfo: id-ecPublicKey on prime256v1, an uncompressed point.
 * Whether the point is on the curve is checked when the key is imported. */
static phx_err_t read_spki(phx_reader_t *r, uint8_t pub[65], phx_error_t *e)
{
    der_t spki, alg, oid, curve, bits;
    phx_err_t err;
    if ((err = der_expect(r, T_SEQUENCE, &spki, "public key", e))) return err;
    phx_reader_t s = der_in(&spki);
    if ((err = der_expect(&s, T_SEQUENCE, &alg, "public key algorithm", e))) return err;
    phx_reader_t a = der_in(&alg);
    if ((err = der_expect(&a, T_OID, &oid, "public key algorithm", e))) return err;
    if (!OID_IS(&oid, oid_ec_public_key))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: public key is not an EC key");
    if ((err = der_expect(&a, T_OID, &curve, "public key curve", e))) return err;
    if (!OID_IS(&curve, oid_prime256v1) || phx_reader_left(&a))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: public key is not on P-256");
    if ((err = der_expect(&s, T_BIT_STRING, &bits, "public key", e))) return err;
    if (bits.len != 66 || bits.p[0] != 0 || bits.p[1] != 0x04 || phx_reader_left(&s))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: public key is not an uncompressed point");
    memcpy(pub, bits.p + 1, 65);
    return PHX_OK;
}

/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue
 * OCTET STRING }. DER leaves a FALSE default out and writes TRUE as 0xFF. */
static phx_err_t read_extension(phx_reader_t *r, der_t *oid, bool *critical, der_t *value,
                                phx_error_t *e)
{
    der_t ext;
    phx_err_t err;
    if ((err = der_expect(r, T_SEQUENCE, &ext, "extension", e))) return err;
    phx_reader_t x = der_in(&ext);
    if ((err = der_expect(&x, T_OID, oid, "extension", e))) return err;
    if (!oid_ok(oid)) return bad(e, "bad extension OID");
    *critical = false;
    if (der_peek(&x, T_BOOLEAN)) {
        der_t b;
        if ((err = der_next(&x, &b, e))) return err;
        if (b.len != 1 || b.p[0] != 0xFF) return bad(e, "critical flag is not DER TRUE");
        *critical = true;
    }
    if ((err = der_expect(&x, T_OCTET_STRING, value, "extension value", e))) return err;
    if (phx_reader_left(&x)) return bad(e, "trailing bytes in an extension");
    return PHX_OK;
}

/* Extensions of one list must not repeat (RFC 5280 4.2). */
static bool seen_before(const der_t *oids, size_t n, const der_t *oid)
{
    for (size_t i = 0; i < n; i++)
        if (oids[i].len == oid->len && memcmp(oids[i].p, oid->p, oid->len) == 0) return true;
    return false;
}

#define MAX_EXTENSIONS 16

static phx_err_t read_basic_constraints(const der_t *v, bool *ca, phx_error_t *e)
{
    phx_reader_t r = der_in(v);
    der_t seq;
    if (der_expect(&r, T_SEQUENCE, &seq, "basic constraints", e) || phx_reader_left(&r))
        return bad(e, "bad basic constraints");
    phx_reader_t s = der_in(&seq);
    *ca = false;
    if (der_peek(&s, T_BOOLEAN)) {
        der_t b;
        if (der_next(&s, &b, e) || b.len != 1 || b.p[0] != 0xFF)
            return bad(e, "basic constraints cA is not DER TRUE");
        *ca = true;
    }
    if (der_peek(&s, T_INTEGER)) {
        der_t n;
        /* A path length only makes sense on a CA (OpenSSL marks it invalid). */
        if (der_next(&s, &n, e) || !int_ok(&n) || n.len > 4 || !*ca)
            return bad(e, "bad basic constraints path length");
    }
    if (phx_reader_left(&s)) return bad(e, "trailing bytes in basic constraints");
    return PHX_OK;
}

static phx_err_t read_key_usage(const der_t *v, bool *cert_sign, phx_error_t *e)
{
    phx_reader_t r = der_in(v);
    der_t bits;
    if (der_expect(&r, T_BIT_STRING, &bits, "key usage", e) || phx_reader_left(&r))
        return bad(e, "bad key usage");
    /* DER BIT STRING: 0..7 unused bits, zero, and no trailing zero octet. */
    if (bits.len < 1 || bits.p[0] > 7 || (bits.len == 1 && bits.p[0] != 0))
        return bad(e, "bad key usage bits");
    if (bits.len > 1) {
        uint8_t last = bits.p[bits.len - 1];
        if ((last & ((1u << bits.p[0]) - 1)) || last == 0) return bad(e, "key usage not in DER");
    }
    *cert_sign = bits.len > 1 && (bits.p[1] & 0x04); /* bit 5: keyCertSign */
    return PHX_OK;
}

static phx_err_t read_octets(const der_t *v, der_view_t *out, const char *what, phx_error_t *e)
{
    phx_reader_t r = der_in(v);
    der_t o;
    if (der_expect(&r, T_OCTET_STRING, &o, what, e) || phx_reader_left(&r))
        return phx_fail(e, PHX_ERR_INVALID, "DER: bad %s", what);
    *out = (der_view_t){o.p, o.len};
    return PHX_OK;
}

/* AuthorityKeyIdentifier: only the keyIdentifier form ([0]); the issuer/serial
 * form is not in Intel's profile and is refused rather than half-checked. */
static phx_err_t read_akid(const der_t *v, der_view_t *out, phx_error_t *e)
{
    phx_reader_t r = der_in(v);
    der_t seq, kid;
    if (der_expect(&r, T_SEQUENCE, &seq, "authority key identifier", e) || phx_reader_left(&r))
        return bad(e, "bad authority key identifier");
    phx_reader_t s = der_in(&seq);
    if (der_expect(&s, 0x80, &kid, "authority key identifier", e) || phx_reader_left(&s))
        return phx_fail(e, PHX_ERR_UNSUPPORTED,
                        "DER: authority key identifier is not a plain key identifier");
    *out = (der_view_t){kid.p, kid.len};
    return PHX_OK;
}

static phx_err_t read_cert_extensions(const der_t *list, x509_cert_t *c, phx_error_t *e)
{
    phx_reader_t r = der_in(list);
    der_t seq;
    phx_err_t err;
    if ((err = der_expect(&r, T_SEQUENCE, &seq, "extensions", e))) return err;
    if (phx_reader_left(&r) || seq.len == 0) return bad(e, "bad extension list");
    phx_reader_t x = der_in(&seq);
    der_t seen[MAX_EXTENSIONS];
    size_t n = 0;
    bool has_bc = false, bc_ca = false;
    while (phx_reader_left(&x)) {
        der_t oid, value;
        bool critical;
        if ((err = read_extension(&x, &oid, &critical, &value, e))) return err;
        if (n == MAX_EXTENSIONS) return bad(e, "too many extensions");
        if (seen_before(seen, n, &oid)) return bad(e, "repeated extension");
        seen[n++] = oid;
        if (OID_IS(&oid, oid_basic_constraints)) {
            if ((err = read_basic_constraints(&value, &bc_ca, e))) return err;
            has_bc = true;
        } else if (OID_IS(&oid, oid_key_usage)) {
            if ((err = read_key_usage(&value, &c->key_cert_sign, e))) return err;
            c->has_key_usage = true;
        } else if (OID_IS(&oid, oid_skid)) {
            if ((err = read_octets(&value, &c->skid, "subject key identifier", e))) return err;
        } else if (OID_IS(&oid, oid_akid)) {
            if ((err = read_akid(&value, &c->akid, e))) return err;
        } else if (OID_IS(&oid, oid_sgx)) {
            c->sgx_ext = (der_view_t){value.p, value.len};
        } else if (OID_IS(&oid, oid_netscape_cert_type)) {
            /* It could make a certificate a CA by a rule of its own. */
            return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: Netscape certificate type extension");
        } else if (critical) {
            return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: unknown critical extension");
        }
    }
    /* OpenSSL's check_ca: a key usage without keyCertSign is never a CA; then
     * basic constraints decide; a key usage alone (with keyCertSign) counts. */
    if (c->has_key_usage && !c->key_cert_sign)
        c->ca = false;
    else if (has_bc)
        c->ca = bc_ca;
    else
        c->ca = c->has_key_usage;
    return PHX_OK;
}

phx_err_t x509_cert_parse(const uint8_t *p, size_t len, x509_cert_t *c, phx_error_t *e)
{
    phx_reader_t top = phx_reader(p, len);
    der_t cert, tbs, ver, vint, serial, validity;
    der_view_t inner_alg, outer_alg;
    phx_err_t err;
    memset(c, 0, sizeof *c);
    if ((err = der_expect(&top, T_SEQUENCE, &cert, "certificate", e))) return err;
    if (phx_reader_left(&top)) return bad(e, "trailing bytes after the certificate");
    phx_reader_t cr = der_in(&cert);
    if ((err = der_expect(&cr, T_SEQUENCE, &tbs, "TBSCertificate", e))) return err;
    c->tbs = (der_view_t){tbs.tlv, tbs.tlv_len};
    if ((err = read_sig_alg(&cr, &outer_alg, e)) || (err = read_signature(&cr, c->sig, e)))
        return err;
    if (phx_reader_left(&cr)) return bad(e, "trailing bytes in the certificate");

    phx_reader_t t = der_in(&tbs);
    /* version [0] EXPLICIT: v3 only (Intel's profile; extensions need it). */
    if ((err = der_expect(&t, 0xA0, &ver, "version", e))) return err;
    phx_reader_t vr = der_in(&ver);
    if ((err = der_expect(&vr, T_INTEGER, &vint, "version", e))) return err;
    if (vint.len != 1 || vint.p[0] != 2 || phx_reader_left(&vr))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: not an X.509 v3 certificate");
    if ((err = der_expect(&t, T_INTEGER, &serial, "serial number", e))) return err;
    if (serial.len == 0 || serial.len > 20 + 1 ||
        (serial.len > 1 && ((serial.p[0] == 0 && !(serial.p[1] & 0x80)) ||
                            (serial.p[0] == 0xFF && (serial.p[1] & 0x80)))))
        return bad(e, "bad serial number");
    c->serial = (der_view_t){serial.p, serial.len};
    if ((err = read_sig_alg(&t, &inner_alg, e))) return err;
    if (!der_view_eq(inner_alg, outer_alg)) return bad(e, "the two signature algorithms differ");
    if ((err = read_name(&t, &c->issuer, NULL, "issuer", e))) return err;
    if ((err = der_expect(&t, T_SEQUENCE, &validity, "validity", e))) return err;
    phx_reader_t vv = der_in(&validity);
    if ((err = read_time(&vv, &c->not_before, "notBefore", e)) ||
        (err = read_time(&vv, &c->not_after, "notAfter", e)))
        return err;
    if (phx_reader_left(&vv)) return bad(e, "trailing bytes in the validity");
    if ((err = read_name(&t, &c->subject, &c->subject_cn, "subject", e))) return err;
    if ((err = read_spki(&t, c->pub, e))) return err;
    if (der_peek(&t, 0x81) || der_peek(&t, 0xA1) || der_peek(&t, 0x82) || der_peek(&t, 0xA2))
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: unique identifiers are not supported");
    if (phx_reader_left(&t)) {
        der_t exts;
        if ((err = der_expect(&t, 0xA3, &exts, "extensions", e))) return err;
        if ((err = read_cert_extensions(&exts, c, e))) return err;
    }
    if (phx_reader_left(&t)) return bad(e, "trailing bytes in the TBSCertificate");
    return PHX_OK;
}

/* CRL and CRL entry extensions: known ones are checked for shape only where
 * they matter; an unknown critical one (a delta CRL, an issuing distribution
 * point that narrows scope, an indirect CRL's issuer) is refused, since
 * honouring it is beyond what this reader does. */
static phx_err_t read_crl_extensions(const der_t *list, bool entry, phx_error_t *e)
{
    phx_reader_t r = der_in(list);
    der_t seq;
    phx_err_t err;
    if (entry) {
        seq = *list;
    } else {
        if ((err = der_expect(&r, T_SEQUENCE, &seq, "CRL extensions", e))) return err;
        if (phx_reader_left(&r)) return bad(e, "bad CRL extension list");
    }
    if (seq.len == 0) return bad(e, "empty CRL extension list");
    phx_reader_t x = der_in(&seq);
    der_t seen[MAX_EXTENSIONS];
    size_t n = 0;
    while (phx_reader_left(&x)) {
        der_t oid, value;
        bool critical;
        if ((err = read_extension(&x, &oid, &critical, &value, e))) return err;
        if (n == MAX_EXTENSIONS) return bad(e, "too many CRL extensions");
        if (seen_before(seen, n, &oid)) return bad(e, "repeated CRL extension");
        seen[n++] = oid;
        bool known = entry ? OID_IS(&oid, oid_reason_code) || OID_IS(&oid, oid_invalidity_date)
                           : OID_IS(&oid, oid_crl_number) || OID_IS(&oid, oid_akid);
        if (critical && !known)
            return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: unknown critical CRL extension");
    }
    return PHX_OK;
}

/* revokedCertificates entry: SEQUENCE { serial, revocationDate, extensions? } */
static phx_err_t read_crl_entry(phx_reader_t *r, der_t *serial, phx_error_t *e)
{
    der_t ent;
    phx_err_t err;
    int64_t when;
    if ((err = der_expect(r, T_SEQUENCE, &ent, "CRL entry", e))) return err;
    phx_reader_t s = der_in(&ent);
    if ((err = der_expect(&s, T_INTEGER, serial, "CRL entry serial", e))) return err;
    if (serial->len == 0 || (serial->len > 1 && ((serial->p[0] == 0 && !(serial->p[1] & 0x80)) ||
                                                 (serial->p[0] == 0xFF && (serial->p[1] & 0x80)))))
        return bad(e, "bad CRL entry serial");
    if ((err = read_time(&s, &when, "revocationDate", e))) return err;
    if (phx_reader_left(&s)) {
        der_t exts;
        if ((err = der_expect(&s, T_SEQUENCE, &exts, "CRL entry extensions", e)) ||
            (err = read_crl_extensions(&exts, true, e)))
            return err;
    }
    if (phx_reader_left(&s)) return bad(e, "trailing bytes in a CRL entry");
    return PHX_OK;
}

phx_err_t x509_crl_parse(const uint8_t *p, size_t len, x509_crl_t *crl, phx_error_t *e)
{
    phx_reader_t top = phx_reader(p, len);
    der_t list, tbs;
    der_view_t inner_alg, outer_alg;
    phx_err_t err;
    memset(crl, 0, sizeof *crl);
    if ((err = der_expect(&top, T_SEQUENCE, &list, "CRL", e))) return err;
    if (phx_reader_left(&top)) return bad(e, "trailing bytes after the CRL");
    phx_reader_t lr = der_in(&list);
    if ((err = der_expect(&lr, T_SEQUENCE, &tbs, "TBSCertList", e))) return err;
    crl->tbs = (der_view_t){tbs.tlv, tbs.tlv_len};
    if ((err = read_sig_alg(&lr, &outer_alg, e)) || (err = read_signature(&lr, crl->sig, e)))
        return err;
    if (phx_reader_left(&lr)) return bad(e, "trailing bytes in the CRL");

    phx_reader_t t = der_in(&tbs);
    bool v2 = false;
    if (der_peek(&t, T_INTEGER)) {
        der_t ver;
        if ((err = der_next(&t, &ver, e))) return err;
        if (ver.len != 1 || ver.p[0] != 1)
            return phx_fail(e, PHX_ERR_UNSUPPORTED, "DER: CRL version is not v2");
        v2 = true;
    }
    if ((err = read_sig_alg(&t, &inner_alg, e))) return err;
    if (!der_view_eq(inner_alg, outer_alg))
        return bad(e, "the two CRL signature algorithms differ");
    if ((err = read_name(&t, &crl->issuer, NULL, "CRL issuer", e))) return err;
    if ((err = read_time(&t, &crl->this_update, "thisUpdate", e))) return err;
    crl->next_update = INT64_MAX;
    if (der_peek(&t, T_UTCTIME) || der_peek(&t, T_GENTIME))
        if ((err = read_time(&t, &crl->next_update, "nextUpdate", e))) return err;
    if (der_peek(&t, T_SEQUENCE)) {
        der_t revoked;
        if ((err = der_next(&t, &revoked, e))) return err;
        if (revoked.len == 0) return bad(e, "empty revokedCertificates");
        phx_reader_t rr = der_in(&revoked);
        while (phx_reader_left(&rr)) {
            der_t serial;
            if ((err = read_crl_entry(&rr, &serial, e))) return err;
            crl->n_revoked++;
        }
        crl->revoked = (der_view_t){revoked.p, revoked.len};
    }
    if (phx_reader_left(&t)) {
        der_t exts;
        if (!v2) return bad(e, "CRL extensions in a v1 CRL");
        if ((err = der_expect(&t, 0xA0, &exts, "CRL extensions", e)) ||
            (err = read_crl_extensions(&exts, false, e)))
            return err;
    }
    if (phx_reader_left(&t)) return bad(e, "trailing bytes in the TBSCertList");
    return PHX_OK;
}

/* The entries were checked when the CRL was parsed; this walks them again. */
der_view_t x509_crl_entry_serial(const x509_crl_t *crl, size_t i)
{
    phx_reader_t r = phx_reader(crl->revoked.p, crl->revoked.len);
    der_t serial = {0};
    for (size_t k = 0; k <= i; k++)
        if (read_crl_entry(&r, &serial, NULL)) return (der_view_t){NULL, 0};
    return (der_view_t){serial.p, serial.len};
}

bool x509_crl_lists(const x509_crl_t *crl, der_view_t serial)
{
    phx_reader_t r = phx_reader(crl->revoked.p, crl->revoked.len);
    while (phx_reader_left(&r)) {
        der_t s;
        if (read_crl_entry(&r, &s, NULL)) return true; /* cannot happen: refuse, not accept */
        if (der_view_eq((der_view_t){s.p, s.len}, serial)) return true;
    }
    return false;
}
