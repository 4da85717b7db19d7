# Decoders of outside input: hex, base64, JSON (core) and the crypto layer's DER /
# raw signature and HPKE ciphertext parsers. Seeded from the Ethereum JSON vectors.
phx_add_fuzzer(fuzz_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_decode.c
               LIBS phx_crypto phx_core
               SEEDS ${PHX_TESTDATA}/ethereum/ethers-testcases)
# Coverage feedback needs the decoders themselves instrumented, not only the
# target (without this the fuzzer saw ~30 edges of the harness and nothing else).
target_compile_options(phx_core PRIVATE -fsanitize=fuzzer-no-link)
target_compile_options(phx_crypto PRIVATE -fsanitize=fuzzer-no-link)
