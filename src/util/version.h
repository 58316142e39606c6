/* version.h — SP_VERSION, the program's version string. The Makefile
 * defines it from its VERSION; builds without it (fuzzers, a hand-run
 * compiler) get "0.0.0". Include this rather than testing SP_VERSION. */
#ifndef SP_UTIL_VERSION_H
#define SP_UTIL_VERSION_H

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

#endif
