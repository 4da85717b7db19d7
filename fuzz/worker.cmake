# Signed result envelopes as `phx verify` reads them (src/worker/result.c).
phx_add_fuzzer(fuzz_worker_result SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_result.c
               LIBS phx_worker SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/result)
# Sealed inputs, KMS key releases and signed pubkeys as received from the network.
phx_add_fuzzer(fuzz_worker_sealed SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_sealed.c
               LIBS phx_worker phx_kms SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/sealed)
# Owner-signed requests: query signatures, sealed secrets bound to code, ops.
phx_add_fuzzer(fuzz_owner SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/owner.c
               LIBS phx_worker phx_kms phx_chain SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/owner)
# Payment vouchers of direct calls (src/worker/voucher.c), from any caller.
phx_add_fuzzer(fuzz_worker_voucher SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_voucher.c
               LIBS phx_worker SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/voucher)
# Signed k-of-n observations (src/worker/observation.c), from any peer URL.
phx_add_fuzzer(fuzz_worker_observation SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/worker_observation.c
               LIBS phx_worker SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/observation)
