# Signed result envelopes as `phx verify` reads them (src/worker/result.c).
phx_add_fuzzer(fuzz_worker_result SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_result.c
               LIBS phx_worker SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/result)
