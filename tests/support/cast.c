/* See cast.h. */
#include "cast.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "anvil.h"
#include "phx/core.h"

const char *test_cast_path(void)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/.bin/cast", test_node_modules());
    return path;
}

bool test_cast_available(void)
{
    if (access(test_cast_path(), X_OK) != 0) {
        printf("SKIP cast cross-checks: %s not found (run scripts/setup.sh)\n", test_cast_path());
        return false;
    }
    return true;
}

bool test_run_line(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p) return false;
    out[0] = '\0';
    bool ok = fgets(out, (int)cap, p) != NULL;
    int rc = pclose(p);
    out[strcspn(out, "\r\n")] = '\0';
    return ok && rc == 0 && out[0] != '\0';
}

bool test_cast_digest(const char *sig, const char *args, uint8_t digest[32])
{
    char cmd[8192], enc[4096], h[128];
    snprintf(cmd, sizeof cmd, "'%s' abi-encode '%s' %s", test_cast_path(), sig, args);
    if (!test_run_line(cmd, enc, sizeof enc)) return false;
    snprintf(cmd, sizeof cmd, "'%s' keccak %s", test_cast_path(), enc);
    if (!test_run_line(cmd, h, sizeof h)) return false;
    return phx_hex_decode_fixed(h, digest, 32, NULL) == PHX_OK;
}
