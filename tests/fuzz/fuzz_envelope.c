/* libFuzzer target: DSSE envelope parsing, re-serialisation and verification.
 * Properties: parse never crashes; a parsed envelope re-serialises and parses
 * back to the same bytes; verification never crashes whatever it decides. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/dsse.h"
#include "fuzz_keys.h"

#define FUZZ_TYPE "application/vnd.flotilla.release+json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static flt_key *trusted;
	if (!trusted)
		trusted = fuzz_key(fuzz_root_pem);

	flt_dsse *env = NULL, *again = NULL;
	char *text = NULL;
	size_t len = 0;
	if (flt_dsse_parse((const char *)data, size, 4096, &env, NULL) != FLT_OK)
		return 0;
	if (flt_dsse_serialize(env, &text, &len) != FLT_OK)
		abort();
	if (flt_dsse_parse(text, len, 4096, &again, NULL) != FLT_OK)
		abort();
	if (again->payload_len != env->payload_len ||
	    memcmp(again->payload, env->payload, env->payload_len) != 0 ||
	    again->nsigs != env->nsigs)
		abort();
	struct flt_trust_set ts = {.threshold = 1, .nkeys = 1, .keys = {trusted}};
	enum flt_reason why;
	unsigned n = 0;
	flt_err e = flt_dsse_verify(env, FUZZ_TYPE, &ts, &n, &why);
	if (e == FLT_OK && n < 1)
		abort();
	flt_free(text);
	flt_dsse_free(env);
	flt_dsse_free(again);
	return 0;
}
