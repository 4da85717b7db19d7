/* Lookup in the table of compiled contracts that scripts/build-contracts.js
 * generates into the build directory (phx_contracts.c). */
#include <string.h>

#include "phx/chain.h"

const phx_chain_artifact_t *phx_chain_artifact(const char *name)
{
    for (const phx_chain_artifact_t *a = phx_chain_artifacts; a->name; a++)
        if (strcmp(a->name, name) == 0) return a;
    return NULL;
}
