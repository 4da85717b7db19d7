# phx infer request bodies and the token-bytes UTF-8 splitter (src/infer/request.c).
phx_add_fuzzer(fuzz_infer_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/infer_request.c
               LIBS phx_infer SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/infer)
# phx.ai.chat receipts and the endpoint records in them (src/infer/verify.c).
phx_add_fuzzer(fuzz_infer_receipt SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/infer_receipt.c
               LIBS phx_infer SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/infer_receipt)
