# HTTP request routing and JSON body handling (src/net/router.c).
phx_add_fuzzer(fuzz_net_router SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/net_router.c LIBS phx_net
               SEEDS ${CMAKE_CURRENT_SOURCE_DIR}/seeds/net)
