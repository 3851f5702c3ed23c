/* Hashing, encodings and ECDSA P-256 keys for everything Flotilla signs or
 * verifies itself (DSSE envelopes, key lists, chunk hashes), over mbedTLS.
 * Pure: key files are read by callers and passed in as bytes. Never logs key material. */
#ifndef FLT_CRYPTO_H
#define FLT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

#include "flt/error.h"

#define FLT_SHA256_LEN     32
#define FLT_SHA256_HEX_LEN 64 /* without the NUL */
/* A keyid is the lowercase hex SHA-256 of the key's SubjectPublicKeyInfo DER. */
#define FLT_KEYID_LEN FLT_SHA256_HEX_LEN
/* Largest DER ECDSA P-256 signature: SEQUENCE of two 33-byte INTEGERs. */
#define FLT_ECDSA_SIG_MAX 72
/* Smallest DER ECDSA signature worth parsing: SEQUENCE { INTEGER 1 byte, INTEGER 1 byte }. */
#define FLT_ECDSA_SIG_MIN 8

/* ---- SHA-256 ---------------------------------------------------------------- */

/* One-shot SHA-256 of `len` bytes at `data` (may be NULL when len == 0).
 * FLT_EINTERNAL if mbedTLS fails (out is then zeroed, never a stale digest). */
FLT_WUR flt_err flt_sha256(const void *data, size_t len, uint8_t out[FLT_SHA256_LEN]);

/* One-shot SHA-256 as lowercase hex; out gets 64 characters and a NUL. */
FLT_WUR flt_err flt_sha256_hex(const void *data, size_t len, char out[FLT_SHA256_HEX_LEN + 1]);

/* Streaming SHA-256. init, any number of updates, final. The context holds no
 * heap memory; final may be called once. A failure inside update is remembered
 * and reported by final. */
typedef struct flt_sha256_ctx {
	mbedtls_sha256_context md;
	int failed;
} flt_sha256_ctx;

void flt_sha256_init(flt_sha256_ctx *ctx);
void flt_sha256_update(flt_sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes the context. FLT_EINTERNAL if any step failed. */
FLT_WUR flt_err flt_sha256_final(flt_sha256_ctx *ctx, uint8_t out[FLT_SHA256_LEN]);

/* ---- hex, comparison, base64 --------------------------------------------------- */

/* Lowercase hex of `n` bytes into `out` (capacity outsz >= 2n + 1, NUL-terminated).
 * FLT_EINVAL if out is too small. */
FLT_WUR flt_err flt_hex_encode(const uint8_t *in, size_t n, char *out, size_t outsz);

/* Decodes exactly `hexlen` lowercase hex characters into exactly `outlen` bytes
 * (hexlen must equal 2 * outlen). FLT_EPARSE on wrong length, uppercase or any
 * non-hex character; `out` is untouched on failure. */
FLT_WUR flt_err flt_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen);

/* True when `s` is exactly 64 lowercase hex characters followed by NUL. */
bool flt_is_sha256_hex(const char *s);

/* Compares n bytes in time independent of their content. True when equal. */
bool flt_ct_equal(const void *a, const void *b, size_t n);

/* Standard base64 (RFC 4648, with padding) of n bytes. On success *out (owned,
 * flt_free, NUL-terminated) and *outlen (without NUL) are set. FLT_ENOMEM,
 * FLT_ELIMIT if the encoding would not fit in a size_t. */
FLT_WUR flt_err flt_base64_encode(const uint8_t *in, size_t n, char **out, size_t *outlen);

/* Strict base64 decode of exactly `len` characters: standard alphabet, length a
 * multiple of 4, padding only at the end, no whitespace, and canonical (unused
 * bits zero), so one byte string has one encoding. Empty input decodes to zero
 * bytes. FLT_EPARSE if not strict base64, FLT_ELIMIT if the decoded size would
 * exceed max_out, FLT_ENOMEM. On success *out (owned, flt_free; never NULL)
 * and *outlen are set. */
FLT_WUR flt_err flt_base64_decode(const char *in, size_t len, size_t max_out, uint8_t **out,
                                  size_t *outlen);

/* ---- randomness ----------------------------------------------------------------- */

/* A CTR-DRBG seeded from the platform entropy source. One per thread (not
 * thread-safe). `pers` (may be NULL) personalises the seed, e.g. "flotilla-serve". */
typedef struct flt_rng flt_rng;

/* FLT_ENOMEM, FLT_EIO if the entropy source fails. *out owned (flt_rng_free). */
FLT_WUR flt_err flt_rng_new(const char *pers, flt_rng **out);
void flt_rng_free(flt_rng *rng);
/* Fills len bytes. FLT_EIO if the DRBG fails. */
FLT_WUR flt_err flt_rng_bytes(flt_rng *rng, void *buf, size_t len);

/* ---- ECDSA P-256 keys ------------------------------------------------------------ */

/* A P-256 public key, possibly with its private half. Not thread-safe: mbedTLS
 * caches precomputed tables inside the key during sign/verify, so give each
 * thread its own key (flt_key_public_copy) or serialise access. */
typedef struct flt_key flt_key;

/* Generates a new key pair. rng is borrowed; NULL makes a one-off DRBG.
 * FLT_ENOMEM, FLT_EIO (entropy), FLT_EINTERNAL. *out owned (flt_key_free). */
FLT_WUR flt_err flt_key_generate(flt_rng *rng, flt_key **out);

/* Imports a private key: PEM ("EC PRIVATE KEY" SEC1 or PKCS#8 "PRIVATE KEY",
 * unencrypted) or DER. `buf` need not be NUL-terminated. FLT_EPARSE if it does
 * not parse, FLT_EUNSUPPORTED if it is not an EC P-256 key, FLT_ENOMEM. */
FLT_WUR flt_err flt_key_import_private(const uint8_t *buf, size_t len, flt_key **out);

/* Imports a public key: SubjectPublicKeyInfo as DER or PEM ("PUBLIC KEY"). The
 * point is checked to lie on the curve. Errors as flt_key_import_private. */
FLT_WUR flt_err flt_key_import_public(const uint8_t *buf, size_t len, flt_key **out);

/* Exports the private key as SEC1 PEM. FLT_EINVAL if the key has no private
 * half. *out owned (flt_free; wipe it with mbedtls_platform_zeroize before if
 * it matters), NUL-terminated, *len without the NUL. */
FLT_WUR flt_err flt_key_export_private_pem(const flt_key *key, char **out, size_t *len);

/* Exports the public key as SubjectPublicKeyInfo PEM. *out owned, NUL-terminated. */
FLT_WUR flt_err flt_key_export_public_pem(const flt_key *key, char **out, size_t *len);

/* Exports the public key as SubjectPublicKeyInfo DER. *out owned (flt_free). */
FLT_WUR flt_err flt_key_export_public_der(const flt_key *key, uint8_t **out, size_t *len);

/* The keyid: 64 lowercase hex characters, NUL-terminated; borrowed from key. */
const char *flt_key_id(const flt_key *key);

/* True when the key holds a private half (can sign). */
bool flt_key_has_private(const flt_key *key);

/* A new key holding only the public half of `key`. *out owned. FLT_ENOMEM. */
FLT_WUR flt_err flt_key_public_copy(const flt_key *key, flt_key **out);

/* Signs a SHA-256 digest: DER ECDSA into sig (capacity FLT_ECDSA_SIG_MAX),
 * *siglen set. rng borrowed, NULL makes a one-off DRBG. FLT_EINVAL if the key
 * has no private half, FLT_EIO (entropy), FLT_EINTERNAL. */
FLT_WUR flt_err flt_key_sign_hash(const flt_key *key, flt_rng *rng,
                                  const uint8_t hash[FLT_SHA256_LEN],
                                  uint8_t sig[FLT_ECDSA_SIG_MAX], size_t *siglen);

/* SHA-256 of msg then flt_key_sign_hash. */
FLT_WUR flt_err flt_key_sign(const flt_key *key, flt_rng *rng, const void *msg, size_t len,
                             uint8_t sig[FLT_ECDSA_SIG_MAX], size_t *siglen);

/* Verifies a DER ECDSA signature over a SHA-256 digest. FLT_OK if valid,
 * FLT_EVERIFY otherwise (including malformed DER or trailing bytes). */
FLT_WUR flt_err flt_key_verify_hash(const flt_key *key, const uint8_t hash[FLT_SHA256_LEN],
                                    const uint8_t *sig, size_t siglen);

/* SHA-256 of msg then flt_key_verify_hash. */
FLT_WUR flt_err flt_key_verify(const flt_key *key, const void *msg, size_t len, const uint8_t *sig,
                               size_t siglen);

/* Frees the key, wiping private material. NULL is a no-op. */
void flt_key_free(flt_key *key);

#endif
