/* The TEE interface and its three backends. sim: TDX v4 quotes signed through the
 * sim PCS (sim_pcs.c), MRTD = SHA-384 of the phx binary, RTMR0 = extend of its
 * configuration; its SGX flavour (sim-sgx): SGX v3 quotes from the sim SGX QE,
 * MRENCLAVE = SHA-256(MRTD || RTMR0). tdx: Linux configfs-tsm (Documentation/ABI/testing/
 * configfs-tsm): write inblob, read outblob, generation must not move. sgx:
 * Gramine's /dev/attestation (user_report_data, quote, keys/_sgx_mrenclave). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "phx/crypto.h"
#include "tee_internal.h"

static const char *const kind_names[] = {NULL, "sim", "tdx", "sgx"};

phx_err_t phx_tee_kind_parse(const char *name, phx_tee_kind_t *out, phx_error_t *e)
{
    for (int i = 1; i <= 3; i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *out = (phx_tee_kind_t)i;
            return PHX_OK;
        }
    return phx_fail(e, PHX_ERR_INVALID, "unknown TEE \"%.20s\" (sim, tdx or sgx)",
                    name ? name : "");
}

phx_err_t phx_tee_spec_parse(const char *name, phx_tee_kind_t *kind, phx_tee_config_t *config,
                             phx_error_t *e)
{
    if (name && strcmp(name, "sim-noseal") == 0) {
        *kind = PHX_TEE_SIM;
        config->sim_no_seal = true;
        return PHX_OK;
    }
    if (name && strcmp(name, "sim-sgx") == 0) {
        *kind = PHX_TEE_SIM;
        config->sim_sgx = true;
        return PHX_OK;
    }
    phx_err_t err = phx_tee_kind_parse(name, kind, e);
    if (err)
        phx_fail(e, err, "unknown TEE \"%.20s\" (sim, sim-sgx, sim-noseal, tdx or sgx)",
                 name ? name : "");
    return err;
}

bool phx_tee_can_seal(const phx_tee_t *t)
{
    return t->kind != PHX_TEE_TDX && !t->no_seal;
}

const char *phx_tee_kind_name(phx_tee_kind_t kind)
{
    return kind >= PHX_TEE_SIM && kind <= PHX_TEE_SGX ? kind_names[kind] : "unknown";
}

phx_tee_kind_t phx_tee_kind(const phx_tee_t *t)
{
    return t->kind;
}

phx_err_t phx_tee_sim_default_dir(char *buf, size_t len, phx_error_t *e)
{
    return phx_home_dir("sim", buf, len, e);
}

phx_err_t tee_read_file_exact(const char *path, uint8_t *dst, size_t n, phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true;
    phx_err_t err = phx_file_read(path, &b, e);
    if (!err && b.len != n)
        err = phx_fail(e, PHX_ERR_INVALID, "%s has %zu bytes, want %zu", path, b.len, n);
    if (!err) memcpy(dst, b.ptr, n);
    phx_buf_free(&b);
    return err;
}

static phx_err_t read_in(const char *dir, const char *name, phx_buf_t *out, phx_error_t *e)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return phx_file_read(path, out, e);
}

static phx_err_t write_to(const char *path, const void *p, size_t n, phx_error_t *e)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_TRUNC);
    if (fd < 0) return phx_fail(e, PHX_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    ssize_t w = write(fd, p, n);
    int saved = errno;
    close(fd);
    if (w < 0 || (size_t)w != n)
        return phx_fail(e, PHX_ERR_IO, "cannot write %s: %s", path,
                        w < 0 ? strerror(saved) : "short write");
    return PHX_OK;
}

/* ---- sim ------------------------------------------------------------------------------- */

static phx_err_t sha384_file(const char *path, uint8_t out[48], phx_error_t *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return phx_fail(e, PHX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha384(), NULL) == 1;
    uint8_t buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    int bad = ferror(f) || !ok;
    fclose(f);
    if (!bad) bad = EVP_DigestFinal_ex(ctx, out, NULL) != 1;
    EVP_MD_CTX_free(ctx);
    if (bad) return phx_fail(e, PHX_ERR_IO, "cannot hash %s", path);
    return PHX_OK;
}

static phx_err_t sim_open(phx_tee_t *t, const phx_tee_config_t *c, phx_error_t *e)
{
    phx_err_t err;
    struct stat st;
    char path[PATH_MAX + 64];
    if (c->sim_dir)
        snprintf(t->dir, sizeof t->dir, "%s", c->sim_dir);
    else if ((err = phx_tee_sim_default_dir(t->dir, sizeof t->dir, e)))
        return err;
    snprintf(path, sizeof path, "%s/%s", t->dir, SIM_SECRET);
    if (stat(path, &st) != 0 && (err = sim_pcs_create(t->dir, e)))
        return phx_error_wrap(e, err, "creating sim TEE in %s", t->dir);

    phx_buf_t pem = PHX_BUF_INIT;
    const char *att_name = t->sgx ? SIM_ATT_KEY_SGX : SIM_ATT_KEY;
    snprintf(path, sizeof path, "%s/%s", t->dir, att_name);
    if (t->sgx && stat(path, &st) != 0)
        return phx_fail(e, PHX_ERR_NOT_FOUND,
                        "the sim TEE directory %s has no SGX flavour (made by an older phx): "
                        "remove it to have it made again",
                        t->dir);
    if ((err = read_in(t->dir, att_name, &pem, e))) return err;
    BIO *b = BIO_new_mem_buf(pem.ptr, (int)pem.len);
    t->att_key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    phx_secure_zero(pem.ptr, pem.len);
    phx_buf_free(&pem);
    if (!t->att_key) return phx_fail(e, PHX_ERR_INVALID, "%s/%s is not a key", t->dir, att_name);
    if ((err = tee_pub_raw(t->att_key, t->att_pub, e))) return err;
    snprintf(path, sizeof path, "%s/%s", t->dir, t->sgx ? SIM_QE_SGX : SIM_QE);
    if ((err = tee_read_file_exact(path, t->qe, sizeof t->qe, e))) return err;
    snprintf(path, sizeof path, "%s/%s", t->dir, SIM_SECRET);
    if ((err = tee_read_file_exact(path, t->secret, sizeof t->secret, e))) return err;
    if ((err = read_in(t->dir, SIM_PCK_CHAIN, &t->pck_chain, e)) ||
        (err = phx_buf_append_byte(&t->pck_chain, 0)))
        return err;

    /* The measurement: MRTD is the binary, RTMR0 extends the configuration. */
    if ((err = sha384_file(c->sim_binary ? c->sim_binary : "/proc/self/exe", t->mr_td, e)))
        return err;
    uint8_t cfg[48], buf[96] = {0};
    if (c->sim_config) {
        if ((err = sha384_file(c->sim_config, cfg, e))) return err;
    } else {
        phx_sha384("", 0, cfg);
    }
    memcpy(buf + 48, cfg, 48); /* RTMR extend: new = SHA-384(old || digest), old = 0 */
    phx_sha384(buf, sizeof buf, t->rt_mr0);
    /* SGX: MRENCLAVE covers the code and its configuration (as a Gramine
     * manifest's hash does); MRSIGNER is the sim enclave signing key's. */
    memcpy(buf, t->mr_td, 48);
    memcpy(buf + 48, t->rt_mr0, 48);
    phx_sha256(buf, sizeof buf, t->mr_enclave);
    static const char signer[] = "phalanx sim enclave signer";
    phx_sha256(signer, sizeof signer - 1, t->mr_signer);
    return PHX_OK;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static const uint8_t intel_qe_vendor[16] = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                            0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

/* The QE part both quote formats share: QE report, its signature, QE auth data
 * and certification data type 5 (the PCK chain). */
static phx_err_t sim_qe_part(phx_tee_t *t, phx_buf_t *out)
{
    uint8_t auth[SIM_QE_AUTH_LEN], hdr[6];
    for (int i = 0; i < SIM_QE_AUTH_LEN; i++)
        auth[i] = (uint8_t)i;
    phx_err_t err = phx_buf_append(out, t->qe, sizeof t->qe);
    put16(hdr, SIM_QE_AUTH_LEN);
    if (!err) err = phx_buf_append(out, hdr, 2);
    if (!err) err = phx_buf_append(out, auth, sizeof auth);
    put16(hdr, 5);
    put32(hdr + 2, (uint32_t)t->pck_chain.len);
    if (!err) err = phx_buf_append(out, hdr, 6);
    if (!err) err = phx_buf_append(out, t->pck_chain.ptr, t->pck_chain.len);
    return err;
}

/* An SGX quote v3 (Intel SGX ECDSA Quote Library API, A.4): header (tee_type
 * 0), the ISV enclave report, then the ECDSA signature data with the QE report
 * and its certification data directly (no type-6 wrapper in v3). */
static phx_err_t sim_quote_sgx(phx_tee_t *t, const uint8_t rd[64], phx_buf_t *out, phx_error_t *e)
{
    uint8_t body[PHX_QUOTE_HEADER_LEN + PHX_SGX_REPORT_LEN] = {0};
    uint8_t *h = body, *r = body + PHX_QUOTE_HEADER_LEN;
    put16(h, 3);
    put16(h + 2, 2); /* ECDSA-256 with P-256 */
    put32(h + 4, PHX_QUOTE_TEE_SGX);
    put16(h + 8, SIM_QE_ISVSVN);
    put16(h + 10, 1); /* PCESVN, as the PCK certificate's */
    memcpy(h + 12, intel_qe_vendor, 16);
    for (int i = 0; i < 16; i++)
        r[i] = 1; /* CPUSVN: the platform components of the PCK certificate */
    r[48] = 0x05; /* ATTRIBUTES: INIT | MODE64BIT, not DEBUG */
    r[56] = 0x03; /* XFRM: x87 | SSE */
    memcpy(r + 64, t->mr_enclave, 32);
    memcpy(r + 128, t->mr_signer, 32);
    put16(r + 256, 1); /* ISVPRODID */
    put16(r + 258, 1); /* ISVSVN */
    memcpy(r + 320, rd, 64);
    uint8_t sig[64], len[4];
    phx_err_t err = tee_sign_raw(t->att_key, body, sizeof body, sig, e);
    if (err) return err;
    size_t sig_len = 64 + 64 + sizeof t->qe + 2 + SIM_QE_AUTH_LEN + 6 + t->pck_chain.len;
    put32(len, (uint32_t)sig_len);
    if ((err = phx_buf_append(out, body, sizeof body)) || (err = phx_buf_append(out, len, 4)) ||
        (err = phx_buf_append(out, sig, 64)) || (err = phx_buf_append(out, t->att_pub, 64)) ||
        (err = sim_qe_part(t, out)))
        return phx_fail(e, err, "sim SGX quote");
    return PHX_OK;
}

/* A TDX quote v4 (Intel TDX DCAP Quote Library API, A.3): header, TD report 1.0,
 * then the ECDSA signature data with the type-6 QE report certification data. */
static phx_err_t sim_quote(phx_tee_t *t, const uint8_t rd[64], phx_buf_t *out, phx_error_t *e)
{
    if (t->sgx) return sim_quote_sgx(t, rd, out, e);
    uint8_t body[PHX_QUOTE_HEADER_LEN + PHX_TD10_REPORT_LEN] = {0};
    uint8_t *h = body, *r = body + PHX_QUOTE_HEADER_LEN;
    put16(h, 4);
    put16(h + 2, 2);
    put32(h + 4, PHX_QUOTE_TEE_TDX);
    put16(h + 8, SIM_QE_ISVSVN);
    put16(h + 10, 1);
    memcpy(h + 12, intel_qe_vendor, 16);
    r[1] = 1; /* tee_tcb_svn: module SVN 0, major version 1 -> identity TDX_01 */
    static const char seam[] = "phalanx sim tdx module";
    phx_sha384(seam, sizeof seam - 1, r + 16); /* MRSEAM */
    r[16 + 96 + 8 + 3] = 0x10;                 /* TDATTRIBUTES: SEPT_VE_DISABLE */
    r[128] = 0xE7;                             /* XFAM as a typical Linux TD */
    r[129] = 0x02;
    r[130] = 0x06;
    memcpy(r + 136, t->mr_td, 48);
    memcpy(r + 328, t->rt_mr0, 48);
    memcpy(r + 520, rd, 64);

    uint8_t sig[64];
    phx_err_t err = tee_sign_raw(t->att_key, body, sizeof body, sig, e);
    if (err) return err;
    size_t inner_len = 384 + 64 + 2 + SIM_QE_AUTH_LEN + 2 + 4 + t->pck_chain.len;
    size_t sig_len = 64 + 64 + 2 + 4 + inner_len;
    uint8_t hdr[8];
    put32(hdr, (uint32_t)sig_len);
    if ((err = phx_buf_append(out, body, sizeof body)) || (err = phx_buf_append(out, hdr, 4)) ||
        (err = phx_buf_append(out, sig, 64)) || (err = phx_buf_append(out, t->att_pub, 64)))
        return err;
    put16(hdr, 6);
    put32(hdr + 2, (uint32_t)inner_len);
    if ((err = phx_buf_append(out, hdr, 6)) || (err = sim_qe_part(t, out))) return err;
    return PHX_OK;
}

phx_err_t phx_tee_sim_read_root(const char *dir, phx_buf_t *der, phx_error_t *e)
{
    phx_err_t err = read_in(dir, SIM_ROOT_DER, der, e);
    if (err) return phx_error_wrap(e, err, "sim root (is %s a sim TEE directory?)", dir);
    return PHX_OK;
}

phx_err_t phx_tee_sim_collateral(phx_tee_t *t, phx_buf_t *json, phx_error_t *e)
{
    if (t->kind != PHX_TEE_SIM)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "collateral comes from Intel PCS for %s",
                        phx_tee_kind_name(t->kind));
    return read_in(t->dir, t->sgx ? SIM_COLLATERAL_SGX : SIM_COLLATERAL, json, e);
}

bool phx_tee_sim_is_sgx(const phx_tee_t *t)
{
    return t->kind == PHX_TEE_SIM && t->sgx;
}

phx_err_t phx_tee_sim_read_collateral(const char *dir, uint32_t tee_type, phx_buf_t *json,
                                      phx_error_t *e)
{
    if (tee_type != PHX_QUOTE_TEE_SGX && tee_type != PHX_QUOTE_TEE_TDX)
        return phx_fail(e, PHX_ERR_UNSUPPORTED, "no sim collateral for tee_type %#x", tee_type);
    phx_err_t err =
        read_in(dir, tee_type == PHX_QUOTE_TEE_SGX ? SIM_COLLATERAL_SGX : SIM_COLLATERAL, json, e);
    if (err)
        return phx_error_wrap(e, err, "sim %s collateral (is %s a sim TEE directory?)",
                              tee_type == PHX_QUOTE_TEE_SGX ? "SGX" : "TDX", dir);
    return PHX_OK;
}

phx_err_t phx_tee_quote_tee_type(const uint8_t *quote, size_t len, uint32_t *tee_type,
                                 phx_error_t *e)
{
    if (len < PHX_QUOTE_HEADER_LEN)
        return phx_fail(e, PHX_ERR_TRUNCATED, "a quote of %zu bytes has no header", len);
    *tee_type = (uint32_t)quote[4] | (uint32_t)quote[5] << 8 | (uint32_t)quote[6] << 16 |
                (uint32_t)quote[7] << 24;
    return PHX_OK;
}

phx_err_t phx_tee_sim_root(phx_tee_t *t, phx_buf_t *der, phx_error_t *e)
{
    if (t->kind != PHX_TEE_SIM) return phx_fail(e, PHX_ERR_UNSUPPORTED, "not a sim TEE");
    return phx_tee_sim_read_root(t->dir, der, e);
}

/* ---- tdx: configfs-tsm --------------------------------------------------------------- */

static phx_err_t read_generation(const char *entry, long *gen, phx_error_t *e)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_err_t err = read_in(entry, "generation", &b, e);
    if (!err) {
        char *end;
        errno = 0;
        *gen = strtol(b.ptr ? (char *)b.ptr : "", &end, 10);
        if (errno || end == (char *)b.ptr)
            err = phx_fail(e, PHX_ERR_INVALID, "%s/generation is not a number", entry);
    }
    phx_buf_free(&b);
    return err;
}

static phx_err_t tdx_quote(phx_tee_t *t, const uint8_t rd[64], phx_buf_t *out, phx_error_t *e)
{
    char entry[PATH_MAX + 300], path[PATH_MAX + 400];
    phx_err_t err;
    snprintf(entry, sizeof entry, "%s/%s", t->dir, t->entry);
    if ((err = phx_dir_ensure(entry, 0700, e))) return err;
    phx_buf_t provider = PHX_BUF_INIT;
    if (read_in(entry, "provider", &provider, NULL) == PHX_OK && provider.len &&
        strncmp((char *)provider.ptr, "tdx_guest", 9) != 0) {
        err = phx_fail(e, PHX_ERR_UNSUPPORTED, "configfs-tsm provider is %.*s, not tdx_guest",
                       (int)(provider.len > 32 ? 32 : provider.len), (char *)provider.ptr);
        phx_buf_free(&provider);
        return err;
    }
    phx_buf_free(&provider);
    long gen0, gen1;
    snprintf(path, sizeof path, "%s/inblob", entry);
    if ((err = write_to(path, rd, 64, e)) || (err = read_generation(entry, &gen0, e))) return err;
    size_t start = out->len;
    if ((err = read_in(entry, "outblob", out, e)) || (err = read_generation(entry, &gen1, e)))
        return err;
    /* Another writer between our inblob and outblob: the quote may not be ours. */
    if (gen0 != gen1) {
        out->len = start;
        return phx_fail(e, PHX_ERR_STATE, "configfs-tsm entry %s changed while reading", entry);
    }
    return PHX_OK;
}

/* ---- sgx: Gramine --------------------------------------------------------------------- */

static phx_err_t sgx_quote(phx_tee_t *t, const uint8_t rd[64], phx_buf_t *out, phx_error_t *e)
{
    char path[PATH_MAX + 64];
    phx_buf_t type = PHX_BUF_INIT;
    if (read_in(t->dir, "attestation_type", &type, NULL) == PHX_OK && type.len &&
        strncmp((char *)type.ptr, "dcap", 4) != 0) {
        phx_err_t err =
            phx_fail(e, PHX_ERR_UNSUPPORTED, "Gramine attestation type is %.*s, not dcap",
                     (int)(type.len > 16 ? 16 : type.len), (char *)type.ptr);
        phx_buf_free(&type);
        return err;
    }
    phx_buf_free(&type);
    snprintf(path, sizeof path, "%s/user_report_data", t->dir);
    phx_err_t err = write_to(path, rd, 64, e);
    if (!err) err = read_in(t->dir, "quote", out, e);
    return err;
}

/* ---- the interface ---------------------------------------------------------------------- */

phx_err_t phx_tee_open(phx_tee_kind_t kind, const phx_tee_config_t *config, phx_tee_t **out,
                       phx_error_t *e)
{
    phx_tee_config_t none = {0};
    const phx_tee_config_t *c = config ? config : &none;
    phx_err_t err = PHX_OK;
    *out = NULL;
    if (kind == PHX_TEE_SIM && c->production)
        return phx_fail(e, PHX_ERR_POLICY, "the sim TEE is refused in production mode");
    phx_tee_t *t = calloc(1, sizeof *t);
    if (!t) return phx_fail(e, PHX_ERR_NOMEM, "tee");
    t->kind = kind;
    t->no_seal = kind == PHX_TEE_SIM && c->sim_no_seal;
    t->sgx = kind == PHX_TEE_SIM && c->sim_sgx;
    struct stat st;
    switch (kind) {
    case PHX_TEE_SIM:
        err = sim_open(t, c, e);
        break;
    case PHX_TEE_TDX:
        snprintf(t->dir, sizeof t->dir, "%s",
                 c->tsm_dir ? c->tsm_dir : "/sys/kernel/config/tsm/report");
        if (c->tsm_entry)
            snprintf(t->entry, sizeof t->entry, "%s", c->tsm_entry);
        else
            snprintf(t->entry, sizeof t->entry, "phx-%ld", (long)getpid());
        if (strchr(t->entry, '/') || !strcmp(t->entry, "..") || !strcmp(t->entry, "."))
            err = phx_fail(e, PHX_ERR_INVALID, "bad configfs-tsm entry name");
        else if (stat(t->dir, &st) != 0 || !S_ISDIR(st.st_mode))
            err =
                phx_fail(e, PHX_ERR_NOT_FOUND, "no configfs-tsm at %s (not a TDX guest?)", t->dir);
        break;
    case PHX_TEE_SGX:
        snprintf(t->dir, sizeof t->dir, "%s", c->sgx_dir ? c->sgx_dir : "/dev/attestation");
        if (stat(t->dir, &st) != 0 || !S_ISDIR(st.st_mode))
            err = phx_fail(e, PHX_ERR_NOT_FOUND, "no Gramine attestation at %s (not in SGX?)",
                           t->dir);
        break;
    default:
        err = phx_fail(e, PHX_ERR_INVALID, "unknown TEE kind %d", (int)kind);
    }
    if (err) {
        phx_tee_close(t);
        return err;
    }
    *out = t;
    return PHX_OK;
}

void phx_tee_close(phx_tee_t *t)
{
    if (!t) return;
    if (t->kind == PHX_TEE_TDX && t->entry[0]) {
        /* configfs entries are removed with rmdir; a plain directory (a test's
         * fake tree) that still holds files stays. */
        char entry[PATH_MAX + 300];
        snprintf(entry, sizeof entry, "%s/%s", t->dir, t->entry);
        rmdir(entry);
    }
    EVP_PKEY_free(t->att_key);
    phx_buf_free(&t->pck_chain);
    phx_secure_zero(t, sizeof *t);
    free(t);
}

phx_err_t phx_tee_quote(phx_tee_t *t, const uint8_t report_data[64], phx_buf_t *quote,
                        phx_error_t *e)
{
    size_t start = quote->len;
    phx_err_t err;
    switch (t->kind) {
    case PHX_TEE_SIM:
        err = sim_quote(t, report_data, quote, e);
        break;
    case PHX_TEE_TDX:
        err = tdx_quote(t, report_data, quote, e);
        break;
    default:
        err = sgx_quote(t, report_data, quote, e);
    }
    if (err) return err;
    /* The quote must carry what we asked for: a stale or foreign quote is an error. */
    phx_quote_t q;
    if ((err = phx_quote_parse(quote->ptr + start, quote->len - start, &q, e))) {
        quote->len = start;
        return phx_error_wrap(e, err, "the %s TEE returned a bad quote",
                              phx_tee_kind_name(t->kind));
    }
    const uint8_t *got = q.report_type == PHX_REPORT_SGX ? q.sgx.report_data : q.td.report_data;
    if (memcmp(got, report_data, 64) != 0) {
        quote->len = start;
        return phx_fail(e, PHX_ERR_STATE, "the %s TEE returned a quote over other report data",
                        phx_tee_kind_name(t->kind));
    }
    return PHX_OK;
}

phx_err_t phx_tee_measurement(phx_tee_t *t, phx_tee_measurement_t *m, phx_error_t *e)
{
    uint8_t zero[64] = {0};
    phx_buf_t quote = PHX_BUF_INIT;
    phx_quote_t q;
    memset(m, 0, sizeof *m);
    phx_err_t err = phx_tee_quote(t, zero, &quote, e);
    if (!err) err = phx_quote_parse(quote.ptr, quote.len, &q, e);
    if (!err) {
        m->type = q.report_type;
        if (q.report_type == PHX_REPORT_SGX) {
            memcpy(m->mr_enclave, q.sgx.mr_enclave, 32);
            memcpy(m->mr_signer, q.sgx.mr_signer, 32);
            uint8_t both[64];
            memcpy(both, m->mr_enclave, 32);
            memcpy(both + 32, m->mr_signer, 32);
            phx_sha256(both, 64, m->digest);
        } else {
            uint8_t all[5 * 48];
            memcpy(m->mr_td, q.td.mr_td, 48);
            memcpy(m->rt_mr, q.td.rt_mr, sizeof m->rt_mr);
            memcpy(all, m->mr_td, 48);
            memcpy(all + 48, m->rt_mr, 4 * 48);
            phx_sha256(all, sizeof all, m->digest);
        }
    }
    phx_buf_free(&quote);
    return err;
}

phx_err_t phx_tee_seal_key(phx_tee_t *t, const char *label, uint8_t key[32], phx_error_t *e)
{
    uint8_t ikm[32];
    size_t ikm_len = 0;
    phx_tee_measurement_t m;
    phx_err_t err;
    if (!phx_tee_can_seal(t))
        return phx_fail(e, PHX_ERR_UNSUPPORTED,
                        "%s has no sealing key: identities are fresh each boot and the KMS "
                        "root comes from a peer KMS",
                        t->kind == PHX_TEE_TDX ? "TDX" : "this sim TEE (sim-noseal)");
    if ((err = phx_tee_measurement(t, &m, e))) return err;
    if (t->kind == PHX_TEE_SIM) {
        memcpy(ikm, t->secret, 32);
        ikm_len = 32;
    } else {
        /* Gramine: a 128-bit key bound to MRENCLAVE by the CPU (EGETKEY). */
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/keys/_sgx_mrenclave", t->dir);
        if ((err = tee_read_file_exact(path, ikm, 16, e))) return err;
        ikm_len = 16;
    }
    /* HKDF: salt = the measurement digest, info = "phx-seal-v1/" || label. */
    phx_buf_t info = PHX_BUF_INIT;
    err = phx_buf_printf(&info, "phx-seal-v1/%s", label ? label : "");
    if (!err)
        err = phx_hkdf_sha256(m.digest, 32, ikm, ikm_len, info.ptr, info.len, key, 32)
                  ? phx_fail(e, PHX_ERR_CRYPTO, "HKDF failed")
                  : PHX_OK;
    phx_secure_zero(ikm, sizeof ikm);
    phx_buf_free(&info);
    return err;
}
