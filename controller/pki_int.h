/* Private: helpers shared by the pki_*.c files (mbedTLS parsing, a DRBG,
 * time formatting, registry access for certificates). */
#ifndef PKI_INT_H
#define PKI_INT_H

#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "flt/error.h"

struct pki_rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

FLT_WUR flt_err pki_rng_init(struct pki_rng *r);
void pki_rng_free(struct pki_rng *r);
/* Private (or public) P-256 key from NUL-terminated PEM; pk initialised either way. */
FLT_WUR flt_err pki_parse_key(const char *pem, mbedtls_pk_context *pk);
/* Certificate from NUL-terminated PEM; crt initialised either way. */
FLT_WUR flt_err pki_parse_cert(const char *pem, mbedtls_x509_crt *crt);
/* "YYYYMMDDhhmmss" (UTC). */
void pki_time_str(int64_t t, char out[16]);

#endif
