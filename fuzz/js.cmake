# The inline source map a bundle carries (phx build): it arrives with the
# contract, so it is outside input to every worker that reports an error.
if(TARGET phx_js)
  phx_add_fuzzer(fuzz_js_sourcemap SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_js_sourcemap.c
                 LIBS phx_js SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/js_sourcemap)
endif()
