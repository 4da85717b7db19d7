# KMS request bodies (src/kms/service.c) through the router and the attest seam.
phx_add_fuzzer(fuzz_kms_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/kms_request.c LIBS phx_kms
               SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/kms)
