/* pipeline_fixture.h — a small project for in-process pipeline tests: the
 * generator's files in DIR/data/raw, stores under DIR/lake, a SQLite
 * warehouse DIR/wh.db, and a configuration pointing at them (read from an
 * empty .env, so the developer's own ./.env never leaks in). */
#ifndef SP_TEST_PIPELINE_FIXTURE_H
#define SP_TEST_PIPELINE_FIXTURE_H

#include "../../src/config/config.h"
#include "../../src/gen/gen.h"

/* Generate files with `go` (its out_dir is ignored) and return the
 * configuration, or NULL after recording a test failure. summary may be
 * NULL. The caller frees the configuration. */
sp_config *pipeline_fixture(const char *dir, gen_options go, gen_summary *summary);

/* The configuration alone, for files the test writes into DIR/data/raw
 * itself; NULL after recording a test failure. The caller frees it. */
sp_config *pipeline_config(const char *dir);

#endif
