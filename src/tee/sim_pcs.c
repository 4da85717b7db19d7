/* The sim TEE's own PCS: a root CA, a PCK CA, a PCK leaf with the Intel SGX
 * extension (Intel SGX PCK Certificate and CRL Profile), a TCB signing cert, both
 * CRLs, TCB Info v3 (TDX) and QE Identity v2 (TD_QE) signed like Intel's, and a
 * QE with its attestation key. Made once per sim directory; quotes it signs have
 * Intel's format, so the production verifier checks them given this root only. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "phx/crypto.h"
#include "phx/json.h"
#include "tee_internal.h"

const uint8_t sim_fmspc[6] = {0x50, 0x48, 0x58, 0x53, 0x49, 0x4D}; /* "PHXSIM" */

void sim_qe_mrsigner(uint8_t out[32])
{
    static const char tag[] = "phalanx sim quoting enclave signer";
    SHA256((const uint8_t *)tag, sizeof tag - 1, out);
}

/* ---- keys and raw signatures ------------------------------------------------------ */

phx_err_t tee_sign_raw(EVP_PKEY *key, const void *msg, size_t len, uint8_t rs[64], phx_error_t *e)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t der_len = sizeof der;
    ECDSA_SIG *sig = NULL;
    phx_err_t err = phx_fail(e, PHX_ERR_CRYPTO, "P-256 signing failed");
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestSign(ctx, der, &der_len, msg, len) != 1)
        goto out;
    const unsigned char *p = der;
    if (!(sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len))) goto out;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) != 32)
        goto out;
    err = PHX_OK;
out:
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    return err;
}

phx_err_t tee_pub_raw(EVP_PKEY *key, uint8_t pub[64], phx_error_t *e)
{
    uint8_t buf[65];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", buf, sizeof buf, &n) != 1 ||
        n != 65 || buf[0] != 0x04)
        return phx_fail(e, PHX_ERR_CRYPTO, "not an uncompressed P-256 key");
    memcpy(pub, buf + 1, 64);
    return PHX_OK;
}

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

/* ---- DER for the SGX extension ------------------------------------------------------ */

static phx_err_t der_put(phx_buf_t *out, uint8_t tag, const void *content, size_t len)
{
    uint8_t hdr[4];
    size_t h = 0;
    hdr[h++] = tag;
    if (len < 0x80) {
        hdr[h++] = (uint8_t)len;
    } else if (len < 0x100) {
        hdr[h++] = 0x81;
        hdr[h++] = (uint8_t)len;
    } else {
        hdr[h++] = 0x82;
        hdr[h++] = (uint8_t)(len >> 8);
        hdr[h++] = (uint8_t)len;
    }
    if (phx_buf_append(out, hdr, h) || phx_buf_append(out, content, len)) return PHX_ERR_NOMEM;
    return PHX_OK;
}

static const uint8_t sgx_oid[] = {0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01};

/* SEQUENCE { OID sgx_oid.suffix, value } appended to out. */
static phx_err_t der_item(phx_buf_t *out, const uint8_t *suffix, size_t suffix_len, uint8_t tag,
                          const void *value, size_t value_len)
{
    phx_buf_t inner = PHX_BUF_INIT, oid = PHX_BUF_INIT;
    phx_err_t err = phx_buf_append(&oid, sgx_oid, sizeof sgx_oid);
    if (!err) err = phx_buf_append(&oid, suffix, suffix_len);
    if (!err) err = der_put(&inner, 0x06, oid.ptr, oid.len);
    if (!err) err = der_put(&inner, tag, value, value_len);
    if (!err) err = der_put(out, 0x30, inner.ptr, inner.len);
    phx_buf_free(&inner);
    phx_buf_free(&oid);
    return err;
}

static phx_err_t sgx_extension(const uint8_t ppid[16], const uint8_t comps[16], uint16_t pcesvn,
                               phx_buf_t *out)
{
    phx_buf_t items = PHX_BUF_INIT, tcb = PHX_BUF_INIT;
    phx_err_t err = PHX_OK;
    const uint8_t s_ppid[] = {1}, s_tcb[] = {2}, s_pceid[] = {3}, s_fmspc[] = {4}, s_type[] = {5};
    for (uint8_t i = 1; i <= 16 && !err; i++) {
        const uint8_t suffix[] = {2, i};
        uint8_t v[2] = {0, comps[i - 1]};
        /* DER INTEGER: a leading zero only when the high bit is set. */
        err = comps[i - 1] & 0x80 ? der_item(&tcb, suffix, 2, 0x02, v, 2)
                                  : der_item(&tcb, suffix, 2, 0x02, v + 1, 1);
    }
    uint8_t pce[3] = {0, (uint8_t)(pcesvn >> 8), (uint8_t)pcesvn};
    const uint8_t s17[] = {2, 17}, s18[] = {2, 18}, pce_id[2] = {0, 0}, sgx_type = 0;
    size_t skip = pcesvn >= 0x8000 ? 0 : pcesvn >= 0x80 ? 1 : 2;
    if (!err) err = der_item(&tcb, s17, 2, 0x02, pce + skip, 3 - skip);
    if (!err) err = der_item(&tcb, s18, 2, 0x04, comps, 16);
    if (!err) err = der_item(&items, s_ppid, 1, 0x04, ppid, 16);
    if (!err) err = der_item(&items, s_tcb, 1, 0x30, tcb.ptr, tcb.len);
    if (!err) err = der_item(&items, s_pceid, 1, 0x04, pce_id, 2);
    if (!err) err = der_item(&items, s_fmspc, 1, 0x04, sim_fmspc, 6);
    if (!err) err = der_item(&items, s_type, 1, 0x0A, &sgx_type, 1);
    if (!err) err = der_put(out, 0x30, items.ptr, items.len);
    phx_buf_free(&items);
    phx_buf_free(&tcb);
    return err;
}

/* ---- certificates and CRLs ------------------------------------------------------------ */

static X509_NAME *sim_name(const char *cn)
{
    X509_NAME *n = X509_NAME_new();
    if (!n) return NULL;
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"Phalanx Simulated PCS",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC, (const unsigned char *)"ZZ", -1, -1, 0);
    return n;
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext) return 0;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* issuer == NULL: self-signed. sgx_ext: DER of the SGX extension for a PCK leaf. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       long serial, bool ca, const phx_buf_t *sgx_ext, time_t now)
{
    X509 *c = X509_new();
    X509_NAME *name = sim_name(cn);
    bool ok = c && name && X509_set_version(c, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(c), serial) &&
              X509_set_subject_name(c, name) &&
              X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name) &&
              X509_time_adj_ex(X509_getm_notBefore(c), 0, -3600, &now) &&
              X509_time_adj_ex(X509_getm_notAfter(c), 20 * 365, 0, &now) && X509_set_pubkey(c, key);
    X509 *iss = issuer ? issuer : c;
    if (ok) {
        ok =
            add_ext(c, iss, NID_subject_key_identifier, "hash") &&
            add_ext(c, iss, NID_authority_key_identifier, "keyid:always") &&
            add_ext(c, iss, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
            add_ext(c, iss, NID_key_usage,
                    ca ? "critical,keyCertSign,cRLSign"
                       : "critical,digitalSignature,nonRepudiation");
    }
    if (ok && sgx_ext) {
        ASN1_OBJECT *obj = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext = NULL;
        ok = obj && os && ASN1_OCTET_STRING_set(os, sgx_ext->ptr, (int)sgx_ext->len) &&
             (ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) && X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(os);
        ASN1_OBJECT_free(obj);
    }
    if (ok) ok = X509_sign(c, issuer_key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(c);
        return NULL;
    }
    return c;
}

static X509_CRL *make_crl(X509 *issuer, EVP_PKEY *key, time_t now, time_t next)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t1 = ASN1_TIME_set(NULL, now - 3600), *t2 = ASN1_TIME_set(NULL, next);
    bool ok = crl && t1 && t2 && X509_CRL_set_version(crl, 1) &&
              X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) &&
              X509_CRL_set1_lastUpdate(crl, t1) && X509_CRL_set1_nextUpdate(crl, t2) &&
              X509_CRL_sign(crl, key, EVP_sha256()) > 0;
    ASN1_TIME_free(t1);
    ASN1_TIME_free(t2);
    if (!ok) {
        X509_CRL_free(crl);
        return NULL;
    }
    return crl;
}

static phx_err_t cert_pem(X509 *c, phx_buf_t *out)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    if (!b || !PEM_write_bio_X509(b, c)) {
        BIO_free(b);
        return PHX_ERR_CRYPTO;
    }
    long n = BIO_get_mem_data(b, &p);
    phx_err_t err = phx_buf_append(out, p, (size_t)n);
    BIO_free(b);
    return err;
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (s) phx_hex_encode_to(s, p, n);
    return s;
}

static char *crl_hex(X509_CRL *crl)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    char *s = n > 0 ? hex_of(der, (size_t)n) : NULL;
    OPENSSL_free(der);
    return s;
}

static void iso(time_t t, char out[32])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static phx_err_t write_file(const char *dir, const char *name, const void *p, size_t n, int mode,
                            phx_error_t *e)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return phx_file_write_atomic(path, p, n, mode, e);
}

static phx_err_t write_key(const char *dir, const char *name, EVP_PKEY *k, phx_error_t *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    if (!b || !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(b);
        return phx_fail(e, PHX_ERR_CRYPTO, "cannot encode %s", name);
    }
    long n = BIO_get_mem_data(b, &p);
    phx_err_t err = write_file(dir, name, p, (size_t)n, 0600, e);
    BIO_free(b);
    return err;
}

/* The sim QE: a report over SHA-256(attestation key || auth data), signed by the
 * PCK key. prodid: SIM_QE_ISVPRODID (the TD QE) or SIM_QE_SGX_ISVPRODID. */
static phx_err_t make_qe(EVP_PKEY *pck_key, EVP_PKEY *att_key, uint16_t prodid, uint8_t qe[448],
                         phx_error_t *e)
{
    uint8_t pub[64], auth[SIM_QE_AUTH_LEN];
    phx_err_t err = tee_pub_raw(att_key, pub, e);
    if (err) return err;
    for (int i = 0; i < SIM_QE_AUTH_LEN; i++)
        auth[i] = (uint8_t)i;
    memset(qe, 0, 448);
    qe[48] = 0x11; /* ATTRIBUTES: INIT | MODE64BIT, not DEBUG */
    static const char mre[] = "phalanx sim quoting enclave";
    SHA256((const uint8_t *)mre, sizeof mre - 1, qe + 64); /* MRENCLAVE */
    sim_qe_mrsigner(qe + 128);                             /* MRSIGNER */
    qe[256] = (uint8_t)prodid;
    qe[258] = SIM_QE_ISVSVN;
    uint8_t bound[64 + SIM_QE_AUTH_LEN];
    memcpy(bound, pub, 64);
    memcpy(bound + 64, auth, sizeof auth);
    phx_sha256(bound, sizeof bound, qe + 320); /* REPORTDATA[0..32] */
    return tee_sign_raw(pck_key, qe, 384, qe + 384, e);
}

/* The SGX flavour's collateral: the TDX collateral's chains and CRLs with a TCB
 * Info v3 "SGX" (platform levels only) and a QE Identity v2 "QE" (the SGX QE,
 * ISVPRODID 1), both signed by the TCB signing key as Intel's PCS signs them. */
static phx_err_t sgx_collateral(const json_t *tdx_col, EVP_PKEY *tcb_k, const char *issue,
                                const char *nextu, const char *fmspc_hex, const char *mrsigner_hex,
                                char **out, phx_error_t *e)
{
    phx_buf_t tcb_info = PHX_BUF_INIT, qe_id = PHX_BUF_INIT, comps = PHX_BUF_INIT;
    json_t *col = json_deep_copy(tdx_col);
    phx_err_t err = col ? PHX_OK : PHX_ERR_NOMEM;
    for (int i = 0; i < 16 && !err; i++)
        err = phx_buf_printf(&comps, "%s{\"svn\":%d}", i ? "," : "", 0);
    if (!err)
        err = phx_buf_printf(
            &tcb_info,
            "{\"id\":\"SGX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
            "\"fmspc\":\"%s\",\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":1,"
            "\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":1},\"tcbDate\":\"%s\","
            "\"tcbStatus\":\"UpToDate\"}]}",
            issue, nextu, fmspc_hex, (char *)comps.ptr, issue);
    if (!err)
        err = phx_buf_printf(
            &qe_id,
            "{\"id\":\"QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
            "\"tcbEvaluationDataNumber\":1,\"miscselect\":\"00000000\",\"miscselectMask\":"
            "\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":"
            "\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":%d,"
            "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%d},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}"
            "]}",
            issue, nextu, mrsigner_hex, SIM_QE_SGX_ISVPRODID, SIM_QE_ISVSVN, issue);
    if (err) {
        err = phx_fail(e, PHX_ERR_NOMEM, "sim SGX collateral");
        goto out;
    }
    uint8_t tcb_sig[64], qe_sig[64];
    if ((err = tee_sign_raw(tcb_k, tcb_info.ptr, tcb_info.len, tcb_sig, e)) ||
        (err = tee_sign_raw(tcb_k, qe_id.ptr, qe_id.len, qe_sig, e)))
        goto out;
    char tcb_sig_hex[129], qe_sig_hex[129];
    phx_hex_encode_to(tcb_sig_hex, tcb_sig, 64);
    phx_hex_encode_to(qe_sig_hex, qe_sig, 64);
    if (json_object_set_new(col, "tcb_info", json_string((char *)tcb_info.ptr)) ||
        json_object_set_new(col, "tcb_info_signature", json_string(tcb_sig_hex)) ||
        json_object_set_new(col, "qe_identity", json_string((char *)qe_id.ptr)) ||
        json_object_set_new(col, "qe_identity_signature", json_string(qe_sig_hex)) ||
        !(*out = json_dumps(col, JSON_INDENT(1))))
        err = phx_fail(e, PHX_ERR_NOMEM, "sim SGX collateral");
out:
    json_decref(col);
    phx_buf_free(&tcb_info);
    phx_buf_free(&qe_id);
    phx_buf_free(&comps);
    return err;
}

static phx_err_t build(const char *dir, phx_error_t *e)
{
    phx_err_t err = phx_fail(e, PHX_ERR_CRYPTO, "sim PCS: key or certificate generation failed");
    time_t now = time(NULL), next = now + 10L * 365 * 86400;
    EVP_PKEY *root_k = new_key(), *pckca_k = new_key(), *pck_k = new_key(), *tcb_k = new_key(),
             *att_k = new_key(), *att_sgx_k = new_key();
    X509 *root = NULL, *pckca = NULL, *pck = NULL, *tcb = NULL;
    X509_CRL *root_crl = NULL, *pck_crl = NULL;
    phx_buf_t ext = PHX_BUF_INIT, pem_root = PHX_BUF_INIT, pem_pckca = PHX_BUF_INIT,
              pem_pck = PHX_BUF_INIT, pem_tcb = PHX_BUF_INIT, chain = PHX_BUF_INIT,
              tcb_info = PHX_BUF_INIT, qe_id = PHX_BUF_INIT;
    char *root_crl_hex = NULL, *pck_crl_hex = NULL, *col_text = NULL, *col_sgx_text = NULL;
    json_t *col = NULL;
    uint8_t ppid[16], comps[16] = {0}, secret[32], qe[448], qe_sgx[448];
    if (!root_k || !pckca_k || !pck_k || !tcb_k || !att_k || !att_sgx_k) goto out;
    if (RAND_bytes(ppid, sizeof ppid) != 1 || RAND_bytes(secret, sizeof secret) != 1) goto out;
    for (int i = 0; i < 16; i++)
        comps[i] = 1;
    if (sgx_extension(ppid, comps, 1, &ext)) goto out;
    if (!(root = make_cert(root_k, "Phalanx Sim Root CA", NULL, root_k, 1, true, NULL, now)) ||
        !(pckca = make_cert(pckca_k, "Phalanx Sim PCK Platform CA", root, root_k, 2, true, NULL,
                            now)) ||
        !(pck = make_cert(pck_k, "Phalanx Sim PCK Certificate", pckca, pckca_k, 3, false, &ext,
                          now)) ||
        !(tcb = make_cert(tcb_k, "Phalanx Sim TCB Signing", root, root_k, 4, false, NULL, now)) ||
        !(root_crl = make_crl(root, root_k, now, next)) ||
        !(pck_crl = make_crl(pckca, pckca_k, now, next)))
        goto out;
    if (cert_pem(root, &pem_root) || cert_pem(pckca, &pem_pckca) || cert_pem(pck, &pem_pck) ||
        cert_pem(tcb, &pem_tcb))
        goto out;

    /* TCB Info v3 (TDX) and QE Identity v2 (TD_QE), as Intel's PCS writes them. */
    char issue[32], nextu[32], fmspc_hex[13], mrsigner_hex[65];
    uint8_t mrsigner[32];
    iso(now - 3600, issue);
    iso(next, nextu);
    phx_hex_encode_to(fmspc_hex, sim_fmspc, 6);
    sim_qe_mrsigner(mrsigner);
    phx_hex_encode_to(mrsigner_hex, mrsigner, 32);
    static const char zeros96[] =
        "00000000000000000000000000000000000000000000000000000000000000000000"
        "0000000000000000000000000000";
    phx_buf_t comps_json = PHX_BUF_INIT;
    for (int i = 0; i < 16; i++)
        phx_buf_printf(&comps_json, "%s{\"svn\":%d}", i ? "," : "", 0);
    err = phx_buf_printf(
        &tcb_info,
        "{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\",\"fmspc\":\"%s\","
        "\"pceId\":\"0000\",\"tcbType\":0,\"tcbEvaluationDataNumber\":1,"
        "\"tdxModule\":{\"mrsigner\":\"%s\",\"attributes\":\"0000000000000000\","
        "\"attributesMask\":\"FFFFFFFFFFFFFFFF\"},"
        "\"tdxModuleIdentities\":[{\"id\":\"TDX_01\",\"mrsigner\":\"%s\","
        "\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\","
        "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":0},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}]}],"
        "\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[%s],\"pcesvn\":1,"
        "\"tdxtcbcomponents\":[%s]},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}]}",
        issue, nextu, fmspc_hex, zeros96, zeros96, issue, (char *)comps_json.ptr,
        (char *)comps_json.ptr, issue);
    phx_buf_free(&comps_json);
    if (!err)
        err = phx_buf_printf(
            &qe_id,
            "{\"id\":\"TD_QE\",\"version\":2,\"issueDate\":\"%s\",\"nextUpdate\":\"%s\","
            "\"tcbEvaluationDataNumber\":1,\"miscselect\":\"00000000\",\"miscselectMask\":"
            "\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\",\"attributesMask\":"
            "\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\"%s\",\"isvprodid\":%d,"
            "\"tcbLevels\":[{\"tcb\":{\"isvsvn\":%d},\"tcbDate\":\"%s\",\"tcbStatus\":\"UpToDate\"}"
            "]}",
            issue, nextu, mrsigner_hex, SIM_QE_ISVPRODID, SIM_QE_ISVSVN, issue);
    if (err) goto out;
    uint8_t tcb_sig[64], qe_sig[64];
    if ((err = tee_sign_raw(tcb_k, tcb_info.ptr, tcb_info.len, tcb_sig, e)) ||
        (err = tee_sign_raw(tcb_k, qe_id.ptr, qe_id.len, qe_sig, e)) ||
        (err = make_qe(pck_k, att_k, SIM_QE_ISVPRODID, qe, e)))
        goto out;
    char tcb_sig_hex[129], qe_sig_hex[129];
    phx_hex_encode_to(tcb_sig_hex, tcb_sig, 64);
    phx_hex_encode_to(qe_sig_hex, qe_sig, 64);
    root_crl_hex = crl_hex(root_crl);
    pck_crl_hex = crl_hex(pck_crl);
    phx_buf_t pckca_chain = PHX_BUF_INIT, tcb_chain = PHX_BUF_INIT;
    phx_buf_append(&pckca_chain, pem_pckca.ptr, pem_pckca.len);
    phx_buf_append(&pckca_chain, pem_root.ptr, pem_root.len);
    phx_buf_append(&tcb_chain, pem_tcb.ptr, pem_tcb.len);
    phx_buf_append(&tcb_chain, pem_root.ptr, pem_root.len);
    col = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "pck_crl_issuer_chain",
                    pckca_chain.ptr ? (char *)pckca_chain.ptr : "", "root_ca_crl",
                    root_crl_hex ? root_crl_hex : "", "pck_crl", pck_crl_hex ? pck_crl_hex : "",
                    "tcb_info_issuer_chain", tcb_chain.ptr ? (char *)tcb_chain.ptr : "", "tcb_info",
                    (char *)tcb_info.ptr, "tcb_info_signature", tcb_sig_hex,
                    "qe_identity_issuer_chain", tcb_chain.ptr ? (char *)tcb_chain.ptr : "",
                    "qe_identity", (char *)qe_id.ptr, "qe_identity_signature", qe_sig_hex);
    phx_buf_free(&pckca_chain);
    phx_buf_free(&tcb_chain);
    if (!col || !(col_text = json_dumps(col, JSON_INDENT(1)))) {
        err = phx_fail(e, PHX_ERR_NOMEM, "sim collateral");
        goto out;
    }
    /* The SGX flavour: same chains and CRLs, its own TCB Info and QE Identity. */
    if ((err = make_qe(pck_k, att_sgx_k, SIM_QE_SGX_ISVPRODID, qe_sgx, e)) ||
        (err = sgx_collateral(col, tcb_k, issue, nextu, fmspc_hex, mrsigner_hex, &col_sgx_text, e)))
        goto out;
    /* The chain a QE puts in certification data type 5: leaf, CA, root, NUL. */
    phx_buf_append(&chain, pem_pck.ptr, pem_pck.len);
    phx_buf_append(&chain, pem_pckca.ptr, pem_pckca.len);
    phx_buf_append(&chain, pem_root.ptr, pem_root.len);
    unsigned char *root_der = NULL;
    int root_der_len = i2d_X509(root, &root_der);
    err = root_der_len > 0 ? write_file(dir, SIM_ROOT_DER, root_der, (size_t)root_der_len, 0644, e)
                           : phx_fail(e, PHX_ERR_CRYPTO, "root DER");
    OPENSSL_free(root_der);
    if (err || (err = write_file(dir, SIM_COLLATERAL, col_text, strlen(col_text), 0644, e)) ||
        (err = write_file(dir, SIM_PCK_CHAIN, chain.ptr, chain.len, 0644, e)) ||
        (err = write_file(dir, SIM_QE, qe, sizeof qe, 0644, e)) ||
        (err = write_key(dir, SIM_ATT_KEY, att_k, e)) ||
        (err = write_file(dir, SIM_COLLATERAL_SGX, col_sgx_text, strlen(col_sgx_text), 0644, e)) ||
        (err = write_file(dir, SIM_QE_SGX, qe_sgx, sizeof qe_sgx, 0644, e)) ||
        (err = write_key(dir, SIM_ATT_KEY_SGX, att_sgx_k, e)) ||
        (err = write_file(dir, SIM_SECRET, secret, sizeof secret, 0600, e)) ||
        (err = write_key(dir, "root_ca.key", root_k, e)) ||
        (err = write_key(dir, "pck_ca.key", pckca_k, e)) ||
        (err = write_key(dir, "tcb_signing.key", tcb_k, e)) ||
        (err = write_file(dir, "root_ca.pem", pem_root.ptr, pem_root.len, 0644, e)))
        goto out;
    err = PHX_OK;
out:
    phx_secure_zero(secret, sizeof secret);
    free(root_crl_hex);
    free(pck_crl_hex);
    free(col_text);
    free(col_sgx_text);
    json_decref(col);
    phx_buf_free(&ext);
    phx_buf_free(&pem_root);
    phx_buf_free(&pem_pckca);
    phx_buf_free(&pem_pck);
    phx_buf_free(&pem_tcb);
    phx_buf_free(&chain);
    phx_buf_free(&tcb_info);
    phx_buf_free(&qe_id);
    X509_CRL_free(root_crl);
    X509_CRL_free(pck_crl);
    X509_free(root);
    X509_free(pckca);
    X509_free(pck);
    X509_free(tcb);
    EVP_PKEY_free(root_k);
    EVP_PKEY_free(pckca_k);
    EVP_PKEY_free(pck_k);
    EVP_PKEY_free(tcb_k);
    EVP_PKEY_free(att_k);
    EVP_PKEY_free(att_sgx_k);
    return err;
}

static void remove_tree(const char *dir)
{
    static const char *const names[] = {SIM_ROOT_DER,   SIM_COLLATERAL,     SIM_PCK_CHAIN,
                                        SIM_QE,         SIM_ATT_KEY,        SIM_SECRET,
                                        "root_ca.key",  "pck_ca.key",       "tcb_signing.key",
                                        "root_ca.pem",  SIM_COLLATERAL_SGX, SIM_QE_SGX,
                                        SIM_ATT_KEY_SGX};
    char path[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

phx_err_t sim_pcs_create(const char *dir, phx_error_t *e)
{
    char tmp[PATH_MAX];
    phx_err_t err;
    /* Only the parents: dir itself appears whole, by the rename below. */
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return phx_fail(e, PHX_ERR_RANGE, "sim dir path too long");
    char *slash = strrchr(tmp, '/');
    if (slash && slash != tmp) {
        *slash = 0;
        if ((err = phx_dir_ensure(tmp, 0700, e))) return err;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()) >= (int)sizeof tmp)
        return phx_fail(e, PHX_ERR_RANGE, "sim dir path too long");
    remove_tree(tmp);
    if (mkdir(tmp, 0700) != 0)
        return phx_fail(e, PHX_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    if ((err = build(tmp, e))) {
        remove_tree(tmp);
        return err;
    }
    if (rename(tmp, dir) != 0) {
        int saved = errno;
        remove_tree(tmp);
        /* Another process finished first: use its hierarchy. */
        if (saved == EEXIST || saved == ENOTEMPTY) return PHX_OK;
        return phx_fail(e, PHX_ERR_IO, "cannot create %s: %s", dir, strerror(saved));
    }
    return PHX_OK;
}
