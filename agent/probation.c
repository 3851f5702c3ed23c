/* Probation verdicts: a pure judgement of one version's statistics against
 * the limits of its desired-state entry. agentd persists and acts on it. */
#include <stddef.h>

#include "flt/serving.h"

enum flt_probation_verdict flt_probation_evaluate(const struct flt_probation_limits *lim,
                                                  const struct flt_serving_stats *st,
                                                  unsigned crashes, double elapsed_s,
                                                  enum flt_reason *reason)
{
	enum flt_reason why = FLT_REASON_NONE;
	enum flt_probation_verdict v = FLT_PROBATION_CONTINUE;
	uint64_t min = lim->min_requests ? lim->min_requests : FLT_PROBATION_MIN_REQUESTS;
	/* BUSY is the agent's load and BAD_INPUT the app's mistake: neither says
	 * anything about the model, so neither is judged. */
	uint64_t failed = st->errors[FLT_USAGE_RUNTIME] + st->errors[FLT_USAGE_TIMEOUT] +
	                  st->errors[FLT_USAGE_INTERNAL];
	uint64_t judged = st->ok + failed;

	if (crashes > lim->max_crashes) {
		why = FLT_REASON_CRASHES;
		v = FLT_PROBATION_FAIL;
	} else if (judged >= min && (double)failed > lim->max_error_rate * (double)judged) {
		why = FLT_REASON_ERROR_RATE;
		v = FLT_PROBATION_FAIL;
	} else if (lim->latency_ms_max && st->ok >= min && st->over_latency * 100 > st->ok) {
		/* over_latency counts against the manifest's bound exactly, so
		 * "more than 1% over" is "p99 over" without the histogram's error */
		why = FLT_REASON_LATENCY;
		v = FLT_PROBATION_FAIL;
	} else if (elapsed_s >= lim->probation_s) {
		v = FLT_PROBATION_PASS;
	}
	if (reason)
		*reason = why;
	return v;
}
