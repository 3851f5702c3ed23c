/* libFuzzer target: key lists. The input is tried both as a key-list payload
 * (flt_keylist_decode) and as a root-signed envelope (flt_keylist_accept with
 * the fixed root key). Properties: no crash; a decoded payload re-encodes and
 * decodes again; trust questions on an accepted list never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/keylist.h"
#include "fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ask(const flt_keylist *kl)
{
	struct flt_trust_set ts;
	for (size_t i = 0; i < kl->nkeys; i++)
		(void)flt_keylist_is_trusted(kl, kl->keys[i].keyid, FLT_ROLE_RELEASE, 1800000000);
	if (flt_keylist_trust_set(kl, FLT_ROLE_DIRECTOR, 1800000000, &ts) != FLT_OK)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static flt_key *root;
	if (!root)
		root = fuzz_key(fuzz_root_pem);

	flt_keylist *kl = NULL, *again = NULL;
	char *text = NULL;
	size_t len = 0;
	if (flt_keylist_decode(data, size, &kl, NULL) == FLT_OK) {
		if (flt_keylist_encode(kl, &text, &len) != FLT_OK)
			abort();
		if (flt_keylist_decode((const uint8_t *)text, len, &again, NULL) != FLT_OK)
			abort();
		if (again->serial != kl->serial || again->nkeys != kl->nkeys ||
		    again->nrevoked != kl->nrevoked)
			abort();
		ask(kl);
		flt_free(text);
		flt_keylist_free(again);
		flt_keylist_free(kl);
		kl = NULL;
	}

	struct flt_trust_set roots = {.threshold = 1, .nkeys = 1, .keys = {root}};
	struct flt_keylist_state last = {.valid = true, .serial = 2};
	bool redelivery = false;
	if (flt_keylist_accept((const char *)data, size, &roots, &last, 1700000000, &kl,
	                       &redelivery, NULL) == FLT_OK) {
		if (kl->serial < 2)
			abort();
		ask(kl);
		flt_keylist_free(kl);
	}
	return 0;
}
