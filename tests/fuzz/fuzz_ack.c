/* libFuzzer target for acknowledgements (down/ack) and, on the same bytes,
 * status messages (up/status): strict decoding and canonical round trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_ack a, b;
	struct flt_status s, t;
	char *e1 = NULL, *e2 = NULL;
	size_t l1 = 0, l2 = 0;

	if (flt_ack_parse((const char *)data, size, &a, NULL) == FLT_OK) {
		if (flt_ack_encode(&a, &e1, &l1) != FLT_OK ||
		    flt_ack_parse(e1, l1, &b, NULL) != FLT_OK ||
		    flt_ack_encode(&b, &e2, &l2) != FLT_OK || l1 != l2 || memcmp(e1, e2, l1) != 0)
			abort();
		flt_free(e1);
		flt_free(e2);
		e1 = e2 = NULL;
	}
	if (flt_status_parse((const char *)data, size, &s, NULL) == FLT_OK) {
		if (flt_status_encode(&s, &e1, &l1) != FLT_OK ||
		    flt_status_parse(e1, l1, &t, NULL) != FLT_OK ||
		    flt_status_encode(&t, &e2, &l2) != FLT_OK || l1 != l2 ||
		    memcmp(e1, e2, l1) != 0 || s.online != t.online)
			abort();
		flt_free(e1);
		flt_free(e2);
	}
	return 0;
}
