# A contract's trigger manifest and cron schedule (see triggers.c).
if(TARGET phx_chain)
  phx_add_fuzzer(fuzz_triggers SOURCES ${CMAKE_CURRENT_LIST_DIR}/triggers.c
                 LIBS phx_chain RUNS 20000 SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/triggers)
endif()
