/* libFuzzer: the inline source map of a bundle (src/js/sourcemap.c), which
 * arrives with a contract. The first two bytes pick the line and column asked
 * about; the rest is the source. Any bytes either fail cleanly or name a plain
 * relative path and a line >= 1. */
#include <stdlib.h>
#include <string.h>

#include "phx/js.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    unsigned line = 1u + data[0] % 8u, column = data[1];
    char file[64];
    unsigned orig = 0;
    phx_error_t e = {0};
    if (phx_js_sourcemap_lookup((const char *)data + 2, size - 2, line, column, file, sizeof file,
                                &orig, &e) != PHX_OK) {
        if (!e.message[0]) abort();
        return 0;
    }
    if (orig == 0 || !file[0] || file[0] == '/' || !strncmp(file, "../", 3)) abort();
    return 0;
}
