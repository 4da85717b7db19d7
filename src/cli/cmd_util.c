/* phx util: byte-level helpers for people and scripts, like foundry's `cast`:
 * keccak/sha256 hashes, Ethereum keys, EIP-191 sign/recover, HPKE keygen/seal/
 * open (RFC 9180 DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, base).
 * Hex in and out (0x-prefixed); one result per line, or JSON with --json.
 * Exit 0 ok, 1 the checked thing failed (bad tag, no signer), 2 usage or bad input. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "phx/crypto.h"

#define PREFIX_MAX 64

typedef struct {
    const char *name;
    const char *summary;
    const char *help;
    int (*fn)(const char *prefix, int argc, char **argv);
} util_verb_t;

/* ---- shared helpers --------------------------------------------------------------- */

static const char exit_status_help[] =
    "EXIT STATUS\n"
    "  0  success\n"
    "  1  the checked thing failed (see above)\n"
    "  2  bad usage or bad input (malformed hex, wrong length, invalid key); the\n"
    "     one-line message on stderr names the argument and what was wrong\n";

static bool stdin_used;

/* Decode an argument given as hex, or "-" for hex read from stdin (keeps secrets
 * out of argv and allows long inputs). `what` names the argument in errors. */
static int arg_hex(const char *prefix, const char *what, const char *value, phx_buf_t *out)
{
    phx_error_t e = {0};
    phx_buf_t text = PHX_BUF_INIT;
    text.secret = out->secret;
    if (!value) return cli_error(PHX_EXIT_USAGE, prefix, "%s is required (see --help)", what);
    if (strcmp(value, "-") == 0) {
        if (stdin_used)
            return cli_error(PHX_EXIT_USAGE, prefix, "%s: only one argument may read stdin", what);
        stdin_used = true;
        if (phx_file_read("-", &text, &e)) {
            phx_buf_free(&text);
            return cli_error(PHX_EXIT_USAGE, prefix, "%s: reading stdin: %s", what, e.message);
        }
        /* Allow the trailing newline (and surrounding blanks) of `echo`. */
        size_t start = 0, end = text.len;
        while (start < end && strchr(" \t\r\n", text.ptr[start]))
            start++;
        while (end > start && strchr(" \t\r\n", text.ptr[end - 1]))
            end--;
        if (text.ptr) text.ptr[end] = 0;
        value = text.ptr ? (const char *)text.ptr + start : "";
    }
    phx_err_t err = phx_hex_decode(value, out, &e);
    phx_buf_free(&text);
    if (err) {
        /* The decoder may have appended a partial result; callers only free on success. */
        phx_buf_free(out);
        return cli_error(PHX_EXIT_USAGE, prefix, "%s: %s", what, e.message);
    }
    return 0;
}

/* As arg_hex, but exactly n bytes into a fixed array. */
static int arg_fixed(const char *prefix, const char *what, const char *value, uint8_t *dst,
                     size_t n, bool secret)
{
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = secret;
    int rc = arg_hex(prefix, what, value, &b);
    if (!rc && b.len != n)
        rc = cli_error(PHX_EXIT_USAGE, prefix, "%s: expected %zu bytes, got %zu", what, n, b.len);
    if (!rc) memcpy(dst, b.ptr, n);
    phx_buf_free(&b);
    return rc;
}

static void print_hex_line(const uint8_t *p, size_t n)
{
    char *s = phx_hex_encode(p, n);
    if (s) puts(s);
    free(s);
}

/* Print {"key": "0x..."} (json) or the bare hex (text). */
static void print_result(bool json, const char *key, const uint8_t *p, size_t n)
{
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, key, phx_json_hex(p, n));
        cli_print_json(o);
        json_decref(o);
    } else {
        print_hex_line(p, n);
    }
}

/* Parse options; exactly `npos` positional arguments named in pos_names. */
static int parse(const char *prefix, int argc, char **argv, cli_opt_t *opts, int nopts,
                 cli_args_t *args, int npos, const char *pos_names)
{
    int rc = cli_parse(prefix, argc, argv, opts, nopts, args);
    if (rc) return rc;
    if (args->npos < npos)
        return cli_error(PHX_EXIT_USAGE, prefix, "missing argument %s (see --help)", pos_names);
    if (args->npos > npos)
        return cli_error(PHX_EXIT_USAGE, prefix, "unexpected argument '%s' (see --help)",
                         args->pos[npos]);
    return 0;
}

/* ---- hashes ------------------------------------------------------------------------ */

static int hash_verb(const char *prefix, int argc, char **argv, bool keccak)
{
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 1, &args, 1, "HEX");
    if (rc) return rc;
    phx_buf_t in = PHX_BUF_INIT;
    if ((rc = arg_hex(prefix, "HEX", args.pos[0], &in))) return rc;
    uint8_t h[32];
    if (keccak)
        phx_keccak256(in.ptr, in.len, h);
    else
        phx_sha256(in.ptr, in.len, h);
    print_result(opts[0].seen, keccak ? "keccak256" : "sha256", h, 32);
    phx_buf_free(&in);
    return PHX_EXIT_OK;
}

static int util_keccak(const char *prefix, int argc, char **argv)
{
    return hash_verb(prefix, argc, argv, true);
}
static int util_sha256(const char *prefix, int argc, char **argv)
{
    return hash_verb(prefix, argc, argv, false);
}

/* ---- Ethereum keys and signatures ---------------------------------------------------- */

static int read_seckey(const char *prefix, const char *value, uint8_t sk[32])
{
    int rc = arg_fixed(prefix, "--key", value, sk, 32, true);
    if (rc) return rc;
    if (phx_secp256k1_seckey_verify(sk) != PHX_OK) {
        phx_secure_zero(sk, 32);
        return cli_error(
            PHX_EXIT_USAGE, prefix,
            "--key: not a valid secp256k1 secret key (zero or not below the curve order)");
    }
    return 0;
}

static int util_address(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "key", .takes_value = true}, {.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 2, &args, 0, "");
    if (rc) return rc;
    uint8_t sk[32], pub[64], addr[20];
    if ((rc = read_seckey(prefix, opts[0].value, sk))) return rc;
    phx_err_t err = phx_secp256k1_pubkey(sk, pub);
    phx_secure_zero(sk, sizeof sk);
    if (err) return cli_error(PHX_EXIT_FAIL, prefix, "deriving the public key failed");
    phx_eth_address_from_pubkey(pub, addr);
    char cs[43];
    phx_eth_address_checksum(addr, cs);
    if (opts[1].seen) {
        json_t *o = json_pack("{s:s,s:o}", "address", cs, "public_key", phx_json_hex(pub, 64));
        cli_print_json(o);
        json_decref(o);
    } else {
        puts(cs);
    }
    return PHX_EXIT_OK;
}

static int util_sign(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "key", .takes_value = true}, {.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 2, &args, 1, "MESSAGE_HEX");
    if (rc) return rc;
    uint8_t sk[32], sig[65], addr[20], digest[32];
    phx_buf_t msg = PHX_BUF_INIT;
    if ((rc = read_seckey(prefix, opts[0].value, sk))) return rc;
    if ((rc = arg_hex(prefix, "MESSAGE_HEX", args.pos[0], &msg))) goto out;
    if (phx_eip191_sign(sk, msg.ptr, msg.len, sig) || phx_eth_address_from_seckey(sk, addr)) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "signing failed");
        goto out;
    }
    if (opts[1].seen) {
        char cs[43];
        phx_eth_address_checksum(addr, cs);
        phx_eip191_digest(msg.ptr, msg.len, digest);
        json_t *o = json_pack("{s:o,s:s,s:o}", "signature", phx_json_hex(sig, 65), "address", cs,
                              "digest", phx_json_hex(digest, 32));
        cli_print_json(o);
        json_decref(o);
    } else {
        print_hex_line(sig, 65);
    }
out:
    phx_secure_zero(sk, sizeof sk);
    phx_buf_free(&msg);
    return rc;
}

static int util_recover(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 1, &args, 2, "MESSAGE_HEX SIG");
    if (rc) return rc;
    phx_buf_t msg = PHX_BUF_INIT;
    uint8_t sig[65], addr[20];
    if ((rc = arg_hex(prefix, "MESSAGE_HEX", args.pos[0], &msg))) return rc;
    if ((rc = arg_fixed(prefix, "SIG", args.pos[1], sig, 65, false))) goto out;
    if (!(sig[64] <= 1 || sig[64] == 27 || sig[64] == 28)) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "SIG: last byte v must be 27 or 28 (or 0 or 1), got %u", sig[64]);
        goto out;
    }
    phx_err_t err = phx_eip191_recover(msg.ptr, msg.len, sig, addr);
    if (err) {
        rc = cli_error(PHX_EXIT_FAIL, prefix,
                       "SIG: no signer recovers from this signature (r or s out of range, high s, "
                       "or not a point on the curve)");
        goto out;
    }
    char cs[43];
    phx_eth_address_checksum(addr, cs);
    if (opts[0].seen) {
        json_t *o = json_pack("{s:s}", "address", cs);
        cli_print_json(o);
        json_decref(o);
    } else {
        puts(cs);
    }
out:
    phx_buf_free(&msg);
    return rc;
}

/* ---- HPKE ---------------------------------------------------------------------------- */

static int util_hpke_keygen(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 1, &args, 0, "");
    if (rc) return rc;
    uint8_t sk[32], pk[32];
    if (phx_x25519_keygen(sk, pk)) return cli_error(PHX_EXIT_FAIL, prefix, "key generation failed");
    /* Always JSON: the two halves must not be confused. */
    json_t *o = json_pack("{s:o,s:o}", "sk", phx_json_hex(sk, 32), "pk", phx_json_hex(pk, 32));
    phx_secure_zero(sk, sizeof sk);
    char *s = phx_json_dump(o, false);
    json_decref(o);
    if (!s) return cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
    puts(s);
    phx_secure_zero(s, strlen(s));
    free(s);
    return PHX_EXIT_OK;
}

/* --info and --aad are optional hex; absent means empty. */
static int optional_hex(const char *prefix, const char *what, const cli_opt_t *o, phx_buf_t *out)
{
    return o->seen ? arg_hex(prefix, what, o->value, out) : 0;
}

static int util_hpke_seal(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "pk", .takes_value = true},
                        {.name = "info", .takes_value = true},
                        {.name = "aad", .takes_value = true},
                        {.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 4, &args, 1, "PLAINTEXT_HEX");
    if (rc) return rc;
    uint8_t pk[32], enc[32];
    phx_buf_t info = PHX_BUF_INIT, aad = PHX_BUF_INIT, pt = PHX_BUF_INIT;
    uint8_t *ct = NULL;
    pt.secret = true;
    if ((rc = arg_fixed(prefix, "--pk", opts[0].value, pk, 32, false)) ||
        (rc = optional_hex(prefix, "--info", &opts[1], &info)) ||
        (rc = optional_hex(prefix, "--aad", &opts[2], &aad)) ||
        (rc = arg_hex(prefix, "PLAINTEXT_HEX", args.pos[0], &pt)))
        goto out;
    if (!(ct = malloc(pt.len + PHX_AEAD_TAG_LEN))) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
        goto out;
    }
    phx_err_t err =
        phx_hpke_seal(pk, info.ptr, info.len, aad.ptr, aad.len, pt.ptr, pt.len, enc, ct);
    if (err == PHX_ERR_CRYPTO) {
        /* X25519 gave the all-zero secret: the key is a low-order point. */
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--pk: not a usable X25519 public key (low order)");
        goto out;
    }
    if (err) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "sealing failed (%s)", phx_strerror(err));
        goto out;
    }
    json_t *o = json_pack("{s:o,s:o}", "enc", phx_json_hex(enc, 32), "ct",
                          phx_json_hex(ct, pt.len + PHX_AEAD_TAG_LEN));
    cli_print_json(o);
    json_decref(o);
out:
    free(ct);
    phx_buf_free(&info);
    phx_buf_free(&aad);
    phx_buf_free(&pt);
    return rc;
}

static int util_hpke_open(const char *prefix, int argc, char **argv)
{
    cli_opt_t opts[] = {{.name = "sk", .takes_value = true},
                        {.name = "enc", .takes_value = true},
                        {.name = "info", .takes_value = true},
                        {.name = "aad", .takes_value = true},
                        {.name = "json"}};
    cli_args_t args;
    int rc = parse(prefix, argc, argv, opts, 5, &args, 1, "CT_HEX");
    if (rc) return rc;
    uint8_t sk[32], enc[32];
    phx_buf_t info = PHX_BUF_INIT, aad = PHX_BUF_INIT, ct = PHX_BUF_INIT;
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    if ((rc = arg_fixed(prefix, "--sk", opts[0].value, sk, 32, true)) ||
        (rc = arg_fixed(prefix, "--enc", opts[1].value, enc, 32, false)) ||
        (rc = optional_hex(prefix, "--info", &opts[2], &info)) ||
        (rc = optional_hex(prefix, "--aad", &opts[3], &aad)) ||
        (rc = arg_hex(prefix, "CT_HEX", args.pos[0], &ct)))
        goto out;
    if (ct.len < PHX_AEAD_TAG_LEN) {
        rc = cli_error(PHX_EXIT_USAGE, prefix,
                       "CT_HEX: truncated: %zu bytes, shorter than the 16-byte tag", ct.len);
        goto out;
    }
    pt_len = ct.len - PHX_AEAD_TAG_LEN;
    if (!(pt = malloc(pt_len + 1))) {
        rc = cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
        goto out;
    }
    phx_err_t err =
        phx_hpke_open(sk, enc, info.ptr, info.len, aad.ptr, aad.len, ct.ptr, ct.len, pt);
    if (err == PHX_ERR_CRYPTO) {
        rc = cli_error(PHX_EXIT_USAGE, prefix, "--enc: not a usable X25519 public key (low order)");
        goto out;
    }
    if (err) {
        rc = cli_error(PHX_EXIT_FAIL, prefix,
                       "decryption failed: the tag does not verify (wrong --sk, --enc, --info or "
                       "--aad, or a modified ciphertext)");
        goto out;
    }
    print_result(opts[4].seen, "pt", pt, pt_len);
out:
    phx_secure_zero(sk, sizeof sk);
    if (pt) phx_secure_zero(pt, pt_len);
    free(pt);
    phx_buf_free(&info);
    phx_buf_free(&aad);
    phx_buf_free(&ct);
    return rc;
}

/* ---- help texts ---------------------------------------------------------------------- */

#define HEX_NOTE                                                                                   \
    "  Hex arguments may carry a 0x prefix and use either case; \"-\" reads the value\n"           \
    "  from standard input instead (at most one argument per call), which keeps secrets\n"         \
    "  out of the process list.\n"

static const char help_keccak[] =
    "NAME\n  phx util keccak - Keccak-256 hash of bytes (Ethereum's hash)\n\n"
    "SYNOPSIS\n  phx util keccak [--json] HEX\n\n"
    "DESCRIPTION\n"
    "  Prints keccak256(HEX) as 0x-prefixed hex. This is the original Keccak padding\n"
    "  that Ethereum uses, not FIPS 202 SHA3-256 (they differ for every input).\n" HEX_NOTE "\n"
    "OPTIONS\n  --json   print {\"keccak256\": \"0x...\"}\n\n"
    "EXAMPLES\n  $ phx util keccak 0x\n"
    "  0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470\n\n";

static const char help_sha256[] =
    "NAME\n  phx util sha256 - SHA-256 hash of bytes\n\n"
    "SYNOPSIS\n  phx util sha256 [--json] HEX\n\n"
    "DESCRIPTION\n  Prints SHA-256(HEX) (FIPS 180-4) as 0x-prefixed hex.\n" HEX_NOTE "\n"
    "OPTIONS\n  --json   print {\"sha256\": \"0x...\"}\n\n"
    "EXAMPLES\n  $ phx util sha256 0x616263\n"
    "  0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n\n";

static const char help_address[] =
    "NAME\n  phx util address - Ethereum address of a secp256k1 secret key\n\n"
    "SYNOPSIS\n  phx util address --key SK [--json]\n\n"
    "DESCRIPTION\n"
    "  Derives the public key of SK and prints its address, the last 20 bytes of\n"
    "  keccak256(x || y), in EIP-55 checksummed form.\n" HEX_NOTE "\n"
    "OPTIONS\n"
    "  --key SK   32-byte secret key, in [1, n-1] for the secp256k1 order n\n"
    "  --json     print {\"address\": ..., \"public_key\": \"0x\" + x || y}\n\n"
    "EXAMPLES\n  $ echo $SK | phx util address --key -\n\n";

static const char help_sign[] =
    "NAME\n  phx util sign - EIP-191 personal_sign of a message\n\n"
    "SYNOPSIS\n  phx util sign --key SK [--json] MESSAGE_HEX\n\n"
    "DESCRIPTION\n"
    "  Signs keccak256(\"\\x19Ethereum Signed Message:\\n\" || len || message) with SK\n"
    "  (RFC 6979 deterministic nonce, low s) and prints the 65-byte signature r || s || v\n"
    "  with v = 27 or 28, the form wallets, ethers' verifyMessage and ecrecover expect.\n"
    "  MESSAGE_HEX is the message's bytes; len is their count in decimal.\n" HEX_NOTE "\n"
    "OPTIONS\n"
    "  --key SK   32-byte secp256k1 secret key\n"
    "  --json     print {\"signature\", \"address\", \"digest\"}\n\n"
    "EXAMPLES\n  $ phx util sign --key 0x01...01 0x68656c6c6f\n\n";

static const char help_recover[] =
    "NAME\n  phx util recover - signer address of an EIP-191 personal_sign signature\n\n"
    "SYNOPSIS\n  phx util recover [--json] MESSAGE_HEX SIG\n\n"
    "DESCRIPTION\n"
    "  Recovers the public key from SIG (65 bytes r || s || v, v = 27/28 or 0/1) over\n"
    "  the EIP-191 digest of MESSAGE_HEX and prints its EIP-55 address. Signatures with\n"
    "  a high s (s > n/2) are refused, as Ethereum refuses them.\n"
    "  Exit status 1 when no key recovers. Compare the address with the one you expect:\n"
    "  any valid signature recovers to some address.\n" HEX_NOTE "\n"
    "OPTIONS\n  --json   print {\"address\": ...}\n\n";

static const char help_hpke_keygen[] =
    "NAME\n  phx util hpke-keygen - new X25519 key pair for HPKE\n\n"
    "SYNOPSIS\n  phx util hpke-keygen\n\n"
    "DESCRIPTION\n"
    "  Prints {\"sk\": \"0x...\", \"pk\": \"0x...\"}: a fresh random X25519 key pair for\n"
    "  DHKEM(X25519, HKDF-SHA256). Keep sk secret; give pk to senders. Output is always\n"
    "  JSON (--json is accepted and changes nothing).\n\n";

static const char help_hpke_seal[] =
    "NAME\n  phx util hpke-seal - encrypt to an X25519 public key with HPKE\n\n"
    "SYNOPSIS\n  phx util hpke-seal --pk PK [--info HEX] [--aad HEX] [--json] PLAINTEXT_HEX\n\n"
    "DESCRIPTION\n"
    "  RFC 9180 single-shot seal, mode base, suite DHKEM(X25519, HKDF-SHA256),\n"
    "  HKDF-SHA256, ChaCha20-Poly1305 (KEM 0x0020, KDF 0x0001, AEAD 0x0003): the suite\n"
    "  Phalanx uses for confidential inputs, readable by any RFC 9180 library.\n"
    "  Prints {\"enc\": 32-byte encapsulated key, \"ct\": ciphertext || 16-byte tag}.\n" HEX_NOTE
    "\n"
    "OPTIONS\n"
    "  --pk PK      recipient's 32-byte X25519 public key\n"
    "  --info HEX   application info bound into the key schedule (default empty)\n"
    "  --aad HEX    additional authenticated data (default empty)\n"
    "  --json       accepted for symmetry; the output is JSON either way\n\n";

static const char help_hpke_open[] =
    "NAME\n  phx util hpke-open - decrypt an HPKE ciphertext\n\n"
    "SYNOPSIS\n  phx util hpke-open --sk SK --enc ENC [--info HEX] [--aad HEX] [--json] CT_HEX\n\n"
    "DESCRIPTION\n"
    "  Opens what hpke-seal (or any RFC 9180 implementation of the same suite, mode\n"
    "  base) produced and prints the plaintext as hex. --info and --aad must match the\n"
    "  sender's. Exit status 1 when the tag does not verify; nothing is printed then.\n" HEX_NOTE
    "\n"
    "OPTIONS\n"
    "  --sk SK      recipient's 32-byte X25519 secret key\n"
    "  --enc ENC    the 32-byte encapsulated key from the sender\n"
    "  --info HEX   application info (default empty)\n"
    "  --aad HEX    additional authenticated data (default empty)\n"
    "  --json       print {\"pt\": \"0x...\"}\n\n";

static const util_verb_t verbs[] = {
    {"keccak", "Keccak-256 of hex bytes", help_keccak, util_keccak},
    {"sha256", "SHA-256 of hex bytes", help_sha256, util_sha256},
    {"address", "Ethereum address of a secp256k1 secret key", help_address, util_address},
    {"sign", "EIP-191 personal_sign (65-byte r||s||v)", help_sign, util_sign},
    {"recover", "signer address of an EIP-191 signature", help_recover, util_recover},
    {"hpke-keygen", "new X25519 key pair for HPKE", help_hpke_keygen, util_hpke_keygen},
    {"hpke-seal", "HPKE-encrypt to a public key", help_hpke_seal, util_hpke_seal},
    {"hpke-open", "HPKE-decrypt with a secret key", help_hpke_open, util_hpke_open},
};
#define NVERBS (int)(sizeof verbs / sizeof verbs[0])

static void print_util_usage(FILE *f)
{
    fprintf(f, "usage: phx util <verb> [options] [args]\n\n"
               "Byte-level helpers: hashes, Ethereum keys and signatures, HPKE. Hex in and out\n"
               "(0x-prefixed); one result per line, or JSON with --json.\n\nVerbs:\n");
    for (int i = 0; i < NVERBS; i++)
        fprintf(f, "  %-12s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f, "\n'phx util <verb> --help' describes each verb.\n"
               "Exit status: 0 success, 1 the checked thing failed, 2 bad usage or input.\n");
}

static int cmd_util(int argc, char **argv)
{
    if (argc < 2) {
        print_util_usage(stderr);
        return PHX_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_util_usage(stdout);
        return PHX_EXIT_OK;
    }
    if (phx_crypto_init() != PHX_OK)
        return cli_error(PHX_EXIT_FAIL, "phx util", "crypto library failed to initialise");
    for (int i = 0; i < NVERBS; i++) {
        if (strcmp(verbs[i].name, argv[1]) != 0) continue;
        char prefix[PREFIX_MAX];
        snprintf(prefix, sizeof prefix, "phx util %s", verbs[i].name);
        if (cli_wants_help(argc - 1, argv + 1)) {
            fputs(verbs[i].help, stdout);
            fputs(exit_status_help, stdout);
            return PHX_EXIT_OK;
        }
        return verbs[i].fn(prefix, argc - 1, argv + 1);
    }
    return cli_error(PHX_EXIT_USAGE, "phx util", "'%s' is not a util verb; see 'phx util --help'",
                     argv[1]);
}
PHX_CLI_COMMAND(util, "util", 500, "byte-level helpers: keccak, sign, recover, hpke-seal/open",
                cmd_util)
