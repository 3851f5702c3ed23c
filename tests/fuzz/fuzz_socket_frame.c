/* libFuzzer target for the inference socket's frame codec: request and
 * response decoding from memory on arbitrary bytes; whatever decodes must
 * re-encode to exactly the same bytes (the encoding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/sockframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_request(const uint8_t *data, size_t size)
{
	static struct flt_frame_request r;
	struct flt_frame_header h;
	const char *why = NULL;
	if (flt_frame_decode_request(data, size, 1u << 20, &h, &r, &why) != FLT_OK) {
		if (!why)
			abort();
		return;
	}
	size_t n = flt_frame_request_size(&r), len = 0;
	uint8_t *b = malloc(n ? n : 1);
	if (!b || n != size || flt_frame_encode_request(h.request_id, &r, b, n, &len) != FLT_OK ||
	    len != size || memcmp(b, data, size))
		abort();
	free(b);
}

static void check_response(const uint8_t *data, size_t size)
{
	static struct flt_frame_response r;
	struct flt_frame_header h;
	const char *why = NULL;
	if (flt_frame_decode_response(data, size, 1u << 20, &h, &r, &why) != FLT_OK) {
		if (!why)
			abort();
		return;
	}
	size_t n = flt_frame_response_size(&r), len = 0;
	uint8_t *b = malloc(n ? n : 1);
	if (!b || n != size || flt_frame_encode_response(h.request_id, &r, b, n, &len) != FLT_OK ||
	    len != size || memcmp(b, data, size))
		abort();
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_frame_header h;
	if (size >= FLT_FRAME_HEADER)
		(void)!flt_frame_header_decode(data, 1u << 20, &h);
	check_request(data, size);
	check_response(data, size);
	return 0;
}
