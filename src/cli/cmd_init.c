/* phx init NAME: a new project in NAME/ — a contract, its test (run with
 * phx run), a Solidity consumer on the PhxConsumer base (written beside it
 * from the copy embedded at build time, so it compiles with the project's
 * own files alone) and a README. Refuses to write into anything that exists. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

extern const char phx_init_IPhx_sol[], phx_init_PhxConsumer_sol[];

static const char help[] =
    "usage: phx init NAME [--json]\n\n"
    "Start a project in the new directory NAME:\n"
    "  contract.js                   the TEE contract: squares a number and returns it\n"
    "                                ABI-encoded (uint256), so a consumer decodes it\n"
    "  test/run.sh                   its test: phx run on a good and a bad input\n"
    "                                (sh test/run.sh; $PHX names the phx to use)\n"
    "  contracts/SquareConsumer.sol  a Solidity consumer inheriting PhxConsumer:\n"
    "                                requests a run and decodes the answer\n"
    "  contracts/phx/PhxConsumer.sol, contracts/phx/IPhx.sol\n"
    "                                the base it inherits, as this phx ships it\n"
    "  README.md                     what to run next: test, deploy, request\n\n"
    "NAME must not exist yet; it is a directory name of letters, digits, '.',\n"
    "'_' and '-'.\n\n"
    "Exit status: 0 written, 1 a file could not be written, 2 bad usage (NAME\n"
    "exists or is not a plain name).\n";

static const char contract_js[] =
    "// A TEE contract: runs in a worker's TEE, its answer signed by the worker.\n"
    "// Input: {\"n\": <a non-negative integer>}. Output: n * n, ABI-encoded as one\n"
    "// uint256 (bytes), which contracts/SquareConsumer.sol decodes on chain.\n"
    "// Throwing is an error: on chain the consumer gets ok = false and the message.\n"
    "export default async function (input, ctx) {\n"
    "  const n = BigInt(input && input.n !== undefined ? input.n : -1);\n"
    "  if (n < 0n) throw new Error(\"input.n must be a non-negative integer\");\n"
    "  console.log(`squaring ${n} for request ${ctx.requestId}`);\n"
    "  return phx.abi.encode([\"uint256\"], [n * n]);\n"
    "}\n";

static const char test_sh[] =
    "#!/bin/sh\n"
    "# The contract's test: phx run on a good input (the answer is checked) and on\n"
    "# a bad one (the run must fail). Run from the project: sh test/run.sh\n"
    "set -u\n"
    "phx=${PHX:-phx}\n"
    "cd \"$(dirname \"$0\")/..\" || exit 1\n"
    "fail=0\n"
    "want=0x$(printf '%064x' 144)\n"
    "got=$(\"$phx\" run contract.js --input '{\"n\":12}' --kv .phx-kv)\n"
    "if [ \"$got\" = \"$want\" ]; then echo \"ok   12 squared is 144, ABI-encoded\"; else\n"
    "    echo \"FAIL 12 squared: got '$got', want '$want'\"; fail=1; fi\n"
    "if \"$phx\" run contract.js --input '{\"n\":-1}' --kv .phx-kv >/dev/null 2>&1; then\n"
    "    echo \"FAIL a negative n must fail the run\"; fail=1\n"
    "else echo \"ok   a negative n fails the run\"; fi\n"
    "exit $fail\n";

static const char consumer_sol[] =
    "// SPDX-License-Identifier: Apache-2.0\n"
    "// Asks the TEE contract (contract.js, deployed with phx deploy) to square a\n"
    "// number and keeps the answer. PhxConsumer lets only Jobs call back, and Jobs\n"
    "// calls back only the contract that made the request.\n"
    "pragma solidity ^0.8.24;\n"
    "\n"
    "import {IERC20, IJobs} from \"./phx/IPhx.sol\";\n"
    "import {PhxConsumer} from \"./phx/PhxConsumer.sol\";\n"
    "\n"
    "contract SquareConsumer is PhxConsumer {\n"
    "    address public immutable owner;\n"
    "    bytes32 public immutable teeContract; // the id phx deploy printed\n"
    "    uint256 public lastSquare;\n"
    "    bytes public lastError;\n"
    "\n"
    "    event Squared(uint256 indexed requestId, uint256 square);\n"
    "    event Failed(uint256 indexed requestId, bytes reason);\n"
    "\n"
    "    error NotOwner();\n"
    "\n"
    "    constructor(IJobs jobs_, IERC20 token_, bytes32 teeContract_) PhxConsumer(jobs_, token_) "
    "{\n"
    "        owner = msg.sender;\n"
    "        teeContract = teeContract_;\n"
    "    }\n"
    "\n"
    "    /// Pays from this contract's PHA (send it some first); owner only, so no\n"
    "    /// one else spends it.\n"
    "    function square(uint256 n, uint256 maxFee) external returns (uint256 requestId) {\n"
    "        if (msg.sender != owner) revert NotOwner();\n"
    "        bytes memory input = abi.encodePacked('{\"n\":\"', _decimal(n), '\"}');\n"
    "        requestId = _sendRequest(teeContract, input, maxFee, 100_000, 1);\n"
    "    }\n"
    "\n"
    "    function _fulfill(uint256 requestId, bool ok, bytes calldata output) internal override {\n"
    "        if (!ok) {\n"
    "            lastError = output;\n"
    "            emit Failed(requestId, output);\n"
    "            return;\n"
    "        }\n"
    "        lastSquare = abi.decode(output, (uint256));\n"
    "        emit Squared(requestId, lastSquare);\n"
    "    }\n"
    "\n"
    "    function _decimal(uint256 v) private pure returns (bytes memory s) {\n"
    "        if (v == 0) return \"0\";\n"
    "        uint256 len;\n"
    "        for (uint256 t = v; t != 0; t /= 10) len++;\n"
    "        s = new bytes(len);\n"
    "        for (; v != 0; v /= 10) s[--len] = bytes1(uint8(48 + (v % 10)));\n"
    "    }\n"
    "}\n";

static const char readme_fmt[] =
    "# %s\n"
    "\n"
    "A Phalanx project: a TEE contract and the Solidity contract that uses it.\n"
    "\n"
    "- `contract.js`: the TEE contract. `phx run contract.js --input '{\"n\":12}'`\n"
    "  runs it here, in the same sandbox a worker uses.\n"
    "- `test/run.sh`: its test (`sh test/run.sh`; `PHX=/path/to/phx` to pick a phx).\n"
    "- `contracts/SquareConsumer.sol`: asks for a run on chain and decodes the\n"
    "  answer; it inherits `PhxConsumer` (`contracts/phx/`), which gives it\n"
    "  `_sendRequest` and a callback only Jobs may call. A failed run arrives\n"
    "  with `ok` false and the error as output.\n"
    "\n"
    "Next:\n"
    "\n"
    "```\n"
    "sh test/run.sh                      # the contract's test\n"
    "phx devnet &                        # a local network (chain, KMS, worker, gateway)\n"
    "phx deploy contract.js              # prints the contract id\n"
    "phx call ID --input '{\"n\":12}'      # a signed answer, off chain\n"
    "phx request ID --input '{\"n\":12}' --fee 1000000000000000000   # on chain\n"
    "```\n"
    "\n"
    "Deploy `SquareConsumer` with the devnet's Jobs and PhxToken addresses\n"
    "(`phx devnet --json`) and the contract id, send it some PHA, and call\n"
    "`square(12, fee)`: `lastSquare()` becomes 144 once a worker has answered.\n"
    "A `.ts` file or one with npm imports is bundled by `phx build` (and by\n"
    "`phx deploy` on its own).\n";

static int write_file(const char *prefix, const char *dir, const char *name, const char *text,
                      json_t *list)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wx");
    if (!f) return cli_error(PHX_EXIT_FAIL, prefix, "%s: %s", path, strerror(errno));
    bool ok = fputs(text, f) >= 0;
    if (fclose(f) != 0 || !ok) return cli_error(PHX_EXIT_FAIL, prefix, "%s: write failed", path);
    json_array_append_new(list, json_string(name));
    return 0;
}

static int cmd_init(int argc, char **argv)
{
    static const char P[] = "phx init";
    if (cli_wants_help(argc, argv)) return cli_help(help);
    cli_opt_t opts[] = {{.name = "json"}};
    cli_args_t args;
    int rc = cli_parse(P, argc, argv, opts, 1, &args);
    if (rc) return rc;
    json_t *files = json_array();
    char readme[4096], sub[4200];
    const char *name = args.npos == 1 ? args.pos[0] : NULL;
    if (!name) {
        rc = cli_error(PHX_EXIT_USAGE, P, "expected one NAME (see --help)");
        goto out;
    }
    bool plain = *name && *name != '.' && strlen(name) < 200;
    for (const char *c = name; plain && *c; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '.' || *c == '_' || *c == '-';
    if (!plain) {
        rc =
            cli_error(PHX_EXIT_USAGE, P, "NAME must be letters, digits, '.', '_', '-': '%s'", name);
        goto out;
    }
    if (mkdir(name, 0755) != 0) {
        rc = cli_error(errno == EEXIST ? PHX_EXIT_USAGE : PHX_EXIT_FAIL, P, "%s: %s", name,
                       errno == EEXIST ? "exists already (phx init makes a new directory)"
                                       : strerror(errno));
        goto out;
    }
    snprintf(sub, sizeof sub, "%s/test", name);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/contracts", name);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/contracts/phx", name);
    mkdir(sub, 0755);
    snprintf(readme, sizeof readme, readme_fmt, name);
    if ((rc = write_file(P, name, "contract.js", contract_js, files)) ||
        (rc = write_file(P, name, "test/run.sh", test_sh, files)) ||
        (rc = write_file(P, name, "contracts/SquareConsumer.sol", consumer_sol, files)) ||
        (rc = write_file(P, name, "contracts/phx/PhxConsumer.sol", phx_init_PhxConsumer_sol,
                         files)) ||
        (rc = write_file(P, name, "contracts/phx/IPhx.sol", phx_init_IPhx_sol, files)) ||
        (rc = write_file(P, name, "README.md", readme, files)))
        goto out;
    snprintf(sub, sizeof sub, "%s/test/run.sh", name);
    chmod(sub, 0755);
    if (opts[0].seen) {
        json_t *o = json_pack("{s:s,s:O}", "dir", name, "files", files);
        cli_print_json(o);
        json_decref(o);
    } else {
        printf("created %s/\n", name);
        for (size_t i = 0; i < json_array_size(files); i++)
            printf("  %s\n", json_string_value(json_array_get(files, i)));
        printf("next: cd %s && sh test/run.sh\n", name);
    }
out:
    json_decref(files);
    cli_opts_free(opts, 1);
    return rc;
}
PHX_CLI_COMMAND(init, "init", 380, "start a project: contract, test, Solidity consumer", cmd_init)
