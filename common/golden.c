/* Golden-vector bundle codec: a binary frame (magic, header length) around a
 * strict JSON header that lists blob sizes, followed by the blobs. Blob
 * positions are implied by sizes, so the frame cannot hide or alias bytes. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "flt/alloc.h"
#include "flt/golden.h"
#include "flt/protocol.h"

static const char *const top_keys[] = {"v", "rtol", "atol", "cases", NULL};
static const char *const case_keys[] = {"inputs", "outputs", NULL};
static const char *const blob_keys[] = {"size", NULL};

void flt_golden_free(struct flt_golden *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_cases; i++) {
		flt_free(g->cases[i].inputs);
		flt_free(g->cases[i].outputs);
	}
	flt_free(g->cases);
	flt_free(g);
}

/* A function, not an inline comparison: with a 32-bit size_t the test is
 * always false and gcc's -Wtype-limits would refuse it. */
static bool above_safe(uint64_t v)
{
	return v > FLT_JSON_MAX_SAFE_INT;
}

flt_err flt_golden_validate(const struct flt_golden *g, struct flt_json_err *err)
{
	flt_err rc = FLT_OK;

	if (!g)
		INVALID("no bundle");
	if (!isfinite(g->rtol) || !isfinite(g->atol) || g->rtol < 0 || g->atol < 0 ||
	    g->rtol > FLT_GOLDEN_MAX_TOL || g->atol > FLT_GOLDEN_MAX_TOL)
		INVALID("rtol/atol must be finite, 0..%g", FLT_GOLDEN_MAX_TOL);
	if (g->n_cases < 1 || g->n_cases > FLT_GOLDEN_MAX_CASES || !g->cases)
		INVALID("a bundle holds 1..%d cases", FLT_GOLDEN_MAX_CASES);
	for (size_t i = 0; i < g->n_cases; i++) {
		const struct flt_golden_case *c = &g->cases[i];
		if (c->n_inputs < 1 || c->n_inputs > FLT_GOLDEN_MAX_TENSORS || c->n_outputs < 1 ||
		    c->n_outputs > FLT_GOLDEN_MAX_TENSORS || !c->inputs || !c->outputs)
			INVALID("cases[%zu]: needs 1..%d inputs and outputs", i,
			        FLT_GOLDEN_MAX_TENSORS);
		for (size_t k = 0; k < c->n_inputs + c->n_outputs; k++) {
			const struct flt_golden_blob *b =
			    k < c->n_inputs ? &c->inputs[k] : &c->outputs[k - c->n_inputs];
			if ((b->len && !b->data) || above_safe(b->len))
				INVALID("cases[%zu]: blob without data", i);
		}
	}
out:
	return rc;
}

/* Reads one list of blob sizes, placing each blob at *pos in the data area and
 * advancing it. */
static flt_err read_blobs(const cJSON *c, const char *key, const uint8_t *data, size_t data_len,
                          size_t *pos, struct flt_golden_blob **out, size_t *n_out,
                          struct flt_json_err *err)
{
	const cJSON *arr = NULL, *it;
	struct flt_golden_blob *b = NULL;
	size_t n = 0, i = 0;
	flt_err rc = FLT_OK;

	CHECK(flt_json_get_arr(c, key, FLT_GOLDEN_MAX_TENSORS, &arr, &n, err));
	if (n < 1)
		INVALID("'%s' is empty", key);
	b = flt_calloc(n, sizeof(*b));
	if (!b) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		uint64_t size = 0;
		if (!cJSON_IsObject(it))
			INVALID("'%s' item is not an object", key);
		CHECK(flt_json_check_keys(it, blob_keys, err));
		CHECK(flt_json_get_uint(it, "size", FLT_JSON_MAX_SAFE_INT, &size, err));
		/* compared without adding, so a huge size cannot wrap on 32-bit */
		if (size > data_len - *pos)
			INVALID("'%s' blob runs past the end of the data", key);
		b[i].data = data + *pos;
		b[i].len = (size_t)size;
		*pos += (size_t)size;
		i++;
	}
	*out = b;
	*n_out = n;
	b = NULL;
out:
	flt_free(b);
	return rc;
}

flt_err flt_golden_parse(const uint8_t *buf, size_t len, size_t max_len, struct flt_golden **out,
                         struct flt_json_err *err)
{
	cJSON *root = NULL;
	const cJSON *arr = NULL, *it;
	struct flt_golden *g = NULL;
	const uint8_t *data;
	size_t data_len, pos = 0, n = 0;
	uint32_t hlen;
	flt_err rc = FLT_OK;

	if (!buf || !out)
		return FLT_EINVAL;
	if (len > max_len) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "bundle of %zu bytes exceeds limit %zu",
		              len, max_len);
		return FLT_ELIMIT;
	}
	if (len < FLT_GOLDEN_MAGIC_LEN + 4 ||
	    memcmp(buf, FLT_GOLDEN_MAGIC, FLT_GOLDEN_MAGIC_LEN) != 0) {
		flt_json_errf(err, "not a golden bundle (bad magic)");
		return FLT_EPARSE;
	}
	hlen = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 |
	       (uint32_t)buf[11] << 24;
	if (hlen > FLT_GOLDEN_MAX_HEADER) {
		flt_json_fail(err, FLT_REASON_TOO_LARGE, "header of %u bytes exceeds limit",
		              (unsigned)hlen);
		return FLT_ELIMIT;
	}
	if (hlen > len - 12) {
		flt_json_errf(err, "header runs past the end");
		return FLT_EPARSE;
	}
	data = buf + 12 + hlen;
	data_len = len - 12 - hlen;
	rc = codec_open((const char *)buf + 12, hlen, FLT_GOLDEN_MAX_HEADER, top_keys, &root, err);
	if (rc != FLT_OK)
		return rc;
	g = flt_calloc(1, sizeof(*g));
	if (!g) {
		rc = FLT_ENOMEM;
		goto out;
	}
	CHECK(flt_json_get_double(root, "rtol", 0, FLT_GOLDEN_MAX_TOL, &g->rtol, err));
	CHECK(flt_json_get_double(root, "atol", 0, FLT_GOLDEN_MAX_TOL, &g->atol, err));
	CHECK(flt_json_get_arr(root, "cases", FLT_GOLDEN_MAX_CASES, &arr, &n, err));
	if (n && !(g->cases = flt_calloc(n, sizeof(*g->cases)))) {
		rc = FLT_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(it, arr)
	{
		struct flt_golden_case *c = &g->cases[g->n_cases++];
		if (!cJSON_IsObject(it))
			INVALID("cases: item is not an object");
		CHECK(flt_json_check_keys(it, case_keys, err));
		CHECK(
		    read_blobs(it, "inputs", data, data_len, &pos, &c->inputs, &c->n_inputs, err));
		CHECK(read_blobs(it, "outputs", data, data_len, &pos, &c->outputs, &c->n_outputs,
		                 err));
	}
	if (pos != data_len)
		INVALID("%zu bytes after the last blob", data_len - pos);
	CHECK(flt_golden_validate(g, err));
	*out = g;
	g = NULL;
out:
	cJSON_Delete(root);
	flt_golden_free(g);
	return codec_wire_err(rc);
}

static flt_err add_blobs(cJSON *c, const char *key, const struct flt_golden_blob *b, size_t n,
                         size_t *total)
{
	cJSON *arr = cJSON_AddArrayToObject(c, key);
	flt_err rc = FLT_OK;

	if (!arr)
		return FLT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return FLT_ENOMEM;
		}
		CHECK(flt_json_add_uint(o, "size", b[i].len));
		if (b[i].len > SIZE_MAX - *total)
			return FLT_ELIMIT;
		*total += b[i].len;
	}
out:
	return rc;
}

flt_err flt_golden_encode(const struct flt_golden *g, uint8_t **out, size_t *len)
{
	cJSON *root = NULL, *arr;
	char *hdr = NULL;
	size_t hlen = 0, total = 0, off;
	uint8_t *buf = NULL;
	flt_err rc;

	if (!out || !len)
		return FLT_EINVAL;
	rc = flt_golden_validate(g, NULL);
	if (rc != FLT_OK)
		return rc;
	root = cJSON_CreateObject();
	if (!root)
		return FLT_ENOMEM;
	CHECK(flt_json_add_uint(root, "v", FLT_PROTOCOL_VERSION));
	CHECK(flt_json_add_double(root, "rtol", g->rtol));
	CHECK(flt_json_add_double(root, "atol", g->atol));
	rc = FLT_ENOMEM;
	if (!(arr = cJSON_AddArrayToObject(root, "cases")))
		goto out;
	for (size_t i = 0; i < g->n_cases; i++) {
		cJSON *c = cJSON_CreateObject();
		if (!c || !cJSON_AddItemToArray(arr, c)) {
			cJSON_Delete(c);
			rc = FLT_ENOMEM;
			goto out;
		}
		CHECK(add_blobs(c, "inputs", g->cases[i].inputs, g->cases[i].n_inputs, &total));
		CHECK(add_blobs(c, "outputs", g->cases[i].outputs, g->cases[i].n_outputs, &total));
	}
	CHECK(flt_json_print(root, &hdr, &hlen));
	if (hlen > FLT_GOLDEN_MAX_HEADER || total > SIZE_MAX - 12 - hlen) {
		rc = FLT_ELIMIT;
		goto out;
	}
	buf = flt_malloc(12 + hlen + total);
	if (!buf) {
		rc = FLT_ENOMEM;
		goto out;
	}
	memcpy(buf, FLT_GOLDEN_MAGIC, FLT_GOLDEN_MAGIC_LEN);
	buf[8] = (uint8_t)(hlen & 0xff);
	buf[9] = (uint8_t)((hlen >> 8) & 0xff);
	buf[10] = (uint8_t)((hlen >> 16) & 0xff);
	buf[11] = (uint8_t)((hlen >> 24) & 0xff);
	memcpy(buf + 12, hdr, hlen);
	off = 12 + hlen;
	for (size_t i = 0; i < g->n_cases; i++) {
		const struct flt_golden_case *c = &g->cases[i];
		for (size_t k = 0; k < c->n_inputs + c->n_outputs; k++) {
			const struct flt_golden_blob *b =
			    k < c->n_inputs ? &c->inputs[k] : &c->outputs[k - c->n_inputs];
			if (b->len)
				memcpy(buf + off, b->data, b->len);
			off += b->len;
		}
	}
	*out = buf;
	*len = off;
	buf = NULL;
	rc = FLT_OK;
out:
	flt_free(buf);
	flt_free(hdr);
	cJSON_Delete(root);
	return rc;
}
