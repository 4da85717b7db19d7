# EVM client parsers of outside input: RLP and raw transactions, ABI decoding
# (and type text), JSON-RPC responses with the receipts/logs inside them.
set(PHX_EVM_SEEDS ${CMAKE_CURRENT_LIST_DIR}/seeds)
phx_add_fuzzer(fuzz_evm_rlp SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evm_rlp.c
               LIBS phx_evm RUNS 20000 SEEDS ${PHX_EVM_SEEDS}/evm_rlp)
# Transactions with the decoder's oracle: accepted means re-encodes and recovers.
phx_add_fuzzer(fuzz_evm_tx SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evm_tx.c
               LIBS phx_evm RUNS 20000 SEEDS ${PHX_EVM_SEEDS}/evm_tx ${PHX_EVM_SEEDS}/evm_rlp)
phx_add_fuzzer(fuzz_evm_abi SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evm_abi.c
               LIBS phx_evm RUNS 20000 SEEDS ${PHX_EVM_SEEDS}/evm_abi)
phx_add_fuzzer(fuzz_evm_rpc SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evm_rpc.c
               LIBS phx_evm RUNS 20000 SEEDS ${PHX_EVM_SEEDS}/evm_rpc)
# Coverage feedback needs the library instrumented too, not only the target.
target_compile_options(phx_evm PRIVATE -fsanitize=fuzzer-no-link)
phx_add_fuzzer(fuzz_evm_eip712 SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_evm_eip712.c
               LIBS phx_evm RUNS 20000 SEEDS ${PHX_EVM_SEEDS}/evm_eip712)
