/* The socket frame codec: round trips, every strict check (length prefix,
 * truncation at every byte, padding, dims overflow, size mismatch, trailing
 * bytes), and the committed fuzz seeds decoding as their names say. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "flt/sockframe.h"
#include "serving_util.h"

static uint8_t *encode_req(const struct flt_frame_request *q, size_t *len)
{
	size_t n = flt_frame_request_size(q);
	assert_true(n > 0);
	uint8_t *b = malloc(n);
	assert_int_equal(flt_frame_encode_request(42, q, b, n, len), FLT_OK);
	assert_int_equal(*len, n);
	return b;
}

static void sample(struct flt_frame_request *q, const float *img, const int64_t *lab)
{
	memset(q, 0, sizeof(*q));
	q->model = "digits";
	q->model_len = 6;
	q->version = 3;
	q->n_tensors = 2;
	q->tensors[0] = (struct flt_frame_tensor){.name = "image",
	                                          .name_len = 5,
	                                          .dtype = 1,
	                                          .rank = 4,
	                                          .dims = {1, 1, 8, 8},
	                                          .data = img,
	                                          .size = 256};
	q->tensors[1] = (struct flt_frame_tensor){.name = "x",
	                                          .name_len = 1,
	                                          .dtype = 7,
	                                          .rank = 1,
	                                          .dims = {3},
	                                          .data = lab,
	                                          .size = 24};
}

static void test_round_trip_and_truncation(void **state)
{
	(void)state;
	static float img[64];
	int64_t lab[3] = {1, -2, 3};
	static struct flt_frame_request q, r;
	struct flt_frame_header h;
	const char *why = NULL;
	size_t len;
	for (int i = 0; i < 64; i++)
		img[i] = (float)i;
	sample(&q, img, lab);
	uint8_t *b = encode_req(&q, &len);
	assert_int_equal(flt_frame_decode_request(b, len, 1u << 20, &h, &r, &why), FLT_OK);
	assert_int_equal(h.request_id, 42);
	assert_int_equal(r.version, 3);
	assert_int_equal(r.n_tensors, 2);
	assert_memory_equal(r.tensors[0].data, img, 256);
	assert_memory_equal(r.tensors[1].data, lab, 24);
	assert_int_equal(((uintptr_t)r.tensors[0].data - (uintptr_t)b) % FLT_FRAME_ALIGN, 0);
	assert_int_equal(((uintptr_t)r.tensors[1].data - (uintptr_t)b) % FLT_FRAME_ALIGN, 0);
	/* every proper prefix is refused, with or without the header fixed up */
	for (size_t cut = 0; cut < len; cut++) {
		assert_int_not_equal(flt_frame_decode_request(b, cut, 1u << 20, &h, &r, &why),
		                     FLT_OK);
		uint8_t *c = malloc(cut + 1);
		memcpy(c, b, cut);
		if (cut >= FLT_FRAME_HEADER) {
			uint32_t body = (uint32_t)(cut - FLT_FRAME_HEADER);
			memcpy(c + 12, &body, 4);
			assert_int_not_equal(
			    flt_frame_decode_request(c, cut, 1u << 20, &h, &r, &why), FLT_OK);
		}
		free(c);
	}
	/* a frame over the limit is refused from its header */
	assert_int_equal(flt_frame_decode_request(b, len, (uint32_t)len - 1, &h, &r, &why),
	                 FLT_ELIMIT);
	/* wrong type */
	struct flt_frame_response resp;
	assert_int_equal(flt_frame_decode_response(b, len, 1u << 20, &h, &resp, &why), FLT_EINVAL);
	free(b);
}

static void test_strict_fields(void **state)
{
	(void)state;
	static float img[64];
	int64_t lab[3] = {0};
	static struct flt_frame_request q, r;
	struct flt_frame_header h;
	const char *why = NULL;
	size_t len;
	sample(&q, img, lab);
	uint8_t *b = encode_req(&q, &len);
	/* tensor 0 begins after header, name len+name, version, count */
	size_t t0 = FLT_FRAME_HEADER + 1 + 6 + 8 + 4;
	size_t dlen = t0 + 2 + 5 + 4 + 4 + 4 * 8; /* data length field */
	size_t pad = dlen + 8;
	uint8_t saved;
	/* non-zero padding (data begins at the next multiple of 8) */
	if (pad % 8) {
		saved = b[pad];
		b[pad] = 1;
		assert_int_equal(flt_frame_decode_request(b, len, 1u << 20, &h, &r, &why),
		                 FLT_EPARSE);
		b[pad] = saved;
	}
	/* data length not product(dims) * 4 */
	b[dlen] ^= 4;
	assert_int_equal(flt_frame_decode_request(b, len, 1u << 20, &h, &r, &why), FLT_EPARSE);
	assert_non_null(strstr(why, "product"));
	b[dlen] ^= 4;
	/* a negative dim, and dims whose product overflows */
	int64_t neg = -1, big = INT64_MAX;
	memcpy(b + t0 + 2 + 5 + 8, &neg, 8);
	assert_int_equal(flt_frame_decode_request(b, len, 1u << 20, &h, &r, &why), FLT_EPARSE);
	memcpy(b + t0 + 2 + 5 + 8, &big, 8);
	memcpy(b + t0 + 2 + 5 + 16, &big, 8);
	assert_int_equal(flt_frame_decode_request(b, len, 1u << 20, &h, &r, &why), FLT_EPARSE);
	free(b);
	/* trailing bytes */
	b = encode_req(&q, &len);
	uint8_t *c = calloc(1, len + 8);
	memcpy(c, b, len);
	uint32_t body = (uint32_t)(len + 8 - FLT_FRAME_HEADER);
	memcpy(c + 12, &body, 4);
	assert_int_equal(flt_frame_decode_request(c, len + 8, 1u << 20, &h, &r, &why), FLT_EPARSE);
	free(c);
	free(b);
	/* the encoder refuses what the decoder would */
	q.tensors[0].size = 255;
	assert_int_equal(flt_frame_request_size(&q), 0);
	q.tensors[0].size = 256;
	q.tensors[0].dtype = 8; /* string: not carried */
	assert_int_equal(flt_frame_request_size(&q), 0);
}

static void test_header(void **state)
{
	(void)state;
	struct flt_frame_header h;
	uint8_t b[FLT_FRAME_HEADER] = {'F', 'L', 'T', 'I', 1,    1,    0,    0,
	                               9,   0,   0,   0,   0xff, 0xff, 0xff, 0xff};
	assert_int_equal(flt_frame_header_decode(b, UINT32_MAX, &h), FLT_ELIMIT);
	b[12] = 0, b[13] = 1, b[14] = b[15] = 0;
	assert_int_equal(flt_frame_header_decode(b, 1u << 20, &h), FLT_OK);
	assert_int_equal(h.body_len, 256);
	assert_int_equal(h.request_id, 9);
	b[4] = 2;
	assert_int_equal(flt_frame_header_decode(b, 1u << 20, &h), FLT_EUNSUPPORTED);
	b[4] = 1, b[6] = 1;
	assert_int_equal(flt_frame_header_decode(b, 1u << 20, &h), FLT_EPARSE);
	b[6] = 0, b[0] = 'X';
	assert_int_equal(flt_frame_header_decode(b, 1u << 20, &h), FLT_EPARSE);
	assert_string_equal(flt_frame_status_name(FLT_FRAME_BUSY), "busy");
	assert_string_equal(flt_frame_status_name(99), "unknown");
}

static void test_seeds(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	static const struct {
		const char *file;
		int request, ok;
	} seeds[] = {
	    {"request_digits", 1, 1}, {"request_two_inputs_v3", 1, 1},
	    {"response_ok", 0, 1},    {"response_busy", 0, 1},
	    {"truncated", 1, 0},      {"huge_length", 1, 0},
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		char p[1024];
		size_t len = 0;
		static struct flt_frame_request q;
		static struct flt_frame_response r;
		struct flt_frame_header h;
		const char *why = NULL;
		snprintf(p, sizeof(p), "%s/tests/fuzz/corpus/socket_frame/%s", src ? src : ".",
		         seeds[i].file);
		uint8_t *b = su_read(p, &len);
		assert_non_null(b);
		flt_err e = seeds[i].request
		                ? flt_frame_decode_request(b, len, 1u << 20, &h, &q, &why)
		                : flt_frame_decode_response(b, len, 1u << 20, &h, &r, &why);
		if (seeds[i].ok != (e == FLT_OK))
			fail_msg("seed %s: %s", seeds[i].file, why ? why : "decoded");
		flt_free(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip_and_truncation),
	    cmocka_unit_test(test_strict_fields),
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_seeds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
