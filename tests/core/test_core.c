/* Core library: buffers, hex, base64, reader bounds, constant-time compare,
 * secure zeroing, atomic file writes, JSON getters, and the logger's two
 * formats (JSON lines when captured, text on a terminal). */
#define _GNU_SOURCE /* posix_openpt, ptsname */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#include "phx/core.h"
#include "phx/json.h"
#include "test.h"

static void test_hex(void)
{
    phx_buf_t b = PHX_BUF_INIT;
    phx_error_t e = {0};
    CHECK(phx_hex_decode("0xDEadBEef", &b, &e) == PHX_OK);
    CHECK(b.len == 4 && b.ptr[0] == 0xde && b.ptr[3] == 0xef);
    char *s = phx_hex_encode(b.ptr, b.len);
    CHECK(s && strcmp(s, "0xdeadbeef") == 0);
    free(s);
    phx_buf_reset(&b);
    CHECK(phx_hex_decode("abc", &b, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "odd-length") != NULL);
    CHECK(phx_hex_decode("0xzz", &b, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "position 0") != NULL);
    CHECK(phx_hex_decode("", &b, &e) == PHX_OK && b.len == 0);
    uint8_t k[4];
    CHECK(phx_hex_decode_fixed("0x01020304", k, 4, &e) == PHX_OK && k[3] == 4);
    CHECK(phx_hex_decode_fixed("0x010203", k, 4, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "expected 4 bytes, got 3") != NULL);
    phx_buf_free(&b);
}

static void test_base64(void)
{
    /* RFC 4648 §10 vectors. */
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *s = phx_base64_encode((const uint8_t *)in[i], strlen(in[i]));
        CHECK(s && strcmp(s, out[i]) == 0);
        free(s);
        phx_buf_t b = PHX_BUF_INIT;
        CHECK(phx_base64_decode(out[i], strlen(out[i]), &b, NULL) == PHX_OK);
        CHECK(b.len == strlen(in[i]) && (b.len == 0 || memcmp(b.ptr, in[i], b.len) == 0));
        phx_buf_free(&b);
    }
    phx_buf_t b = PHX_BUF_INIT;
    CHECK(phx_base64_decode("Zm9v!", 5, &b, NULL) == PHX_ERR_INVALID);
    CHECK(phx_base64_decode("Z", 1, &b, NULL) == PHX_ERR_INVALID);
    phx_buf_free(&b);
}

static void test_buf(void)
{
    phx_buf_t b = PHX_BUF_INIT;
    b.secret = true;
    for (int i = 0; i < 1000; i++)
        CHECK(phx_buf_printf(&b, "%d,", i) == PHX_OK);
    CHECK(strncmp((char *)b.ptr, "0,1,2,", 6) == 0);
    CHECK(b.ptr[b.len] == 0);
    size_t n;
    uint8_t *p = phx_buf_detach(&b, &n);
    CHECK(p && n > 3000 && b.ptr == NULL);
    free(p);
    phx_buf_free(NULL);
}

static void test_reader(void)
{
    const uint8_t data[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    phx_reader_t r = phx_reader(data, sizeof data);
    uint16_t a;
    uint32_t b;
    uint64_t c;
    phx_error_t e = {0};
    CHECK(phx_reader_u16le(&r, &a, &e) == PHX_OK && a == 0x0201);
    CHECK(phx_reader_u32le(&r, &b, &e) == PHX_OK && b == 0x06050403);
    CHECK(phx_reader_u64le(&r, &c, &e) == PHX_ERR_TRUNCATED);
    CHECK(strstr(e.message, "offset 6") != NULL);
    CHECK(r.off == 6);
    const uint8_t *v;
    CHECK(phx_reader_view(&r, &v, 3, &e) == PHX_OK && v[0] == 7 && phx_reader_left(&r) == 0);
}

/* Big-endian gets: each reads network order, advances by its width, and a get
 * that does not fit fails without moving the offset. */
static void test_reader_be(void)
{
    const uint8_t data[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A,
                            0x0B, 0x0C, 0x0D, 0x0E, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0xFA};
    phx_reader_t r = phx_reader(data, sizeof data);
    uint16_t a = 0;
    uint32_t b = 0;
    uint64_t c = 0;
    phx_error_t e = {0};
    CHECK(phx_reader_u16be(&r, &a, &e) == PHX_OK && a == 0x0102 && r.off == 2);
    CHECK(phx_reader_u32be(&r, &b, &e) == PHX_OK && b == 0x03040506u && r.off == 6);
    CHECK(phx_reader_u64be(&r, &c, &e) == PHX_OK && c == 0x0708090A0B0C0D0Eull && r.off == 14);
    /* High bits survive: no sign extension through int promotion. */
    CHECK(phx_reader_u16be(&r, &a, &e) == PHX_OK && a == 0xFFFE);
    CHECK(phx_reader_u32be(&r, &b, &e) == PHX_OK && b == 0xFDFCFBFAu && phx_reader_left(&r) == 0);

    /* At the end: every width fails, reports the offset, and does not advance. */
    r = phx_reader(data, 7);
    CHECK(phx_reader_u64be(&r, &c, &e) == PHX_ERR_TRUNCATED && r.off == 0);
    CHECK(strstr(e.message, "need 8 bytes at offset 0") != NULL);
    CHECK(phx_reader_u32be(&r, &b, &e) == PHX_OK && b == 0x01020304u);
    CHECK(phx_reader_u32be(&r, &b, &e) == PHX_ERR_TRUNCATED && r.off == 4);
    CHECK(phx_reader_u16be(&r, &a, &e) == PHX_OK && a == 0x0506);
    CHECK(phx_reader_u16be(&r, &a, &e) == PHX_ERR_TRUNCATED && r.off == 6);
    CHECK(strstr(e.message, "offset 6, have 1") != NULL);

    /* LE and BE read the same bytes mirrored. */
    phx_reader_t le = phx_reader(data, 8), be = phx_reader(data, 8);
    uint64_t x = 0, y = 0;
    CHECK(phx_reader_u64le(&le, &x, &e) == PHX_OK && phx_reader_u64be(&be, &y, &e) == PHX_OK);
    CHECK(x == __builtin_bswap64(y));
}

static void test_ct(void)
{
    uint8_t a[32] = {0}, b[32] = {0};
    CHECK(phx_ct_eq(a, b, 32) == 1);
    b[31] = 0x80;
    CHECK(phx_ct_eq(a, b, 32) == 0);
    b[31] = 0;
    b[0] = 1;
    CHECK(phx_ct_eq(a, b, 32) == 0);
    CHECK(phx_ct_eq(a, b, 0) == 1);
}

static void test_file_json(void)
{
    char dir[] = "/tmp/phx-test-core-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/x.json", dir);
    const char *text = "{\"a\":\"0xABCD\",\"n\":7,\"t\":true}";
    phx_error_t e = {0};
    CHECK(phx_file_write_atomic(path, text, strlen(text), 0600, &e) == PHX_OK);
    json_t *j = NULL;
    CHECK(phx_json_load_file(path, &j, &e) == PHX_OK);
    phx_buf_t b = PHX_BUF_INIT;
    CHECK(phx_json_get_hex(j, "a", &b, &e) == PHX_OK && b.len == 2 && b.ptr[0] == 0xab);
    int64_t n;
    bool t;
    CHECK(phx_json_get_int(j, "n", &n, &e) == PHX_OK && n == 7);
    CHECK(phx_json_get_bool(j, "t", &t, &e) == PHX_OK && t);
    CHECK(phx_json_get_int(j, "missing", &n, &e) == PHX_ERR_INVALID);
    CHECK(strstr(e.message, "\"missing\"") != NULL);
    const char *s;
    CHECK(phx_json_get_str(j, "n", &s, &e) == PHX_ERR_INVALID);
    json_decref(j);
    phx_buf_free(&b);
    CHECK(phx_json_parse("{\"a\":1,\"a\":2}", 13, &j, &e) == PHX_ERR_INVALID);
    CHECK(phx_json_parse("{", 1, &j, &e) == PHX_ERR_INVALID);
    /* Raw NULs in strings: refused by default, allowed for JSON-RPC bodies. */
    const char *nul = "{\"m\":\"a\\u0000b\"}";
    CHECK(phx_json_parse(nul, strlen(nul), &j, &e) == PHX_ERR_INVALID);
    CHECK(phx_json_parse_allow_nul(nul, strlen(nul), &j, &e) == PHX_OK);
    CHECK(json_string_length(json_object_get(j, "m")) == 3);
    json_decref(j);
    unlink(path);
    rmdir(dir);
}

/* mkdir -p semantics: parents made, an existing directory is fine, a file in
 * the way is refused and named. */
static void test_dir_ensure(void)
{
    char dir[] = "/tmp/phx-test-dir-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char deep[256], file[256], under_file[300];
    snprintf(deep, sizeof deep, "%s/a//b/c/", dir);
    phx_error_t e = {0};
    CHECK(phx_dir_ensure(deep, 0700, &e) == PHX_OK);
    struct stat st;
    snprintf(deep, sizeof deep, "%s/a/b/c", dir);
    CHECK(stat(deep, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK(phx_dir_ensure(deep, 0700, &e) == PHX_OK); /* already there */
    snprintf(file, sizeof file, "%s/a/f", dir);
    CHECK(phx_file_write_atomic(file, "x", 1, 0600, &e) == PHX_OK);
    CHECK(phx_dir_ensure(file, 0700, &e) == PHX_ERR_IO);
    CHECK(strstr(e.message, "not a directory") != NULL && strstr(e.message, "/a/f") != NULL);
    snprintf(under_file, sizeof under_file, "%s/g", file);
    CHECK(phx_dir_ensure(under_file, 0700, &e) == PHX_ERR_IO);
    CHECK(phx_dir_ensure("", 0700, &e) == PHX_ERR_INVALID);
    unlink(file);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a/b", dir);
    rmdir(deep);
    snprintf(deep, sizeof deep, "%s/a", dir);
    rmdir(deep);
    CHECK(rmdir(dir) == 0); /* nothing else was left behind */
}

/* The state-directory lock: a second taker is refused and told the holder's
 * pid; the kernel releases it when the holder dies, even by SIGKILL. */
static void test_dir_lock(void)
{
    char dir[] = "/tmp/phx-test-lock-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    int sync[2];
    CHECK(pipe(sync) == 0);
    pid_t holder = fork();
    if (holder == 0) {
        int fd;
        if (phx_dir_lock(dir, &fd, NULL, NULL) != PHX_OK) _exit(3);
        char c = 'L';
        if (write(sync[1], &c, 1) != 1) _exit(4);
        pause(); /* until SIGKILLed */
        _exit(0);
    }
    close(sync[1]);
    char c = 0;
    CHECK(read(sync[0], &c, 1) == 1 && c == 'L');
    close(sync[0]);
    int fd = -1;
    long who = -1;
    phx_error_t e = {0};
    CHECK(phx_dir_lock(dir, &fd, &who, &e) == PHX_ERR_STATE && fd == -1);
    CHECK_MSG(who == (long)holder, "holder %ld, expected %ld", who, (long)holder);
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)holder);
    CHECK_MSG(strstr(e.message, want) != NULL, "%s", e.message);
    kill(holder, SIGKILL);
    int status;
    CHECK(waitpid(holder, &status, 0) == holder);
    CHECK(phx_dir_lock(dir, &fd, &who, &e) == PHX_OK && fd >= 0);
    phx_buf_t b = PHX_BUF_INIT;
    char path[256];
    snprintf(path, sizeof path, "%s/lock", dir);
    CHECK(phx_file_read(path, &b, &e) == PHX_OK && b.len > 0 &&
          strtol((char *)b.ptr, NULL, 10) == (long)getpid());
    phx_buf_free(&b);
    phx_dir_unlock(fd);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

/* Every code has its own stable name (they are on the wire in error bodies). */
static void test_strerror(void)
{
    CHECK(strcmp(phx_strerror(PHX_OK), "ok") == 0);
    CHECK(strcmp(phx_strerror(PHX_ERR_NOT_FOUND), "not_found") == 0);
    CHECK(strcmp(phx_strerror(PHX_ERR_INTERNAL), "internal") == 0);
    CHECK(strcmp(phx_strerror(PHX_ERR__COUNT), "unknown") == 0);
    int named = 0;
    for (int i = 0; i < PHX_ERR__COUNT; i++) {
        const char *n = phx_strerror((phx_err_t)i);
        CHECK_MSG(n && *n && strcmp(n, "unknown") != 0, "code %d", i);
        for (int j = 0; j < i; j++)
            CHECK_MSG(strcmp(n, phx_strerror((phx_err_t)j)) != 0, "codes %d and %d share %s", i, j,
                      n);
        named++;
    }
    CHECK(named == 16);
}

/* PHX_ASSERT is live in this (test) build: a false invariant aborts the process
 * and says file:line and the expression on stderr. */
static void test_assert(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        PHX_ASSERT(1 + 1 == 2);
        int broken = 3;
        PHX_ASSERT(broken < 2);
        _exit(0); /* not reached when the assertion is live */
    }
    close(fds[1]);
    char out[512] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof out - 1 && (n = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d", status);
    CHECK_MSG(strstr(out, "test_core.c:") != NULL && strstr(out, "broken < 2") != NULL, "%s", out);
    CHECK(strstr(out, "1 + 1") == NULL);
}

static void test_secure_zero(void)
{
    uint8_t k[48];
    memset(k, 0xa5, sizeof k);
    phx_secure_zero(k, sizeof k);
    int nonzero = 0;
    for (size_t i = 0; i < sizeof k; i++)
        nonzero |= k[i];
    CHECK(nonzero == 0);
    phx_secure_zero(NULL, 0); /* allowed */
}

/* Run fn with stderr pointed at fd; returns what was written when fd is a file. */
static void with_stderr(int fd, void (*fn)(void))
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
}

static void log_lines(void)
{
    phx_log_set_component("core-test");
    PHX_DEBUG("below the level: not written");
    PHX_INFO("worker %d up", 3);
    PHX_WARN("quote \"x\"\nnext line\tend");
    /* Bytes from outside (a peer's error text) need not be UTF-8; the line must
     * still be JSON. "\xc3\xa9" is valid UTF-8 and is kept. */
    PHX_ERROR("peer said \xff\xfe caf\xc3\xa9 \xe2\x82");
}

static void test_log(void)
{
    phx_log_set_level(PHX_LOG_INFO);
    phx_log_set_format(0); /* auto: decided by isatty(stderr) */

    /* Captured (a file): one JSON object per line, the debug line filtered out. */
    char path[] = "/tmp/phx-test-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    with_stderr(fd, log_lines);
    char text[4096] = {0};
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    close(fd);
    unlink(path);
    CHECK(n > 0);
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *j = NULL;
        phx_error_t e = {0};
        lines++;
        CHECK_MSG(phx_json_parse(line, strlen(line), &j, &e) == PHX_OK, "not JSON: %s", line);
        if (!j) continue;
        const char *level = json_string_value(json_object_get(j, "level"));
        const char *msg = json_string_value(json_object_get(j, "msg"));
        CHECK(json_string_value(json_object_get(j, "ts")) != NULL);
        CHECK(strcmp(json_string_value(json_object_get(j, "component")), "core-test") == 0);
        if (lines == 1)
            CHECK(level && strcmp(level, "info") == 0 && strcmp(msg, "worker 3 up") == 0);
        if (lines == 2)
            CHECK(level && strcmp(level, "warn") == 0 &&
                  strcmp(msg, "quote \"x\"\nnext line\tend") == 0);
        if (lines == 3)
            CHECK_MSG(level && strcmp(level, "error") == 0 &&
                          strcmp(msg, "peer said \xef\xbf\xbd\xef\xbf\xbd caf\xc3\xa9 "
                                      "\xef\xbf\xbd\xef\xbf\xbd") == 0,
                      "non-UTF-8 line: %s", msg ? msg : "(none)");
        json_decref(j);
    }
    CHECK_MSG(lines == 3, "%d JSON lines, want 3", lines);

    /* On a terminal: human text, not JSON. */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
    int tty = master >= 0 ? open(ptsname(master), O_RDWR | O_NOCTTY) : -1;
    CHECK(tty >= 0 && isatty(tty));
    if (tty >= 0) {
        with_stderr(tty, log_lines);
        char out[4096] = {0};
        size_t got = 0;
        fcntl(master, F_SETFL, O_NONBLOCK);
        for (ssize_t r;
             got < sizeof out - 1 && (r = read(master, out + got, sizeof out - 1 - got)) > 0;)
            got += (size_t)r;
        CHECK_MSG(strstr(out, "info  core-test: worker 3 up") != NULL, "tty output: %s", out);
        CHECK(strchr(out, '{') == NULL && strstr(out, "below the level") == NULL);
        close(tty);
    }
    if (master >= 0) close(master);
    phx_log_set_component(NULL);
}

int main(void)
{
    static const test_case_t cases[] = {
        TEST_CASE(test_hex),         TEST_CASE(test_base64),     TEST_CASE(test_buf),
        TEST_CASE(test_reader),      TEST_CASE(test_reader_be),  TEST_CASE(test_ct),
        TEST_CASE(test_file_json),   TEST_CASE(test_dir_ensure), TEST_CASE(test_assert),
        TEST_CASE(test_secure_zero), TEST_CASE(test_log),        TEST_CASE(test_strerror),
        TEST_CASE(test_dir_lock),
    };
    return test_run("test_core", cases, TEST_COUNT(cases));
}
