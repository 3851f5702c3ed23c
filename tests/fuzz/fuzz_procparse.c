/* libFuzzer target for the /proc and /sys parsers of agent/health.c: every parser
 * sees the same bytes (not NUL-terminated) and must neither read past them nor
 * crash; a parsed result must satisfy the parser's own documented ranges. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "flt/health.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	uint64_t a, b;
	double d;
	struct flt_health_mem m;

	if (flt_health_parse_proc_stat(buf, size, &a, &b) == FLT_OK)
		(void)a;
	if (flt_health_parse_smaps_rollup(buf, size, &m) == FLT_OK && !m.has_pss)
		abort();
	if (flt_health_parse_status(buf, size, &m) == FLT_OK && m.has_pss)
		abort();
	if (flt_health_parse_meminfo(buf, size, &a, &b) == FLT_OK)
		(void)a;
	if (flt_health_parse_uptime(buf, size, &d) == FLT_OK && !(d >= 0))
		abort();
	if (flt_health_parse_thermal(buf, size, &d) == FLT_OK && !(d >= -273.0 && d <= 500.0))
		abort();
	return 0;
}
