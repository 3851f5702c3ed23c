/* libFuzzer target: the binary chunk message. Properties: decode never reads
 * outside the input; a decoded chunk re-encodes to exactly the input bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/chunk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_chunk c;
	if (flt_chunk_decode(data, size, 1u << 20, &c) != FLT_OK)
		return 0;
	if ((size_t)c.len + FLT_CHUNK_HEADER_LEN != size || c.index >= c.count || c.len == 0)
		abort();
	uint8_t *buf = flt_malloc(size);
	size_t n = 0;
	if (!buf || flt_chunk_encode(&c, buf, size, &n) != FLT_OK || n != size ||
	    memcmp(buf, data, size) != 0)
		abort();
	flt_free(buf);
	return 0;
}
