/* Unit tests for the golden-vector bundle codec (flt/golden.h): round trip of
 * the digits example's real TensorProtos, truncation at every byte, and every
 * framing rule (magic, header length, exact data area, sizes, version). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/golden.h"

static const uint8_t in0[] = {1, 2, 3, 4, 5};
static const uint8_t out0[] = {9, 8, 7};
static const uint8_t out1[] = {0x42};

static void sample(struct flt_golden *g, struct flt_golden_case c[2], struct flt_golden_blob b[4])
{
	b[0] = (struct flt_golden_blob){in0, sizeof(in0)};
	b[1] = (struct flt_golden_blob){out0, sizeof(out0)};
	b[2] = (struct flt_golden_blob){out1, sizeof(out1)};
	b[3] = (struct flt_golden_blob){NULL, 0};
	c[0] = (struct flt_golden_case){&b[0], 1, &b[1], 2};
	c[1] = (struct flt_golden_case){&b[3], 1, &b[0], 1};
	g->rtol = 1e-4;
	g->atol = 1e-5;
	g->cases = c;
	g->n_cases = 2;
}

static void write_seed(const char *tag, const uint8_t *buf, size_t len)
{
	const char *dir = getenv("FLT_WRITE_SEEDS");
	char path[1024];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/golden/%s", dir, tag);
	f = fopen(path, "wb");
	if (f) {
		fwrite(buf, 1, len, f);
		fclose(f);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	struct flt_golden g, *back = NULL;
	struct flt_golden_case c[2];
	struct flt_golden_blob b[4];
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;

	sample(&g, c, b);
	assert_int_equal(flt_golden_encode(&g, &enc, &len), FLT_OK);
	assert_memory_equal(enc, "FLTGOLD1", 8);
	write_seed("small", enc, len);
	assert_int_equal(flt_golden_parse(enc, len, len, &back, NULL), FLT_OK);
	assert_int_equal(back->n_cases, 2);
	assert_int_equal(back->cases[0].n_outputs, 2);
	assert_int_equal(back->cases[0].outputs[1].len, 1);
	assert_int_equal(back->cases[0].outputs[1].data[0], 0x42);
	assert_memory_equal(back->cases[0].inputs[0].data, in0, sizeof(in0));
	assert_int_equal(back->cases[1].inputs[0].len, 0);
	/* blobs point into the bundle */
	assert_true(back->cases[0].inputs[0].data > enc &&
	            back->cases[0].inputs[0].data < enc + len);
	assert_true(back->rtol == 1e-4 && back->atol == 1e-5);
	assert_int_equal(flt_golden_encode(back, &enc2, &len2), FLT_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(enc, enc2, len);
	flt_golden_free(back);
	flt_free(enc2);

	/* every truncation fails cleanly */
	for (size_t i = 0; i < len; i++) {
		back = NULL;
		assert_int_not_equal(flt_golden_parse(enc, i, len, &back, NULL), FLT_OK);
		assert_null(back);
	}
	/* one extra byte is refused */
	uint8_t *more = flt_malloc(len + 1);
	assert_non_null(more);
	memcpy(more, enc, len);
	more[len] = 0;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	assert_int_equal(flt_golden_parse(more, len + 1, len + 1, &back, &e), FLT_EPARSE);
	assert_non_null(strstr(e.msg, "after the last blob"));
	assert_int_equal(flt_golden_parse(enc, len, len - 1, &back, &e), FLT_ELIMIT);
	assert_int_equal(e.reason, FLT_REASON_TOO_LARGE);
	flt_free(more);
	flt_free(enc);
}

/* Builds magic + header + `data_len` zero bytes. */
static uint8_t *frame(const char *hdr, size_t data_len, size_t *len)
{
	size_t h = strlen(hdr);
	uint8_t *b = flt_calloc(1, 12 + h + data_len);
	assert_non_null(b);
	memcpy(b, "FLTGOLD1", 8);
	b[8] = (uint8_t)h;
	b[9] = (uint8_t)(h >> 8);
	memcpy(b + 12, hdr, h);
	*len = 12 + h + data_len;
	return b;
}

static void expect(const char *hdr, size_t data_len, flt_err want)
{
	size_t len = 0;
	uint8_t *b = frame(hdr, data_len, &len);
	struct flt_golden *g = NULL;
	struct flt_json_err e = {.reason = FLT_REASON_NONE};
	flt_err rc = flt_golden_parse(b, len, 1 << 20, &g, &e);

	if (rc != want)
		fail_msg("%s: got %d want %d (%s)", hdr, rc, want, e.msg);
	flt_golden_free(g);
	flt_free(b);
}

static void test_rules(void **state)
{
	(void)state;
	const char *ok = "{\"v\":1,\"rtol\":0.001,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":2}],"
	                 "\"outputs\":[{\"size\":3}]}]}";
	expect(ok, 5, FLT_OK);
	expect(ok, 4, FLT_EPARSE);
	expect(ok, 6, FLT_EPARSE);
	expect("{\"v\":2,\"rtol\":0.001,\"atol\":0,\"cases\":[]}", 0, FLT_EUNSUPPORTED);
	expect("{\"v\":1,\"rtol\":0.001,\"atol\":0,\"cases\":[]}", 0, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":-1,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":0}],\"outputs\":["
	       "{\"size\":0}]}]}",
	       0, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":0,\"atol\":0,\"cases\":[{\"inputs\":[],\"outputs\":[{\"size\":0}]"
	       "}]}",
	       0, FLT_EPARSE);
	expect(
	    "{\"v\":1,\"rtol\":0,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":9007199254740991}],"
	    "\"outputs\":[{\"size\":0}]}]}",
	    3, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":0,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":-1}],\"outputs\":["
	       "{\"size\":0}]}]}",
	       0, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":0,\"atol\":0,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":0}],"
	       "\"outputs\":[{\"size\":0}]}]}",
	       0, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":0,\"atol\":0,\"name\":\"x\",\"cases\":[{\"inputs\":[{\"size\":0}]"
	       ",\"outputs\":[{\"size\":0}]}]}",
	       0, FLT_EPARSE);
	expect("{\"v\":1,\"rtol\":0,\"atol\":0,\"cases\":[{\"inputs\":[{\"size\":1,\"offset\":0}],"
	       "\"outputs\":[{\"size\":0}]}]}",
	       1, FLT_EPARSE);

	/* bad magic, header length beyond the end or the limit */
	size_t len = 0;
	uint8_t *b = frame(ok, 5, &len);
	struct flt_golden *g = NULL;
	b[0] = 'X';
	assert_int_equal(flt_golden_parse(b, len, len, &g, NULL), FLT_EPARSE);
	b[0] = 'F';
	b[10] = 1; /* header length 64 KiB + */
	assert_int_equal(flt_golden_parse(b, len, len, &g, NULL), FLT_ELIMIT);
	b[10] = 0;
	b[8] = 0xff;
	b[9] = 0x7f; /* within the limit but past the end */
	assert_int_equal(flt_golden_parse(b, len, len, &g, NULL), FLT_EPARSE);
	assert_null(g);
	flt_free(b);

	/* encoder refuses what the decoder would */
	struct flt_golden gg;
	struct flt_golden_case c[2];
	struct flt_golden_blob bl[4];
	uint8_t *enc = NULL;
	sample(&gg, c, bl);
	gg.rtol = -0.5;
	assert_int_equal(flt_golden_encode(&gg, &enc, &len), FLT_EINVAL);
	sample(&gg, c, bl);
	c[0].n_outputs = 0;
	assert_int_equal(flt_golden_encode(&gg, &enc, &len), FLT_EINVAL);
	sample(&gg, c, bl);
	bl[0].data = NULL;
	assert_int_equal(flt_golden_encode(&gg, &enc, &len), FLT_EINVAL);
}

/* The example model's golden directory (ONNX test-data layout) packs and
 * unpacks byte for byte. */
static void test_example_data(void **state)
{
	(void)state;
	const char *src = getenv("FLT_SOURCE_DIR");
	const char *names[] = {"input_0.pb", "output_0.pb"};
	uint8_t *files[2] = {NULL, NULL};
	struct flt_golden_blob b[2];
	struct flt_golden_case c;
	struct flt_golden g = {.rtol = 1e-4, .atol = 1e-5, .cases = &c, .n_cases = 1}, *back = NULL;
	uint8_t *enc = NULL;
	size_t len = 0;

	assert_non_null(src);
	for (int i = 0; i < 2; i++) {
		char path[4096];
		FILE *f;
		long n;
		snprintf(path, sizeof(path), "%s/examples/models/digits/golden/%s", src, names[i]);
		f = fopen(path, "rb");
		if (!f)
			skip();
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		n = ftell(f);
		rewind(f);
		files[i] = flt_malloc((size_t)n);
		assert_non_null(files[i]);
		assert_int_equal(fread(files[i], 1, (size_t)n, f), (size_t)n);
		fclose(f);
		b[i] = (struct flt_golden_blob){files[i], (size_t)n};
	}
	c = (struct flt_golden_case){&b[0], 1, &b[1], 1};
	assert_int_equal(flt_golden_encode(&g, &enc, &len), FLT_OK);
	assert_int_equal(flt_golden_parse(enc, len, len, &back, NULL), FLT_OK);
	assert_int_equal(back->cases[0].inputs[0].len, b[0].len);
	assert_memory_equal(back->cases[0].inputs[0].data, files[0], b[0].len);
	assert_memory_equal(back->cases[0].outputs[0].data, files[1], b[1].len);
	flt_golden_free(back);
	flt_free(enc);
	flt_free(files[0]);
	flt_free(files[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_rules),
	    cmocka_unit_test(test_example_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
