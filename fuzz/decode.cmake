# Decoders of outside input: hex, base64, JSON (core) and the crypto layer's DER /
# raw signature and HPKE ciphertext parsers. Seeded from the Ethereum JSON vectors.
phx_add_fuzzer(fuzz_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_decode.c
               LIBS phx_crypto phx_core
               SEEDS ${PHX_TESTDATA}/ethereum/ethers-testcases)
