/* Foundry's cast (npm @foundry-rs/cast) as an independent implementation the C
 * tests compare against: encodings and digests computed by another tool. */
#ifndef PHX_TEST_SUPPORT_CAST_H
#define PHX_TEST_SUPPORT_CAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Path of cast under test_node_modules(); static storage. */
const char *test_cast_path(void);

/* true when cast is there; otherwise prints a SKIP line and returns false. */
bool test_cast_available(void);

/* Run a shell command; its first output line, without the newline, into out.
 * true only when a line came and the command exited 0. */
bool test_run_line(const char *cmd, char *out, size_t cap);

/* keccak256(abi.encode(sig's types, args)) computed by cast: args are cast's
 * command-line arguments, already quoted for the shell. */
bool test_cast_digest(const char *sig, const char *args, uint8_t digest[32]);

#endif
