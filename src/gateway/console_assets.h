/* The console's static assets, built into the binary (console/embed.cmake). */
#ifndef PHX_CONSOLE_ASSETS_H
#define PHX_CONSOLE_ASSETS_H
#include <stddef.h>
extern const char phx_console_style_css[];
extern const size_t phx_console_style_css_len;
extern const char phx_console_verify_js[]; /* esbuild bundle of console/verify.mjs */
extern const size_t phx_console_verify_js_len;
#endif
