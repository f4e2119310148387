/* A fault-injection shim for segmint's tests, loaded with LD_PRELOAD: writes and flushes
 * of files under $SEGMINT_FAULT_DIR fail while the file $SEGMINT_FAULT_SWITCH exists.
 * Its first word names the error: ENOSPC (a full disk) or EIO. Everything else (and
 * every other file) goes to the C library as usual. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* The error to fail a write to `fd` with, or 0 to let it through. */
static int fault(int fd) {
    const char *dir = getenv("SEGMINT_FAULT_DIR");
    const char *switch_file = getenv("SEGMINT_FAULT_SWITCH");
    if (!dir || !switch_file) return 0;
    int saved = errno;
    int error = 0;
    FILE *on = fopen(switch_file, "r");
    if (on) {
        char word[16] = {0};
        if (fscanf(on, "%15s", word) != 1) word[0] = 0;
        fclose(on);
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = 0;
            if (strncmp(path, dir, strlen(dir)) == 0)
                error = strcmp(word, "EIO") == 0 ? EIO : ENOSPC;
        }
    }
    errno = saved;
    return error;
}

#define REAL(name) static __typeof__(name) *real; if (!real) real = dlsym(RTLD_NEXT, #name)
#define FAIL_IF_FAULT(fd) do { int e = fault(fd); if (e) { errno = e; return -1; } } while (0)

ssize_t write(int fd, const void *buffer, size_t count) {
    REAL(write);
    FAIL_IF_FAULT(fd);
    return real(fd, buffer, count);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off_t offset) {
    REAL(pwrite64);
    FAIL_IF_FAULT(fd);
    return real(fd, buffer, count, offset);
}

ssize_t writev(int fd, const struct iovec *vectors, int count) {
    REAL(writev);
    FAIL_IF_FAULT(fd);
    return real(fd, vectors, count);
}

int fsync(int fd) {
    REAL(fsync);
    FAIL_IF_FAULT(fd);
    return real(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    FAIL_IF_FAULT(fd);
    return real(fd);
}
