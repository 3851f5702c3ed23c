/* X.509 certificates for the fleet (CA, broker, controller, devices) with
 * mbedTLS x509write: P-256 keys, ECDSA/SHA-256, the extensions TLS peers
 * check. mbedTLS 2.28 writes no subjectAltName or extendedKeyUsage itself, so
 * those two are encoded here with its ASN.1 writer. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#define FLT_LOG_MODULE "pki"
#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/log.h"
#include "flt/pki.h"
#include "pki_int.h"

#define CERT_PEM_MAX 4096
#define EXT_BUF      1024

flt_err pki_rng_init(struct pki_rng *r)
{
	static const char pers[] = "flotilla-pki";
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	int rc = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
	                               (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc != 0) {
		flt_log_err("ctr_drbg_seed: -0x%04x", (unsigned)-rc);
		pki_rng_free(r);
		return FLT_EIO;
	}
	return FLT_OK;
}

void pki_rng_free(struct pki_rng *r)
{
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
}

flt_err pki_parse_key(const char *pem, mbedtls_pk_context *pk)
{
	mbedtls_pk_init(pk);
	if (!pem)
		return FLT_EINVAL;
	size_t len = strlen(pem) + 1; /* mbedTLS wants the NUL counted for PEM */
	int rc = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len, NULL, 0);
	if (rc != 0)
		rc = mbedtls_pk_parse_public_key(pk, (const unsigned char *)pem, len);
	if (rc != 0) {
		flt_log_dbg("key does not parse: -0x%04x", (unsigned)-rc);
		mbedtls_pk_free(pk);
		return FLT_EPARSE;
	}
	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY) ||
	    mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
		mbedtls_pk_free(pk);
		return FLT_EPARSE;
	}
	return FLT_OK;
}

flt_err pki_parse_cert(const char *pem, mbedtls_x509_crt *crt)
{
	mbedtls_x509_crt_init(crt);
	if (!pem)
		return FLT_EINVAL;
	int rc = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
	if (rc != 0) {
		flt_log_dbg("certificate does not parse: -0x%04x", (unsigned)-rc);
		mbedtls_x509_crt_free(crt);
		return FLT_EPARSE;
	}
	return FLT_OK;
}

/* Civil date arithmetic on int64 (Howard Hinnant's algorithms): time_t is
 * 32 bits on armhf and the CRL's next update lies in year 9999. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void pki_time_str(int64_t t, char out[16])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t sod = t - days * 86400;
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 1 || y > 9999) {
		snprintf(out, 16, "19700101000000");
		return;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d", (int)y, (int)m, (int)d,
	         (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	memcpy(out, buf, 15); /* 14 digits and the NUL: every field is in range here */
}

flt_err flt_pki_serial_new(uint8_t serial[FLT_PKI_SERIAL_LEN])
{
	struct pki_rng r;
	flt_err e = pki_rng_init(&r);
	if (e)
		return e;
	if (mbedtls_ctr_drbg_random(&r.drbg, serial, FLT_PKI_SERIAL_LEN) != 0)
		e = FLT_EIO;
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40); /* positive, and no leading zero byte */
	pki_rng_free(&r);
	return e;
}

flt_err flt_pki_key_new(char **pem, size_t *len)
{
	flt_key *k = NULL;
	flt_err e = flt_key_generate(NULL, &k);
	if (e)
		return e;
	e = flt_key_export_private_pem(k, pem, len);
	flt_key_free(k);
	return e;
}

static bool cn_valid(const char *cn)
{
	size_t n = cn ? strlen(cn) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = cn[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == ' '))
			return false;
	}
	return true;
}

/* GeneralNames: iPAddress [7] for addresses, dNSName [2] otherwise. */
static int write_san(unsigned char *buf, size_t cap, const char *const *names, size_t n,
                     unsigned char **start)
{
	unsigned char *p = buf + cap;
	size_t len = 0;
	int ret;
	for (size_t i = n; i-- > 0;) {
		unsigned char ip[16];
		size_t l = 0;
		if (inet_pton(AF_INET, names[i], ip) == 1) {
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_raw_buffer(&p, buf, ip, 4));
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_len(&p, buf, 4));
			MBEDTLS_ASN1_CHK_ADD(
			    l, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
		} else if (inet_pton(AF_INET6, names[i], ip) == 1) {
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_raw_buffer(&p, buf, ip, 16));
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_len(&p, buf, 16));
			MBEDTLS_ASN1_CHK_ADD(
			    l, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
		} else {
			size_t sl = strlen(names[i]);
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_raw_buffer(
			                            &p, buf, (const unsigned char *)names[i], sl));
			MBEDTLS_ASN1_CHK_ADD(l, mbedtls_asn1_write_len(&p, buf, sl));
			MBEDTLS_ASN1_CHK_ADD(
			    l, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
		}
		len += l;
	}
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

static int write_eku(unsigned char *buf, size_t cap, bool server, unsigned char **start)
{
	unsigned char *p = buf + cap;
	size_t len = 0;
	int ret;
	const char *oid = server ? MBEDTLS_OID_SERVER_AUTH : MBEDTLS_OID_CLIENT_AUTH;
	size_t oidlen = server ? MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)
	                       : MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH);
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, buf, oid, oidlen));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(
	    len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

flt_err flt_pki_cert_issue(const char *issuer_key_pem, const char *issuer_cert_pem,
                           const char *subject_key_pem, const struct flt_cert_spec *spec,
                           char **pem, size_t *len)
{
	mbedtls_pk_context ikey, skey;
	mbedtls_x509_crt icrt;
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	struct pki_rng rng;
	bool have_rng = false;
	unsigned char ext[EXT_BUF], *ep = NULL;
	unsigned char *out = NULL;
	char subj[80], issuer[256], nb[16], na[16];
	flt_err e = FLT_OK;
	int rc;

	mbedtls_pk_init(&ikey);
	mbedtls_pk_init(&skey);
	mbedtls_x509_crt_init(&icrt);
	mbedtls_x509write_crt_init(&w);
	mbedtls_mpi_init(&serial);
	if (!spec || !pem || !cn_valid(spec->cn) || spec->not_after <= spec->not_before ||
	    spec->nnames > FLT_PKI_MAX_NAMES || (spec->nnames && !spec->names) ||
	    (spec->kind == FLT_CERT_CA) != (issuer_cert_pem == NULL)) {
		e = FLT_EINVAL;
		goto out;
	}
	if ((e = pki_parse_key(issuer_key_pem, &ikey)) != FLT_OK ||
	    (e = pki_parse_key(subject_key_pem, &skey)) != FLT_OK)
		goto out;
	snprintf(subj, sizeof(subj), "CN=%s", spec->cn);
	if (issuer_cert_pem) {
		if ((e = pki_parse_cert(issuer_cert_pem, &icrt)) != FLT_OK)
			goto out;
		if (mbedtls_x509_dn_gets(issuer, sizeof(issuer), &icrt.subject) < 0) {
			e = FLT_EPARSE;
			goto out;
		}
	} else {
		snprintf(issuer, sizeof(issuer), "%s", subj);
	}
	if ((e = pki_rng_init(&rng)) != FLT_OK)
		goto out;
	have_rng = true;
	pki_time_str(spec->not_before, nb);
	pki_time_str(spec->not_after, na);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &skey);
	mbedtls_x509write_crt_set_issuer_key(&w, &ikey);
	e = FLT_EINTERNAL;
	if ((rc = mbedtls_mpi_read_binary(&serial, spec->serial, FLT_PKI_SERIAL_LEN)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_serial(&w, &serial)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_validity(&w, nb, na)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_name(&w, subj)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_issuer_name(&w, issuer)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_subject_key_identifier(&w)) != 0 ||
	    (rc = mbedtls_x509write_crt_set_authority_key_identifier(&w)) != 0)
		goto fail;
	if (spec->kind == FLT_CERT_CA) {
		if ((rc = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0)) != 0 ||
		    (rc = mbedtls_x509write_crt_set_key_usage(
		         &w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)) != 0)
			goto fail;
	} else {
		bool server = spec->kind == FLT_CERT_SERVER;
		if ((rc = mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1)) != 0 ||
		    (rc = mbedtls_x509write_crt_set_key_usage(
		         &w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0)
			goto fail;
		if ((rc = write_eku(ext, sizeof(ext), server, &ep)) < 0 ||
		    (rc = mbedtls_x509write_crt_set_extension(
		         &w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
		         MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, ep, (size_t)rc)) != 0)
			goto fail;
		if (spec->nnames) {
			if ((rc = write_san(ext, sizeof(ext), spec->names, spec->nnames, &ep)) <
			        0 ||
			    (rc = mbedtls_x509write_crt_set_extension(
			         &w, MBEDTLS_OID_SUBJECT_ALT_NAME,
			         MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, ep,
			         (size_t)rc)) != 0)
				goto fail;
		}
	}
	if (!(out = flt_malloc(CERT_PEM_MAX))) {
		e = FLT_ENOMEM;
		goto out;
	}
	if ((rc = mbedtls_x509write_crt_pem(&w, out, CERT_PEM_MAX, mbedtls_ctr_drbg_random,
	                                    &rng.drbg)) != 0)
		goto fail;
	*len = strlen((char *)out);
	*pem = (char *)out;
	out = NULL;
	e = FLT_OK;
	goto out;
fail:
	flt_log_err("issuing certificate for %s: mbedTLS -0x%04x", spec->cn, (unsigned)-rc);
out:
	flt_free(out);
	if (have_rng)
		pki_rng_free(&rng);
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&w);
	mbedtls_x509_crt_free(&icrt);
	mbedtls_pk_free(&skey);
	mbedtls_pk_free(&ikey);
	return e;
}

static int64_t time_of(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 +
	       t->sec;
}

flt_err flt_pki_cert_info(const uint8_t *buf, size_t len, struct flt_cert_info *out)
{
	mbedtls_x509_crt crt;
	struct flt_cert_info ci;
	flt_err e;
	if (!buf || !out)
		return FLT_EINVAL;
	mbedtls_x509_crt_init(&crt);
	int rc = mbedtls_x509_crt_parse(&crt, buf, len);
	if (rc != 0 && len > 0 && buf[len - 1] != '\0') {
		/* PEM without its NUL counted: retry on a terminated copy. */
		char *cp = flt_malloc(len + 1);
		if (!cp)
			return FLT_ENOMEM;
		memcpy(cp, buf, len);
		cp[len] = '\0';
		rc = mbedtls_x509_crt_parse(&crt, (const unsigned char *)cp, len + 1);
		flt_free(cp);
	}
	if (rc != 0) {
		e = FLT_EPARSE;
		goto out;
	}
	memset(&ci, 0, sizeof(ci));
	for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
			size_t l = n->val.len < sizeof(ci.cn) - 1 ? n->val.len : sizeof(ci.cn) - 1;
			memcpy(ci.cn, n->val.p, l);
		}
	size_t sl = crt.serial.len;
	const unsigned char *sp = crt.serial.p;
	while (sl > 1 && sp[0] == 0) {
		sp++;
		sl--;
	}
	if (sl * 2 + 1 > sizeof(ci.serial_hex) ||
	    flt_hex_encode(sp, sl, ci.serial_hex, sizeof(ci.serial_hex)) != FLT_OK) {
		e = FLT_EPARSE;
		goto out;
	}
	ci.not_before = time_of(&crt.valid_from);
	ci.not_after = time_of(&crt.valid_to);
	ci.is_ca = crt.ca_istrue != 0;
	*out = ci;
	e = FLT_OK;
out:
	mbedtls_x509_crt_free(&crt);
	return e;
}
