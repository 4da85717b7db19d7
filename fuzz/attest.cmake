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
# Our DER certificate/CRL reader, with OpenSSL's d2i as the oracle.
phx_add_fuzzer(fuzz_attest_der SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_attest_der.c
               LIBS phx_attest RUNS 20000
               SEEDS ${PHX_TESTDATA}/dcap/certs ${PHX_TESTDATA}/dcap/pcs-raw)
target_include_directories(fuzz_attest_der PRIVATE ${CMAKE_SOURCE_DIR}/src/attest)
# Coverage feedback needs the library instrumented too, not only the target.
target_compile_options(phx_attest PRIVATE -fsanitize=fuzzer-no-link)
