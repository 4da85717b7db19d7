/* phx build: bundle a contract and its npm imports into one ES module with the
 * pinned esbuild (package.json), with an inline source map so errors name the
 * user's file and line (src/js/sourcemap.c). The bundle is the contract: it is
 * what phx deploy hashes, records and sends (deploy builds on its own when
 * given a .ts file or a file with imports). */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "phx/crypto.h"

extern char **environ;

static const char help[] =
    "usage: phx build CONTRACT.ts|js [--out FILE] [--json]\n\n"
    "Bundle a contract and everything it imports (npm packages from the nearest\n"
    "node_modules, then phx's own) into one ES module with the pinned esbuild:\n"
    "TypeScript is compiled, imports are resolved, names are kept (a Phat\n"
    "`export default function main` stays main). The bundle carries an inline\n"
    "source map, so an error in it is reported at your file and line\n"
    "(src/index.ts:42), in phx run, phx call and on chain alike. The bundle is\n"
    "the contract: its keccak-256 is the code hash that deploy records and\n"
    "verify checks. phx deploy, update and run build on their own when given a\n"
    ".ts file or a file with imports.\n\n"
    "Options:\n"
    "  --out FILE   where the bundle goes (default: dist/NAME.js, NAME the file's\n"
    "               name without its extension)\n"
    "  --json       print {\"out\",\"bytes\",\"code_hash\"}\n\n"
    "esbuild is found in $PHX_NODE_MODULES, else the node_modules beside the phx\n"
    "build directory, else PATH.\n\n"
    "Exit status: 0 built, 1 esbuild missing or failed to run, 2 bad usage or\n"
    "code that does not build (esbuild's message names the file and line).\n";

/* node_modules of the repo phx was built in (build/phx, build-test/phx), unless given. */
static void node_modules_dir(char *out, size_t cap)
{
    const char *env = getenv("PHX_NODE_MODULES");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    for (int up = 0; up < 2; up++) { /* strip "/phx", then "/build" */
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
    }
    snprintf(out, cap, "%s/node_modules", exe);
}

bool cli_build_wanted(const char *file, const uint8_t *src, size_t len)
{
    const char *dot = strrchr(file, '.');
    if (dot && (!strcmp(dot, ".ts") || !strcmp(dot, ".mts") || !strcmp(dot, ".tsx"))) return true;
    /* An import statement at the start of a line (an ES module with imports). */
    for (size_t i = 0; i + 7 <= len; i++) {
        if (i && src[i - 1] != '\n') continue;
        size_t j = i;
        while (j < len && (src[j] == ' ' || src[j] == '\t'))
            j++;
        if (j + 7 <= len && !memcmp(src + j, "import", 6) &&
            (src[j + 6] == ' ' || src[j + 6] == '{' || src[j + 6] == '"' || src[j + 6] == '\'' ||
             src[j + 6] == '*'))
            return true;
    }
    return false;
}

int cli_build_bundle(const char *prefix, const char *file, const char *out)
{
    char nm[4096], esbuild[4200], node_path[4200], outfile[4200];
    node_modules_dir(nm, sizeof nm);
    snprintf(esbuild, sizeof esbuild, "%s/.bin/esbuild", nm);
    if (access(esbuild, X_OK) != 0) snprintf(esbuild, sizeof esbuild, "esbuild");
    /* phx's own packages resolve too, after the project's node_modules. */
    snprintf(node_path, sizeof node_path, "NODE_PATH=%s", nm);
    snprintf(outfile, sizeof outfile, "--outfile=%s", out);
    char *argv[] = {esbuild, (char *)file, "--bundle", "--format=esm",
                    /* browser: the packages' ESM builds, no Node built-ins */
                    "--platform=browser", "--target=es2022", "--keep-names", "--sourcemap=inline",
                    "--sources-content=false", "--log-level=error", outfile, NULL};
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp);
    if (!envp) return cli_error(PHX_EXIT_FAIL, prefix, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "NODE_PATH=", 10)) envp[k++] = environ[i];
    envp[k++] = node_path;
    pid_t pid;
    fflush(NULL);
    int rc = posix_spawnp(&pid, esbuild, NULL, NULL, argv, envp);
    free(envp);
    if (rc)
        return cli_error(PHX_EXIT_FAIL, prefix, "cannot run esbuild (%s): %s", esbuild,
                         strerror(rc));
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st))
        return cli_error(PHX_EXIT_FAIL, prefix, "esbuild died (signal %d)", WTERMSIG(st));
    if (WEXITSTATUS(st) == 127)
        return cli_error(PHX_EXIT_FAIL, prefix, "esbuild not found (npm ci in the repo?)");
    if (WEXITSTATUS(st))
        return cli_error(PHX_EXIT_USAGE, prefix, "%s does not build (esbuild's message above)",
                         file);
    return 0;
}

int cli_build_to_buffer(const char *prefix, const char *file, phx_buf_t *code)
{
    /* Beside the source, so the map's paths are relative to it (index.ts,
     * node_modules/...), not to a temporary directory. */
    char tmpl[4096];
    const char *slash = strrchr(file, '/');
    snprintf(tmpl, sizeof tmpl, "%.*s.phx-bundle-XXXXXX.js", slash ? (int)(slash - file + 1) : 0,
             file);
    int fd = mkstemps(tmpl, 3);
    if (fd < 0)
        return cli_error(PHX_EXIT_FAIL, prefix, "a file for the bundle beside %s: %s", file,
                         strerror(errno));
    close(fd);
    int rc = cli_build_bundle(prefix, file, tmpl);
    phx_error_t e = {0};
    if (!rc && phx_file_read(tmpl, code, &e)) rc = cli_error_e(PHX_EXIT_FAIL, prefix, &e);
    unlink(tmpl);
    return rc;
}

static int cmd_build(int argc, char **argv)
{
    static const char P[] = "phx build";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    cli_opt_t opts[] = {{.name = "out", .takes_value = true}, {.name = "json"}};
    const int nopts = (int)(sizeof opts / sizeof opts[0]);
    cli_args_t args;
    int rc = cli_parse(P, argc, argv, opts, nopts, &args);
    if (rc) return rc;
    phx_buf_t code = PHX_BUF_INIT;
    phx_error_t e = {0};
    char out[4096];
    if (args.npos != 1) {
        rc = cli_error(PHX_EXIT_USAGE, P, "expected one CONTRACT.ts|js (see --help)");
        goto done;
    }
    const char *file = args.pos[0];
    if (access(file, R_OK) != 0) {
        rc = cli_error(PHX_EXIT_USAGE, P, "%s: %s", file, strerror(errno));
        goto done;
    }
    if (cli_opt(opts, nopts, "out")->value) {
        snprintf(out, sizeof out, "%s", cli_opt(opts, nopts, "out")->value);
    } else {
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        const char *dot = strrchr(base, '.');
        int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        mkdir("dist", 0755);
        snprintf(out, sizeof out, "dist/%.*s.js", stem, base);
    }
    if ((rc = cli_build_bundle(P, file, out))) goto done;
    if (phx_file_read(out, &code, &e)) {
        rc = cli_error_e(PHX_EXIT_FAIL, P, &e);
        goto done;
    }
    uint8_t hash[32];
    phx_keccak256(code.ptr, code.len, hash);
    char hx[67] = "0x";
    phx_hex_encode_to(hx + 2, hash, 32);
    if (cli_opt(opts, nopts, "json")->seen) {
        json_t *o =
            json_pack("{s:s,s:I,s:s}", "out", out, "bytes", (json_int_t)code.len, "code_hash", hx);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("built %s\n  bundle     %s (%zu bytes)\n  code hash  %s\n", file, out, code.len, hx);
    }
done:
    phx_buf_free(&code);
    cli_opts_free(opts, nopts);
    return rc;
}
PHX_CLI_COMMAND(build, "build", 390, "bundle a contract and its npm imports (esbuild)", cmd_build)
