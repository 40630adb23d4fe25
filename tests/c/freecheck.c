/* A malloc interposer for tests/secrets.rs (LD_PRELOAD): every block handed back to the
 * allocator (free, realloc) is searched for the secrets the test names, and each block that
 * still holds one is logged. A freed block is what later allocations may or may not
 * overwrite, so this finds a copy that was never wiped every time, where a scan of memory
 * after the fact finds it only when nothing reused the block.
 *
 * FREECHECK_NEEDLES: name=hex,name=hex,... with each byte XOR 0xa5, so that neither the
 *                    environment nor this library holds a secret in clear.
 * FREECHECK_LOG:     the file that gets one line per hit: "name size offset". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASK 0xa5
#define MAX_NEEDLES 8
#define MAX_LEN 64

static struct {
    char name[32];
    unsigned char masked[MAX_LEN];
    size_t len;
} needles[MAX_NEEDLES];
static size_t count;
static int log_fd = -1;
static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);

static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

__attribute__((constructor)) static void init(void) {
    const char *path = getenv("FREECHECK_LOG");
    const char *spec = getenv("FREECHECK_NEEDLES");
    if (!path || !spec) return;
    log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    while (*spec && count < MAX_NEEDLES) {
        const char *eq = strchr(spec, '=');
        if (!eq || (size_t)(eq - spec) >= sizeof needles[0].name) return;
        memcpy(needles[count].name, spec, (size_t)(eq - spec));
        const char *p = eq + 1;
        size_t n = 0;
        while (n < MAX_LEN && hex(p[0]) >= 0 && hex(p[1]) >= 0) {
            needles[count].masked[n++] = (unsigned char)(hex(p[0]) << 4 | hex(p[1]));
            p += 2;
        }
        needles[count].len = n;
        if (n > 0) count++;
        spec = *p == ',' ? p + 1 : p + strlen(p);
    }
}

static void check(void *block) {
    if (!block || log_fd < 0) return;
    const unsigned char *b = block;
    size_t size = malloc_usable_size(block);
    for (size_t k = 0; k < count; k++) {
        size_t len = needles[k].len;
        for (size_t i = 0; i + len <= size; i++) {
            size_t j = 0;
            while (j < len && (b[i + j] ^ MASK) == needles[k].masked[j]) j++;
            if (j == len) {
                char line[96];
                int l = snprintf(line, sizeof line, "%s %zu %zu\n", needles[k].name, size, i);
                if (l > 0 && write(log_fd, line, (size_t)l) < 0) {
                    /* Nothing to do: the test then sees no line and fails on its control. */
                }
                break;
            }
        }
    }
}

void free(void *p) {
    if (!real_free) real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    check(p);
    real_free(p);
}

void *realloc(void *p, size_t n) {
    /* The old block may move, and glibc frees it internally: check it now. */
    if (!real_realloc) real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    check(p);
    return real_realloc(p, n);
}
