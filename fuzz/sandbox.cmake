# Host-call messages from a (possibly compromised) sandbox child, and the contract
# result it reports: the worker's only inputs from the sandbox.
if(TARGET phx_sandbox)
  phx_add_fuzzer(fuzz_sandbox_msg SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox_msg.c
                 LIBS phx_sandbox SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/sandbox_msg)
  phx_add_fuzzer(fuzz_sandbox_result SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox_result.c
                 LIBS phx_sandbox SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/sandbox_result)
endif()
# Egress allowances (--allow-host HOST:PORT) as an operator types them.
if(TARGET phx_sandbox)
  phx_add_fuzzer(fuzz_egress_allowance SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_egress_allowance.c
                 LIBS phx_sandbox SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/egress_allowance)
endif()
# A chain node's answers as phx.evm shapes them for contracts (src/sandbox/evm.c).
if(TARGET phx_sandbox)
  phx_add_fuzzer(fuzz_sandbox_evm SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox_evm.c
                 LIBS phx_sandbox SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/sandbox_evm)
endif()
# phx.state's slot and served bytes as the sandbox checks them (src/sandbox/state.c).
if(TARGET phx_sandbox)
  phx_add_fuzzer(fuzz_sandbox_state SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sandbox_state.c
                 LIBS phx_sandbox SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds/sandbox_state)
endif()
