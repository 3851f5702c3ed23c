/* Fixed P-256 test keys shared by the fuzz targets and the seed generator, so
 * seed envelopes verify and the fuzzer reaches the code behind verification.
 * Test-only keys: they sign nothing outside tests/fuzz. */
#ifndef FLT_FUZZ_KEYS_H
#define FLT_FUZZ_KEYS_H

#include <string.h>

#include "flt/crypto.h"

/* Acts as the root key in key-list seeds and the trusted key in envelope seeds. */
static const char fuzz_root_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIIlc/+wCgYAEY7gLr6Yv3DT/jIwRoFKYGFZMgbP2MtAUoAoGCCqGSM49\n"
    "AwEHoUQDQgAEcIL/3Xz4D2tCeY3W59pN3WTp53aFeh+FbkzpjY602uWXYEuVjkiK\n"
    "j4wj4Zkzc6hWTiQYRr3AFi4CEBIjeTciBg==\n"
    "-----END EC PRIVATE KEY-----\n";

/* A release/director key listed in key-list seeds. */
static const char fuzz_release_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIPzBZVCZpfhNYURHomwaqhv3EOVe/CC19MHuUxKc2AkJoAoGCCqGSM49\n"
    "AwEHoUQDQgAEXVfXNQ28T8+Gi8W/Qck5E1eOuEEJQmSGTXRW2C4X41ucA+wMsJlr\n"
    "CCVhhHHeyhMN5il0hrH6TRzDPN3tRM4lpA==\n"
    "-----END EC PRIVATE KEY-----\n";

static inline flt_key *fuzz_key(const char *pem)
{
	flt_key *k = NULL;
	if (flt_key_import_private((const uint8_t *)pem, strlen(pem), &k) != FLT_OK)
		__builtin_trap();
	return k;
}

#endif
