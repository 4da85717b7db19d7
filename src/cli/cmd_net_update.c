/* phx update and phx secrets: the owner's changes to a deployed contract, as
 * the same signed deploy op phx deploy sends (cmd_net_deploy.c). */
#include "cmd_net.h"

const char net_update_help[] =
    "usage: phx update ID CONTRACT.js [--secret K=V]... [options]\n\n"
    "Replace the code of the contract ID, keeping its id. The change is an EIP-712\n"
    "ContractOp the owner signs (--key-file, default: the devnet's user key);\n"
    "workers refuse it from anyone else, and refuse an op older than the one they\n"
    "hold. The id's salt comes from the gateway and is checked to derive ID from\n"
    "your key. The code is compiled locally first, as `phx deploy` does.\n"
    "Secrets are sealed to a code hash, so the old ones do not open for the new\n"
    "code: give them again with --secret (an update without --secret leaves the\n"
    "contract with none). With a chain the update is recorded there too\n"
    "(Jobs.updateContract).\n\n"
    "Options:\n"
    "  --secret K=V        a secret the new code sees as ctx.secrets.K (repeatable)\n"
    "  --key-file FILE     the owner's secp256k1 key, hex\n"
    "  --no-chain          do not record the update on chain\n"
    "  --no-check          skip the local compile check\n"
    "  --isolation MODE    warm or process, as for phx deploy (the new code's)\n"
    "  --flavor NAME       phx (default) or chainlink-functions, as for phx deploy\n"
    "  --triggers FILE     the contract's triggers, as for phx deploy (an update\n"
    "                      without --triggers leaves it with none)\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --json              print {\"id\",\"code_hash\",\"owner\",\"on_chain\",\"flavor\",\n"
    "                      \"isolation\"}\n\n"
    "Exit status: 0 updated, 1 refused (not the owner, among others) or\n"
    "unreachable, 2 bad usage or input (a contract that does not compile among them).\n";

const char net_secrets_help[] =
    "usage: phx secrets set|rotate ID K=V... [options]\n\n"
    "Give the contract ID a new set of secrets, K=V each, seen as ctx.secrets.K.\n"
    "The set replaces the old one as a whole: the old secrets are sealed and no\n"
    "one outside a TEE can read them back to merge, so give every secret the\n"
    "contract needs. `set` and `rotate` are the same operation; `rotate` reads\n"
    "better when the values are new keys.\n"
    "The code stays as deployed: it is fetched from the gateway and checked\n"
    "against its hash, the secrets are sealed (HPKE) to the contract's KMS-signed\n"
    "key and to that code hash, and the owner (--key-file) signs the op.\n\n"
    "Options:\n"
    "  --key-file FILE     the owner's secp256k1 key, hex\n"
    "  --no-chain          do not touch the chain (the code hash there is unchanged)\n"
    "  --gateway URL       the network (else $PHX_GATEWAY, else the devnet)\n"
    "  --kms-address 0x..  the KMS to trust for the contract key (else the devnet's)\n"
    "  --triggers FILE     the contract's triggers, as for phx deploy (a secrets op\n"
    "                      is a new deploy op: without --triggers it declares none)\n"
    "  --json              print {\"id\",\"code_hash\",\"owner\",\"on_chain\"}\n\n"
    "Exit status: 0 set, 1 refused (not the owner, among others) or unreachable,\n"
    "2 bad usage or input.\n";

static int cmd_update(int argc, char **argv)
{
    return net_deploy_main(argc, argv, NET_UPDATE);
}
PHX_CLI_COMMAND(update, "update", 401, "replace a deployed contract's code (owner-signed)",
                cmd_update)

static int cmd_secrets(int argc, char **argv)
{
    return net_deploy_main(argc, argv, NET_SECRETS);
}
PHX_CLI_COMMAND(secrets, "secrets", 402, "set or rotate a contract's secrets (owner-signed)",
                cmd_secrets)
