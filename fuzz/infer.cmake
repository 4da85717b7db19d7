# phx infer request bodies and the token-bytes UTF-8 splitter (src/infer/request.c).
phx_add_fuzzer(fuzz_infer_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/infer_request.c
               LIBS phx_infer SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/infer)
