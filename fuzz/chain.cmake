# Chain module readers of outside input: quote fields, deployment files, the
# Requested event (see fuzz_chain.c).
if(TARGET phx_chain)
  phx_add_fuzzer(fuzz_chain SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_chain.c
                 LIBS phx_chain RUNS 20000 SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/chain)
  target_compile_options(phx_chain PRIVATE -fsanitize=fuzzer-no-link)
endif()
