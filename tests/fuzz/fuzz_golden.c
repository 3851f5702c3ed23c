/* libFuzzer target for the golden-vector bundle: hostile framing and header
 * bytes must be refused cleanly; every blob of an accepted bundle lies inside
 * the input, and its encoding decodes and re-encodes to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/golden.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_golden *g = NULL, *h = NULL;
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;

	struct flt_json_err err;

	memset(&err, 'x', sizeof(err));
	if (flt_golden_parse(data, size, 1u << 20, &g, &err) != FLT_OK) {
		if (g || !memchr(err.msg, '\0', sizeof(err.msg)) ||
		    (unsigned)err.reason >= FLT_REASON_COUNT_ || err.reason == FLT_REASON_NONE)
			abort();
		return 0;
	}
	for (size_t i = 0; i < g->n_cases; i++) {
		const struct flt_golden_case *c = &g->cases[i];
		for (size_t k = 0; k < c->n_inputs + c->n_outputs; k++) {
			const struct flt_golden_blob *b =
			    k < c->n_inputs ? &c->inputs[k] : &c->outputs[k - c->n_inputs];
			if (b->len && (b->data < data || b->data + b->len > data + size))
				abort();
		}
	}
	/* the data area is the same bytes whatever the header's spelling */
	if (flt_golden_encode(g, &enc, &len) != FLT_OK ||
	    flt_golden_parse(enc, len, len, &h, NULL) != FLT_OK ||
	    flt_golden_encode(h, &enc2, &len2) != FLT_OK || len != len2 ||
	    memcmp(enc, enc2, len) != 0)
		abort();
	flt_golden_free(g);
	flt_golden_free(h);
	flt_free(enc);
	flt_free(enc2);
	return 0;
}
