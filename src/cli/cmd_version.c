/* phx version: what this binary is, for bug reports and attestation logs. */
#include <openssl/opensslv.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: phx version [--json]\n\n"
    "Print the phx version, the git revision it was built from and the versions of\n"
    "the libraries it links.\n\n"
    "Options:\n"
    "  --json    print a JSON object instead of text\n";

static int cmd_version(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) return cli_help(help);
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = cli_parse("phx version", argc, argv, opts, 1, &args);
    if (rc) return rc;
    if (args.npos) return cli_error(PHX_EXIT_USAGE, "phx version", "takes no arguments");
    if (opts[0].seen) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "version", PHX_VERSION, "git", PHX_GIT_REV,
                              "openssl", OPENSSL_FULL_VERSION_STR, "jansson", JANSSON_VERSION);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("phx %s (%s)\nopenssl %s, jansson %s\n", PHX_VERSION, PHX_GIT_REV,
               OPENSSL_FULL_VERSION_STR, JANSSON_VERSION);
    }
    return PHX_EXIT_OK;
}
PHX_CLI_COMMAND(version, "version", 900, "print version and build information", cmd_version)
