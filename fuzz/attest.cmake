# Attestation parsers: DCAP quotes (with the verifier behind them), collateral,
# and the PCK certificate extension; seeds from both real DCAP sets.
phx_add_fuzzer(fuzz_attest_quote SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_attest_quote.c
               LIBS phx_attest RUNS 4000
               SEEDS ${PHX_TESTDATA}/dcap/quotes ${PHX_TESTDATA}/dcap-more/quotes)
phx_add_fuzzer(fuzz_attest_collateral SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_attest_collateral.c
               LIBS phx_attest RUNS 4000
               SEEDS ${PHX_TESTDATA}/dcap/collateral ${PHX_TESTDATA}/dcap-more/collateral)
phx_add_fuzzer(fuzz_attest_pck SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_attest_pck.c
               LIBS phx_attest RUNS 4000
               SEEDS ${PHX_TESTDATA}/dcap/quotes ${PHX_TESTDATA}/dcap-more/quotes)
# Coverage feedback needs the library instrumented too, not only the target.
target_compile_options(phx_attest PRIVATE -fsanitize=fuzzer-no-link)
