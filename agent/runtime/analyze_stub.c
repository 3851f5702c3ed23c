/* Placeholder for flt_rt_analyze until the ONNX reader lands: refuses every
 * input so nothing is ever recorded from an unparsed file. */
#include "flt/runtime.h"

flt_err flt_rt_analyze(const void *buf, size_t len, struct flt_rt_analysis **out)
{
	(void)buf;
	(void)len;
	(void)out;
	return FLT_EUNSUPPORTED;
}

void flt_rt_analysis_free(struct flt_rt_analysis *a)
{
	(void)a;
}
