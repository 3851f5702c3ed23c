/* libFuzzer target for topic parsing: any accepted topic must rebuild to
 * exactly the same string (one spelling per topic). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char in[512], out[FLT_TOPIC_MAX];
	struct flt_topic t;

	if (size >= sizeof(in) || memchr(data, '\0', size))
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	if (flt_topic_parse(in, &t) != FLT_OK)
		return 0;
	if (flt_topic_build(t.kind, t.device_id, t.sha256, out, sizeof(out)) != FLT_OK ||
	    strcmp(in, out) != 0)
		abort();
	return 0;
}
