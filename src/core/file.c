/* Whole-file reads and crash-safe writes (temp + fsync + rename), so nothing
 * written by a daemon is ever seen half-done after a crash. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "phx/core.h"

phx_err_t phx_file_read(const char *path, phx_buf_t *out, phx_error_t *e)
{
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return phx_fail(e, PHX_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    phx_err_t err = PHX_OK;
    for (;;) {
        if ((err = phx_buf_reserve(out, 65536))) {
            phx_fail(e, err, "out of memory reading %s", path);
            break;
        }
        ssize_t n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = phx_fail(e, PHX_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) break;
        out->len += (size_t)n;
        out->ptr[out->len] = 0;
    }
    if (fd != STDIN_FILENO) close(fd);
    return err;
}

/* One step of phx_dir_ensure: make dir unless a directory is already there. */
static phx_err_t dir_make_one(const char *dir, int mode, phx_error_t *e)
{
    struct stat st;
    if (mkdir(dir, (mode_t)mode) == 0) return PHX_OK;
    int saved = errno;
    if (saved == EEXIST || saved == EACCES || saved == EROFS) {
        /* EACCES/EROFS on an existing directory (e.g. "/home") is fine: we only
         * needed it to be there. */
        if (stat(dir, &st) == 0) {
            if (S_ISDIR(st.st_mode)) return PHX_OK;
            return phx_fail(e, PHX_ERR_IO, "%s exists and is not a directory", dir);
        }
    }
    return phx_fail(e, PHX_ERR_IO, "cannot create directory %s: %s", dir, strerror(saved));
}

phx_err_t phx_dir_ensure(const char *path, int mode, phx_error_t *e)
{
    if (!path || !*path) return phx_fail(e, PHX_ERR_INVALID, "empty directory path");
    char *tmp = strdup(path);
    if (!tmp) return phx_fail(e, PHX_ERR_NOMEM, "out of memory");
    phx_err_t err = PHX_OK;
    /* Parents first, left to right; a run of slashes is one separator. */
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/' || p[-1] == '/') continue;
        *p = '\0';
        err = dir_make_one(tmp, mode, e);
        *p = '/';
        if (err) goto out;
    }
    err = dir_make_one(tmp, mode, e);
out:
    free(tmp);
    return err;
}

phx_err_t phx_dir_lock(const char *dir, int *fd_out, long *holder_pid, phx_error_t *e)
{
    char path[4096], text[32];
    *fd_out = -1;
    if (holder_pid) *holder_pid = 0;
    if (snprintf(path, sizeof path, "%s/lock", dir) >= (int)sizeof path)
        return phx_fail(e, PHX_ERR_RANGE, "directory path too long: %s", dir);
    /* Never truncate on open: the file holds the current holder's pid. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return phx_fail(e, PHX_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EINTR) continue;
        int saved = errno;
        if (saved == EWOULDBLOCK) {
            ssize_t n = pread(fd, text, sizeof text - 1, 0);
            long pid = 0;
            if (n > 0) {
                text[n] = 0;
                pid = strtol(text, NULL, 10);
            }
            if (holder_pid) *holder_pid = pid;
            close(fd);
            return phx_fail(e, PHX_ERR_STATE, "%s is in use by pid %ld (%s)", dir, pid, path);
        }
        close(fd);
        return phx_fail(e, PHX_ERR_IO, "cannot lock %s: %s", path, strerror(saved));
    }
    int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        int saved = errno;
        close(fd);
        return phx_fail(e, PHX_ERR_IO, "cannot write %s: %s", path, strerror(saved));
    }
    *fd_out = fd;
    return PHX_OK;
}

void phx_dir_unlock(int fd)
{
    /* The pid stays in the file; it is only read while the lock is held. */
    if (fd >= 0) close(fd);
}

phx_err_t phx_file_write_atomic(const char *path, const void *data, size_t len, int mode,
                                phx_error_t *e)
{
    phx_buf_t tmp = PHX_BUF_INIT;
    phx_err_t err = PHX_OK;
    int fd = -1;
    if (phx_buf_printf(&tmp, "%s.tmp.%ld.%lld", path, (long)getpid(),
                       (long long)phx_monotonic_ns())) {
        err = phx_fail(e, PHX_ERR_NOMEM, "out of memory");
        goto out;
    }
    fd = open((char *)tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        err = phx_fail(e, PHX_ERR_IO, "cannot create %s: %s", (char *)tmp.ptr, strerror(errno));
        goto out;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = phx_fail(e, PHX_ERR_IO, "cannot write %s: %s", path, strerror(errno));
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        err = phx_fail(e, PHX_ERR_IO, "cannot fsync %s: %s", path, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename((char *)tmp.ptr, path) != 0) {
        err = phx_fail(e, PHX_ERR_IO, "cannot rename to %s: %s", path, strerror(errno));
        goto out;
    }
    /* Make the rename itself durable. */
    char *dircopy = strdup(path);
    if (dircopy) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dircopy);
    }
out:
    if (fd >= 0) {
        close(fd);
        unlink((char *)tmp.ptr);
    }
    phx_buf_free(&tmp);
    return err;
}

uint64_t phx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t phx_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t phx_monotonic_ms(void)
{
    return phx_monotonic_ns() / 1000000u;
}

phx_err_t phx_home_dir(const char *sub, char *out, size_t cap, phx_error_t *e)
{
    const char *home = getenv("PHX_HOME");
    int n;
    if (home && *home) {
        n = snprintf(out, cap, "%s/%s", home, sub);
    } else {
        home = getenv("HOME");
        if (!home || !*home)
            return phx_fail(e, PHX_ERR_NOT_FOUND, "neither PHX_HOME nor HOME is set");
        n = snprintf(out, cap, "%s/.phx/%s", home, sub);
    }
    if (n < 0 || (size_t)n >= cap)
        return phx_fail(e, PHX_ERR_RANGE, "%s directory path too long", sub);
    return PHX_OK;
}
