/* Benchmark output: the design's JSON-lines convention, one line per figure,
 * appended to $BENCH_OUT_DIR (default bench/out/) in <bench>.jsonl. */
#ifndef FLT_BENCHLIB_H
#define FLT_BENCHLIB_H

#include <stdint.h>

/* Returns 1 when BENCH=full, 0 for quick (the default). */
int bench_full(void);

/* Monotonic time in seconds. */
double bench_now(void);

struct bench_fig {
	const char *figure; /* what was measured */
	double value;
	const char *unit;
	const char *peer; /* NULL when there is no peer */
	double peer_value;
	const char *target_of; /* "value" or "ratio"; NULL for no target */
	const char *target_op; /* "<=" or ">=" */
	double target_value;
	const char *notes; /* may be NULL */
};

/* Appends one figure to <out>/<bench>.jsonl and echoes it to stdout. Returns 0 or -1. */
int bench_emit(const char *bench, const struct bench_fig *f);

#endif
