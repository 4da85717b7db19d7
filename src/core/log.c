/* Leveled logger to stderr: readable text on a terminal, one JSON object per
 * line when captured (so daemons' logs can be parsed). Never logs secrets:
 * callers pass hashes or ids, not values. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "phx/core.h"

static phx_log_level_t current_level = PHX_LOG_INFO;
static int forced_format; /* 0 auto, 1 text, 2 json */
static char component[32];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* Read $PHX_LOG exactly once, even when the first log lines come from several
 * threads at the same time (daemons log from worker threads). */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env_level(void)
{
    const char *s = getenv("PHX_LOG");
    if (!s) return;
    for (int i = 0; i <= PHX_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0) current_level = (phx_log_level_t)i;
}

static void init_from_env(void)
{
    pthread_once(&env_once, read_env_level);
}

void phx_log_set_level(phx_log_level_t level)
{
    init_from_env(); /* so a later first log line does not override the caller */
    current_level = level;
}

phx_log_level_t phx_log_get_level(void)
{
    init_from_env();
    return current_level;
}

void phx_log_set_format(int format)
{
    forced_format = format;
}

void phx_log_set_component(const char *name)
{
    snprintf(component, sizeof component, "%s", name ? name : "");
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* Messages may carry bytes from outside (a peer's error text) and may have been
 * cut mid-character at the buffer size: invalid UTF-8 becomes U+FFFD so every
 * line stays valid JSON. */
static void json_escape(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s) {
        unsigned char c = *s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else if (c >= 0x80) {
            size_t n = utf8_len(s);
            if (!n) {
                fputs("\\ufffd", f);
                s++;
                continue;
            }
            fwrite(s, 1, n, f);
            s += n;
            continue;
        } else {
            fputc(c, f);
        }
        s++;
    }
}

void phx_logv(phx_log_level_t level, const char *fmt, va_list ap)
{
    init_from_env();
    if (level < current_level || level >= PHX_LOG_OFF) return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    int json = forced_format ? forced_format == 2 : !isatty(STDERR_FILENO);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    pthread_mutex_lock(&log_lock);
    if (json) {
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\"", when, level_names[level]);
        if (component[0]) fprintf(stderr, ",\"component\":\"%s\"", component);
        fputs(",\"msg\":\"", stderr);
        json_escape(stderr, msg);
        fputs("\"}\n", stderr);
    } else {
        fprintf(stderr, "%s %-5s %s%s%s\n", when + 11, level_names[level], component,
                component[0] ? ": " : "", msg);
    }
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void phx_log(phx_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    phx_logv(level, fmt, ap);
    va_end(ap);
}
