/* libFuzzer target: reloading a saved resume map. Expectations come from the
 * input so the fuzzer can reach past them. Properties: no crash; a loaded map
 * serialises back to exactly the input; present count matches the bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t art[FLT_SHA256_LEN] = {0};
	uint32_t count = 1;
	if (size >= 44) {
		memcpy(art, data + 8, sizeof art);
		count = (uint32_t)data[40] << 24 | (uint32_t)data[41] << 16 |
		        (uint32_t)data[42] << 8 | data[43];
	}
	flt_resume_map *m = NULL;
	if (flt_resume_map_load(data, size, art, count, &m) != FLT_OK)
		return 0;
	uint8_t *out = NULL;
	size_t len = 0;
	if (flt_resume_map_serialize(m, &out, &len) != FLT_OK || len != size ||
	    memcmp(out, data, size) != 0)
		abort();
	uint32_t present = 0, i = 0;
	for (uint32_t k = 0; k < flt_resume_map_count(m); k++)
		present += flt_resume_map_test(m, k);
	if (present != flt_resume_map_present(m))
		abort();
	if (flt_resume_map_first_missing(m, &i) == flt_resume_map_complete(m))
		abort();
	flt_free(out);
	flt_resume_map_free(m);
	return 0;
}
