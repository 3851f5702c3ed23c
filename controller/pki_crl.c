/* The fleet CRL (RFC 5280 v2 CertificateList), built with mbedTLS's ASN.1
 * writer because mbedTLS 2.28 has no CRL writer, signed ECDSA/SHA-256 by the
 * fleet CA. Mosquitto (OpenSSL) reads it as the broker's crlfile. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define FLT_LOG_MODULE "pki"
#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/log.h"
#include "flt/pki.h"
#include "pki_int.h"

#define CRL_MAX_ENTRIES 100000u
#define ENTRY_BYTES     64u /* serial INTEGER + Time + headers, with room */

/* UTCTime for 1950..2049 and GeneralizedTime otherwise, as RFC 5280 says. */
static int write_time(unsigned char **p, unsigned char *start, int64_t t)
{
	char s[16], buf[20];
	size_t len = 0;
	int ret;
	pki_time_str(t, s);
	int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	unsigned char tag;
	if (year >= 1950 && year <= 2049) {
		snprintf(buf, sizeof(buf), "%sZ", s + 2);
		tag = MBEDTLS_ASN1_UTC_TIME;
	} else {
		snprintf(buf, sizeof(buf), "%sZ", s);
		tag = MBEDTLS_ASN1_GENERALIZED_TIME;
	}
	size_t bl = strlen(buf);
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_raw_buffer(p, start, (const unsigned char *)buf, bl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, bl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, tag));
	return (int)len;
}

static int write_uint_bytes(unsigned char **p, unsigned char *start, const uint8_t *b, size_t n)
{
	mbedtls_mpi m;
	int rc;
	mbedtls_mpi_init(&m);
	rc = mbedtls_mpi_read_binary(&m, b, n);
	if (rc == 0)
		rc = mbedtls_asn1_write_mpi(p, start, &m);
	mbedtls_mpi_free(&m);
	return rc;
}

/* AlgorithmIdentifier ecdsa-with-SHA256, parameters absent (RFC 5758). */
static int write_sig_alg(unsigned char **p, unsigned char *start)
{
	size_t len = 0;
	int ret;
	MBEDTLS_ASN1_CHK_ADD(len,
	                     mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
	                                            MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(
	                              p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return (int)len;
}

#define SEQ (MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)

static int write_tbs(unsigned char **p, unsigned char *start, const mbedtls_x509_crt *ca,
                     uint64_t number, int64_t this_update, int64_t next_update,
                     const struct flt_crl_entry *entries, size_t n)
{
	size_t len = 0, sub = 0;
	int ret;
	uint8_t num[8];
	for (int i = 0; i < 8; i++)
		num[i] = (uint8_t)(number >> (56 - 8 * i));
	/* crlExtensions [0] EXPLICIT { cRLNumber } */
	MBEDTLS_ASN1_CHK_ADD(sub, write_uint_bytes(p, start, num, sizeof(num)));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_OCTET_STRING));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_CRL_NUMBER,
	                                                 MBEDTLS_OID_SIZE(MBEDTLS_OID_CRL_NUMBER)));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start, SEQ));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start, SEQ));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_len(p, start, sub));
	MBEDTLS_ASN1_CHK_ADD(sub, mbedtls_asn1_write_tag(p, start,
	                                                 MBEDTLS_ASN1_CONTEXT_SPECIFIC |
	                                                     MBEDTLS_ASN1_CONSTRUCTED | 0));
	len += sub;
	if (n > 0) {
		size_t list = 0;
		for (size_t i = n; i-- > 0;) {
			size_t e = 0;
			MBEDTLS_ASN1_CHK_ADD(e, write_time(p, start, entries[i].revoked_at));
			MBEDTLS_ASN1_CHK_ADD(
			    e, write_uint_bytes(p, start, entries[i].serial, FLT_PKI_SERIAL_LEN));
			MBEDTLS_ASN1_CHK_ADD(e, mbedtls_asn1_write_len(p, start, e));
			MBEDTLS_ASN1_CHK_ADD(e, mbedtls_asn1_write_tag(p, start, SEQ));
			list += e;
		}
		MBEDTLS_ASN1_CHK_ADD(list, mbedtls_asn1_write_len(p, start, list));
		MBEDTLS_ASN1_CHK_ADD(list, mbedtls_asn1_write_tag(p, start, SEQ));
		len += list;
	}
	MBEDTLS_ASN1_CHK_ADD(len, write_time(p, start, next_update));
	MBEDTLS_ASN1_CHK_ADD(len, write_time(p, start, this_update));
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_raw_buffer(p, start, ca->subject_raw.p, ca->subject_raw.len));
	MBEDTLS_ASN1_CHK_ADD(len, write_sig_alg(p, start));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(p, start, 1)); /* v2 */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, SEQ));
	return (int)len;
}

flt_err flt_pki_crl_build(const char *ca_key_pem, const char *ca_cert_pem, uint64_t crl_number,
                          int64_t this_update, int64_t next_update,
                          const struct flt_crl_entry *entries, size_t n, char **pem, size_t *len)
{
	mbedtls_pk_context key;
	mbedtls_x509_crt ca;
	struct pki_rng rng;
	bool have_rng = false;
	unsigned char *tbsbuf = NULL, *crlbuf = NULL, *pembuf = NULL;
	unsigned char sig[MBEDTLS_ECDSA_MAX_LEN];
	uint8_t hash[FLT_SHA256_LEN];
	size_t siglen = 0, cap, pemcap, olen = 0;
	flt_err e;
	int rc = 0;

	mbedtls_pk_init(&key);
	mbedtls_x509_crt_init(&ca);
	if (!pem || !len || next_update <= this_update || (n && !entries)) {
		e = FLT_EINVAL;
		goto out;
	}
	if (n > CRL_MAX_ENTRIES) {
		e = FLT_ELIMIT;
		goto out;
	}
	if ((e = pki_parse_key(ca_key_pem, &key)) != FLT_OK ||
	    (e = pki_parse_cert(ca_cert_pem, &ca)) != FLT_OK)
		goto out;
	if (!mbedtls_pk_can_do(&key, MBEDTLS_PK_ECDSA)) {
		e = FLT_EINVAL;
		goto out;
	}
	cap = 1024 + ca.subject_raw.len + n * ENTRY_BYTES;
	if (!(tbsbuf = flt_malloc(cap)) || !(crlbuf = flt_malloc(cap + 256))) {
		e = FLT_ENOMEM;
		goto out;
	}
	unsigned char *p = tbsbuf + cap;
	e = FLT_EINTERNAL;
	if ((rc = write_tbs(&p, tbsbuf, &ca, crl_number, this_update, next_update, entries, n)) < 0)
		goto fail;
	size_t tbslen = (size_t)rc;
	if ((e = flt_sha256(p, tbslen, hash)) != FLT_OK)
		goto out;
	if ((e = pki_rng_init(&rng)) != FLT_OK)
		goto out;
	have_rng = true;
	e = FLT_EINTERNAL;
	if ((rc = mbedtls_pk_sign(&key, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &siglen,
	                          mbedtls_ctr_drbg_random, &rng.drbg)) != 0)
		goto fail;

	unsigned char *q = crlbuf + cap + 256;
	size_t clen = 0;
	if ((rc = mbedtls_asn1_write_bitstring(&q, crlbuf, sig, siglen * 8)) < 0)
		goto fail;
	clen += (size_t)rc;
	if ((rc = write_sig_alg(&q, crlbuf)) < 0)
		goto fail;
	clen += (size_t)rc;
	if ((rc = mbedtls_asn1_write_raw_buffer(&q, crlbuf, p, tbslen)) < 0)
		goto fail;
	clen += (size_t)rc;
	if ((rc = mbedtls_asn1_write_len(&q, crlbuf, clen)) < 0)
		goto fail;
	clen += (size_t)rc;
	if ((rc = mbedtls_asn1_write_tag(&q, crlbuf, SEQ)) < 0)
		goto fail;
	clen += (size_t)rc;

	pemcap = clen * 4 / 3 + clen / 64 + 128;
	if (!(pembuf = flt_malloc(pemcap))) {
		e = FLT_ENOMEM;
		goto out;
	}
	if ((rc = mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n",
	                                   q, clen, pembuf, pemcap, &olen)) != 0)
		goto fail;
	*pem = (char *)pembuf;
	*len = strlen((char *)pembuf);
	pembuf = NULL;
	e = FLT_OK;
	goto out;
fail:
	flt_log_err("building the CRL: mbedTLS -0x%04x", (unsigned)-rc);
out:
	if (have_rng)
		pki_rng_free(&rng);
	flt_free(pembuf);
	flt_free(crlbuf);
	flt_free(tbsbuf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&key);
	return e;
}
