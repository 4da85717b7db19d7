#!/bin/sh
# The main job (`make run`): walk what the network does, with the binary just built.
set -eu
PHX=${1:-build/phx}
cat <<'TXT'
Phalanx: confidential compute on TEE workers, settled on an EVM chain.

  1. A KMS in a TEE holds the root secret and releases contract keys only to
     workers whose attestation quote verifies and whose measurement the chain allows.
  2. Workers run JavaScript "TEE contracts" in sandboxed processes, with private
     inputs and secrets, and sign each result with their attested key.
  3. The chain (anvil locally) records workers, escrows PHA fees and checks
     result signatures before paying.

TXT
"$PHX" version
echo
echo "Byte-level helpers work today, for example keccak-256 of 'hello':"
"$PHX" util keccak 0x68656c6c6f 2>/dev/null || echo "(phx util not built yet)"
