/* SHA-256, hex/base64 and ECDSA P-256 keys over mbedTLS 2.28. This file is the
 * one adapter to mbedTLS for signing and hashing: mbedTLS error codes are
 * translated here and never leave it. Key material is never logged. */
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>

#define FLT_LOG_MODULE "crypto"
#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/log.h"

/* PEM of a P-256 private key is ~230 bytes, public ~180; generous headroom. */
#define PEM_BUF 1024
#define DER_BUF 256

struct flt_rng {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

struct flt_key {
	mbedtls_pk_context pk;
	bool priv;
	char keyid[FLT_KEYID_LEN + 1];
};

/* ---- SHA-256 ---------------------------------------------------------------- */

flt_err flt_sha256(const void *data, size_t len, uint8_t out[FLT_SHA256_LEN])
{
	flt_sha256_ctx c;
	flt_sha256_init(&c);
	flt_sha256_update(&c, data, len);
	return flt_sha256_final(&c, out);
}

flt_err flt_sha256_hex(const void *data, size_t len, char out[FLT_SHA256_HEX_LEN + 1])
{
	uint8_t d[FLT_SHA256_LEN];
	flt_err e = flt_sha256(data, len, d);
	if (e != FLT_OK)
		return e;
	return flt_hex_encode(d, sizeof d, out, FLT_SHA256_HEX_LEN + 1);
}

void flt_sha256_init(flt_sha256_ctx *ctx)
{
	mbedtls_sha256_init(&ctx->md);
	ctx->failed = mbedtls_sha256_starts_ret(&ctx->md, 0) != 0;
}

void flt_sha256_update(flt_sha256_ctx *ctx, const void *data, size_t len)
{
	if (ctx->failed || len == 0)
		return;
	if (mbedtls_sha256_update_ret(&ctx->md, data, len) != 0)
		ctx->failed = 1;
}

flt_err flt_sha256_final(flt_sha256_ctx *ctx, uint8_t out[FLT_SHA256_LEN])
{
	flt_err e = FLT_OK;
	if (ctx->failed || mbedtls_sha256_finish_ret(&ctx->md, out) != 0) {
		memset(out, 0, FLT_SHA256_LEN);
		flt_log_err("sha256 failed inside mbedTLS");
		e = FLT_EINTERNAL;
	}
	mbedtls_sha256_free(&ctx->md);
	ctx->failed = 1; /* a second final must not return a digest */
	return e;
}

/* ---- hex, comparison, base64 --------------------------------------------------- */

flt_err flt_hex_encode(const uint8_t *in, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";
	if (!out || n > (SIZE_MAX - 1) / 2 || outsz < 2 * n + 1)
		return FLT_EINVAL;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
	return FLT_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

flt_err flt_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t outlen)
{
	if (!hex || outlen > SIZE_MAX / 2 || hexlen != 2 * outlen)
		return FLT_EPARSE;
	for (size_t i = 0; i < hexlen; i++)
		if (hexval(hex[i]) < 0)
			return FLT_EPARSE;
	for (size_t i = 0; i < outlen; i++)
		out[i] = (uint8_t)((hexval(hex[2 * i]) << 4) | hexval(hex[2 * i + 1]));
	return FLT_OK;
}

bool flt_is_sha256_hex(const char *s)
{
	if (!s)
		return false;
	for (size_t i = 0; i < FLT_SHA256_HEX_LEN; i++)
		if (hexval(s[i]) < 0)
			return false;
	return s[FLT_SHA256_HEX_LEN] == '\0';
}

bool flt_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *x = a, *y = b;
	uint8_t diff = 0;
	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t)(x[i] ^ y[i]);
	return diff == 0;
}

flt_err flt_base64_encode(const uint8_t *in, size_t n, char **out, size_t *outlen)
{
	if (n / 3 >= (SIZE_MAX - 2) / 4)
		return FLT_ELIMIT;
	size_t cap = 4 * ((n + 2) / 3) + 1, olen = 0;
	char *buf = flt_malloc(cap);
	if (!buf)
		return FLT_ENOMEM;
	if (n == 0) {
		buf[0] = '\0';
	} else if (mbedtls_base64_encode((unsigned char *)buf, cap, &olen, in, n) != 0) {
		flt_free(buf);
		return FLT_EINTERNAL;
	}
	*out = buf;
	*outlen = olen;
	return FLT_OK;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

flt_err flt_base64_decode(const char *in, size_t len, size_t max_out, uint8_t **out, size_t *outlen)
{
	uint8_t *buf = NULL;
	char *check = NULL;
	size_t pad = 0, dlen, olen = 0, clen = 0;
	flt_err e = FLT_EPARSE;

	if (!in || len % 4 != 0)
		goto out;
	/* mbedTLS tolerates whitespace and line breaks; we accept only the
	 * alphabet, with at most two '=' and only at the very end. */
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	for (size_t i = 0; i < len - pad; i++)
		if (!b64_char(in[i]))
			goto out;
	dlen = len / 4 * 3 - pad;
	if (dlen > max_out) {
		e = FLT_ELIMIT;
		goto out;
	}
	buf = flt_malloc(dlen ? dlen : 1);
	if (!buf) {
		e = FLT_ENOMEM;
		goto out;
	}
	if (len > 0) {
		if (mbedtls_base64_decode(buf, dlen, &olen, (const unsigned char *)in, len) != 0 ||
		    olen != dlen)
			goto out;
		/* Canonical form: nonzero unused bits would give a second spelling
		 * of the same bytes; re-encoding must give the input back. */
		if (flt_base64_encode(buf, olen, &check, &clen) != FLT_OK) {
			e = FLT_ENOMEM;
			goto out;
		}
		if (clen != len || memcmp(check, in, len) != 0)
			goto out;
	}
	*out = buf;
	*outlen = olen;
	buf = NULL;
	e = FLT_OK;
out:
	flt_free(buf);
	flt_free(check);
	return e;
}

/* ---- randomness ----------------------------------------------------------------- */

flt_err flt_rng_new(const char *pers, flt_rng **out)
{
	flt_rng *r = flt_calloc(1, sizeof *r);
	if (!r)
		return FLT_ENOMEM;
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	int rc = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
	                               (const unsigned char *)pers, pers ? strlen(pers) : 0);
	if (rc != 0) {
		flt_log_err("seeding the DRBG failed (mbedtls -0x%04x)", (unsigned)-rc);
		flt_rng_free(r);
		return FLT_EIO;
	}
	*out = r;
	return FLT_OK;
}

void flt_rng_free(flt_rng *rng)
{
	if (!rng)
		return;
	mbedtls_ctr_drbg_free(&rng->drbg);
	mbedtls_entropy_free(&rng->entropy);
	flt_free(rng);
}

flt_err flt_rng_bytes(flt_rng *rng, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
		if (mbedtls_ctr_drbg_random(&rng->drbg, p, n) != 0)
			return FLT_EIO;
		p += n;
		len -= n;
	}
	return FLT_OK;
}

/* ---- keys -------------------------------------------------------------------------- */

static flt_key *key_alloc(void)
{
	flt_key *k = flt_calloc(1, sizeof *k);
	if (k)
		mbedtls_pk_init(&k->pk);
	return k;
}

void flt_key_free(flt_key *key)
{
	if (!key)
		return;
	mbedtls_pk_free(&key->pk); /* zeroizes the private scalar */
	flt_free(key);
}

/* Refuses anything but EC on P-256 and fills in the derived fields (keyid,
 * whether a private half is present). */
static flt_err key_finish(flt_key *k)
{
	uint8_t der[DER_BUF];
	if (mbedtls_pk_get_type(&k->pk) != MBEDTLS_PK_ECKEY)
		return FLT_EUNSUPPORTED;
	mbedtls_ecp_keypair *ec = mbedtls_pk_ec(k->pk);
	if (!ec || ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
		return FLT_EUNSUPPORTED;
	k->priv = mbedtls_mpi_cmp_int(&ec->d, 0) != 0;
	int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof der);
	if (n <= 0)
		return FLT_EINTERNAL;
	return flt_sha256_hex(der + sizeof der - (size_t)n, (size_t)n, k->keyid);
}

/* Picks the caller's DRBG, or seeds a one-off one (*tmp, freed by the caller) when rng is NULL. */
static flt_err with_rng(flt_rng *rng, flt_rng **tmp, flt_rng **use)
{
	*tmp = NULL;
	if (rng) {
		*use = rng;
		return FLT_OK;
	}
	flt_err e = flt_rng_new("flotilla-oneoff", tmp);
	if (e == FLT_OK)
		*use = *tmp;
	return e;
}

flt_err flt_key_generate(flt_rng *rng, flt_key **out)
{
	flt_rng *tmp = NULL, *use = NULL;
	flt_key *k = NULL;
	flt_err e = with_rng(rng, &tmp, &use);
	if (e != FLT_OK)
		goto out;
	k = key_alloc();
	if (!k) {
		e = FLT_ENOMEM;
		goto out;
	}
	if (mbedtls_pk_setup(&k->pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) {
		e = FLT_ENOMEM;
		goto out;
	}
	int rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(k->pk),
	                             mbedtls_ctr_drbg_random, &use->drbg);
	if (rc != 0) {
		flt_log_err("key generation failed (mbedtls -0x%04x)", (unsigned)-rc);
		e = FLT_EIO;
		goto out;
	}
	e = key_finish(k);
	if (e != FLT_OK)
		goto out;
	*out = k;
	k = NULL;
out:
	flt_key_free(k);
	flt_rng_free(tmp);
	return e;
}

static bool looks_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN ";
	return len >= sizeof tag - 1 && memcmp(buf, tag, sizeof tag - 1) == 0;
}

/* mbedTLS reads PEM only from a NUL-terminated buffer whose length counts the NUL. */
static uint8_t *nul_copy(const uint8_t *buf, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	uint8_t *c = flt_malloc(len + 1);
	if (c) {
		memcpy(c, buf, len);
		c[len] = 0;
	}
	return c;
}

static flt_err key_import(const uint8_t *buf, size_t len, bool priv, flt_key **out)
{
	uint8_t *copy = NULL;
	flt_key *k = NULL;
	flt_err e = FLT_EPARSE;
	int rc;

	if (!buf || len == 0 || len > 16384)
		goto out;
	k = key_alloc();
	if (!k) {
		e = FLT_ENOMEM;
		goto out;
	}
	bool pem = looks_pem(buf, len);
	if (pem) {
		copy = nul_copy(buf, len);
		if (!copy) {
			e = FLT_ENOMEM;
			goto out;
		}
	}
	const uint8_t *src = pem ? copy : buf;
	size_t srclen = pem ? len + 1 : len;
	if (priv)
		rc = mbedtls_pk_parse_key(&k->pk, src, srclen, NULL, 0);
	else
		rc = mbedtls_pk_parse_public_key(&k->pk, src, srclen);
	if (rc != 0) {
		flt_log_dbg("key does not parse (mbedtls -0x%04x)", (unsigned)-rc);
		e = rc == MBEDTLS_ERR_PK_ALLOC_FAILED ? FLT_ENOMEM : FLT_EPARSE;
		goto out;
	}
	e = key_finish(k);
	if (e != FLT_OK)
		goto out;
	if (priv && !k->priv) {
		e = FLT_EPARSE;
		goto out;
	}
	if (!priv && !pem) {
		/* mbedTLS ignores bytes after the SPKI; one key, one encoding. */
		uint8_t der[DER_BUF];
		int n = mbedtls_pk_write_pubkey_der(&k->pk, der, sizeof der);
		if (n <= 0 || (size_t)n != len ||
		    memcmp(der + sizeof der - (size_t)n, buf, len) != 0) {
			e = FLT_EPARSE;
			goto out;
		}
	}
	*out = k;
	k = NULL;
	e = FLT_OK;
out:
	if (copy) {
		mbedtls_platform_zeroize(copy, len);
		flt_free(copy);
	}
	flt_key_free(k);
	return e;
}

flt_err flt_key_import_private(const uint8_t *buf, size_t len, flt_key **out)
{
	return key_import(buf, len, true, out);
}

flt_err flt_key_import_public(const uint8_t *buf, size_t len, flt_key **out)
{
	return key_import(buf, len, false, out);
}

static flt_err pem_out(const uint8_t *pem, char **out, size_t *len)
{
	size_t n = strnlen((const char *)pem, PEM_BUF);
	char *s = flt_strndup((const char *)pem, n);
	if (!s)
		return FLT_ENOMEM;
	*out = s;
	*len = n;
	return FLT_OK;
}

flt_err flt_key_export_private_pem(const flt_key *key, char **out, size_t *len)
{
	uint8_t pem[PEM_BUF];
	flt_err e;
	if (!key || !key->priv)
		return FLT_EINVAL;
	if (mbedtls_pk_write_key_pem((mbedtls_pk_context *)&key->pk, pem, sizeof pem) != 0)
		e = FLT_EINTERNAL;
	else
		e = pem_out(pem, out, len);
	mbedtls_platform_zeroize(pem, sizeof pem);
	return e;
}

flt_err flt_key_export_public_pem(const flt_key *key, char **out, size_t *len)
{
	uint8_t pem[PEM_BUF];
	if (!key)
		return FLT_EINVAL;
	if (mbedtls_pk_write_pubkey_pem((mbedtls_pk_context *)&key->pk, pem, sizeof pem) != 0)
		return FLT_EINTERNAL;
	return pem_out(pem, out, len);
}

flt_err flt_key_export_public_der(const flt_key *key, uint8_t **out, size_t *len)
{
	uint8_t der[DER_BUF];
	if (!key)
		return FLT_EINVAL;
	int n = mbedtls_pk_write_pubkey_der((mbedtls_pk_context *)&key->pk, der, sizeof der);
	if (n <= 0)
		return FLT_EINTERNAL;
	uint8_t *d = flt_memdup(der + sizeof der - (size_t)n, (size_t)n);
	if (!d)
		return FLT_ENOMEM;
	*out = d;
	*len = (size_t)n;
	return FLT_OK;
}

const char *flt_key_id(const flt_key *key)
{
	return key->keyid;
}

bool flt_key_has_private(const flt_key *key)
{
	return key && key->priv;
}

flt_err flt_key_public_copy(const flt_key *key, flt_key **out)
{
	uint8_t *der = NULL;
	size_t len = 0;
	flt_err e = flt_key_export_public_der(key, &der, &len);
	if (e != FLT_OK)
		return e;
	e = flt_key_import_public(der, len, out);
	flt_free(der);
	return e;
}

flt_err flt_key_sign_hash(const flt_key *key, flt_rng *rng, const uint8_t hash[FLT_SHA256_LEN],
                          uint8_t sig[FLT_ECDSA_SIG_MAX], size_t *siglen)
{
	uint8_t buf[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t n = 0;
	flt_rng *tmp = NULL, *use = NULL;
	flt_err e;

	if (!key || !key->priv || !hash || !sig || !siglen)
		return FLT_EINVAL;
	e = with_rng(rng, &tmp, &use);
	if (e != FLT_OK)
		return e;
	int rc = mbedtls_pk_sign((mbedtls_pk_context *)&key->pk, MBEDTLS_MD_SHA256, hash,
	                         FLT_SHA256_LEN, buf, &n, mbedtls_ctr_drbg_random, &use->drbg);
	if (rc != 0) {
		flt_log_err("signing failed (mbedtls -0x%04x)", (unsigned)-rc);
		e = FLT_EINTERNAL;
	} else if (n < FLT_ECDSA_SIG_MIN || n > FLT_ECDSA_SIG_MAX) {
		e = FLT_EINTERNAL;
	} else {
		memcpy(sig, buf, n);
		*siglen = n;
	}
	flt_rng_free(tmp);
	return e;
}

flt_err flt_key_sign(const flt_key *key, flt_rng *rng, const void *msg, size_t len,
                     uint8_t sig[FLT_ECDSA_SIG_MAX], size_t *siglen)
{
	uint8_t h[FLT_SHA256_LEN];
	flt_err e = flt_sha256(msg, len, h);
	if (e != FLT_OK)
		return e;
	return flt_key_sign_hash(key, rng, h, sig, siglen);
}

flt_err flt_key_verify_hash(const flt_key *key, const uint8_t hash[FLT_SHA256_LEN],
                            const uint8_t *sig, size_t siglen)
{
	if (!key || !hash || !sig || siglen < FLT_ECDSA_SIG_MIN || siglen > FLT_ECDSA_SIG_MAX)
		return FLT_EVERIFY;
	int rc = mbedtls_pk_verify((mbedtls_pk_context *)&key->pk, MBEDTLS_MD_SHA256, hash,
	                           FLT_SHA256_LEN, sig, siglen);
	return rc == 0 ? FLT_OK : FLT_EVERIFY;
}

flt_err flt_key_verify(const flt_key *key, const void *msg, size_t len, const uint8_t *sig,
                       size_t siglen)
{
	uint8_t h[FLT_SHA256_LEN];
	flt_err e = flt_sha256(msg, len, h);
	if (e != FLT_OK)
		return e;
	return flt_key_verify_hash(key, h, sig, siglen);
}
