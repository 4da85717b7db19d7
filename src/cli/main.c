/* phx: one binary, git-style subcommands. Verbs register themselves (cli.h);
 * this file dispatches and prints the top-level help. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_COMMANDS 64
static const phx_cli_command_t *commands[MAX_COMMANDS];
static int ncommands;

void phx_cli_register(const phx_cli_command_t *cmd)
{
    if (ncommands < MAX_COMMANDS) commands[ncommands++] = cmd;
}

static int by_order(const void *a, const void *b)
{
    const phx_cli_command_t *x = *(const phx_cli_command_t *const *)a;
    const phx_cli_command_t *y = *(const phx_cli_command_t *const *)b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void print_usage(FILE *f)
{
    fprintf(f, "usage: phx <command> [options] [args]\n\n"
               "Phalanx: confidential compute on TEE workers, settled on an EVM chain.\n\n"
               "Commands:\n");
    for (int i = 0; i < ncommands; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nEvery command takes --help. Output that is data takes --json.\n"
               "Exit status: 0 success, 1 the checked thing failed, 2 bad usage or input.\n"
               "Environment: PHX_LOG=debug|info|warn|error|off sets the log level (stderr).\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: phx help [COMMAND]\n\n"
               "Without COMMAND, list every phx command. With COMMAND, show its help\n"
               "(the same as 'phx COMMAND --help').\n");
        return PHX_EXIT_OK;
    }
    if (argc >= 2) {
        for (int i = 0; i < ncommands; i++) {
            if (strcmp(commands[i]->name, argv[1]) == 0) {
                char *sub[] = {argv[1], "--help", NULL};
                return commands[i]->fn(2, sub);
            }
        }
        return cli_error(PHX_EXIT_USAGE, "phx help", "no such command '%s'", argv[1]);
    }
    print_usage(stdout);
    return PHX_EXIT_OK;
}
PHX_CLI_COMMAND(help, "help", 1000, "show help for phx or for one command", cmd_help)

int main(int argc, char **argv)
{
    qsort(commands, (size_t)ncommands, sizeof commands[0], by_order);
    if (argc < 2) {
        print_usage(stderr);
        return PHX_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) return cmd_help(1, argv);
    if (strcmp(verb, "--version") == 0) verb = "version";
    for (int i = 0; i < ncommands; i++)
        if (strcmp(commands[i]->name, verb) == 0) return commands[i]->fn(argc - 1, argv + 1);
    fprintf(stderr, "phx: '%s' is not a phx command; see 'phx help'\n", verb);
    return PHX_EXIT_USAGE;
}
