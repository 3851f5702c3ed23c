/* Unit tests for the fleet PKI writers: certificates chain to the CA with the
 * right names and usages, and the CRL built with the ASN.1 writer parses in
 * mbedTLS and in OpenSSL and revokes exactly the listed serials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "flt/alloc.h"
#include "flt/crypto.h"
#include "flt/ident.h"
#include "flt/pki.h"
#include "sys_testutil.h"

static int64_t NOW;

struct ca {
	char *key, *cert;
};

static void make_ca(struct ca *ca)
{
	size_t len;
	struct flt_cert_spec s = {.kind = FLT_CERT_CA,
	                          .cn = "flotilla fleet CA",
	                          .not_before = NOW - 60,
	                          .not_after = NOW + 86400 * 3650};
	assert_int_equal(flt_pki_serial_new(s.serial), FLT_OK);
	assert_int_equal(flt_pki_key_new(&ca->key, &len), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(ca->key, NULL, ca->key, &s, &ca->cert, &len), FLT_OK);
}

static char *issue(const struct ca *ca, enum flt_cert_kind kind, const char *cn,
                   uint8_t serial[FLT_PKI_SERIAL_LEN], char **keyout)
{
	static const char *const names[] = {"127.0.0.1", "::1", "localhost", "broker.example"};
	size_t len;
	char *key = NULL, *cert = NULL;
	struct flt_cert_spec s = {.kind = kind,
	                          .cn = cn,
	                          .not_before = NOW - 60,
	                          .not_after = NOW + 86400,
	                          .names = kind == FLT_CERT_SERVER ? names : NULL,
	                          .nnames = kind == FLT_CERT_SERVER ? 4 : 0};
	assert_int_equal(flt_pki_serial_new(s.serial), FLT_OK);
	if (serial)
		memcpy(serial, s.serial, FLT_PKI_SERIAL_LEN);
	assert_int_equal(flt_pki_key_new(&key, &len), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(ca->key, ca->cert, key, &s, &cert, &len), FLT_OK);
	if (keyout)
		*keyout = key;
	else
		flt_free(key);
	return cert;
}

static void parse(const char *pem, mbedtls_x509_crt *c)
{
	mbedtls_x509_crt_init(c);
	assert_int_equal(mbedtls_x509_crt_parse(c, (const unsigned char *)pem, strlen(pem) + 1), 0);
}

static void test_chain_and_fields(void **state)
{
	(void)state;
	struct ca ca;
	make_ca(&ca);
	uint8_t serial[FLT_PKI_SERIAL_LEN];
	char *dev = issue(&ca, FLT_CERT_CLIENT, "dev-01", serial, NULL);
	char *srv = issue(&ca, FLT_CERT_SERVER, "flotilla-broker", NULL, NULL);

	mbedtls_x509_crt cacrt, devcrt, srvcrt;
	parse(ca.cert, &cacrt);
	parse(dev, &devcrt);
	parse(srv, &srvcrt);
	uint32_t flags = 0;
	assert_int_equal(mbedtls_x509_crt_verify(&devcrt, &cacrt, NULL, NULL, &flags, NULL, NULL),
	                 0);
	assert_int_equal(
	    mbedtls_x509_crt_verify(&srvcrt, &cacrt, NULL, "localhost", &flags, NULL, NULL), 0);
	assert_int_equal(
	    mbedtls_x509_crt_verify(&srvcrt, &cacrt, NULL, "broker.example", &flags, NULL, NULL),
	    0);
	assert_int_not_equal(
	    mbedtls_x509_crt_verify(&srvcrt, &cacrt, NULL, "elsewhere.example", &flags, NULL, NULL),
	    0);
	assert_int_equal(
	    mbedtls_x509_crt_check_extended_key_usage(&devcrt, MBEDTLS_OID_CLIENT_AUTH,
	                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)),
	    0);
	assert_int_not_equal(
	    mbedtls_x509_crt_check_extended_key_usage(&devcrt, MBEDTLS_OID_SERVER_AUTH,
	                                              MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)),
	    0);
	assert_true(cacrt.ca_istrue);
	assert_false(devcrt.ca_istrue);

	struct flt_cert_info ci;
	assert_int_equal(flt_pki_cert_info((const uint8_t *)dev, strlen(dev), &ci), FLT_OK);
	assert_string_equal(ci.cn, "dev-01");
	assert_int_equal(ci.not_before, NOW - 60);
	assert_int_equal(ci.not_after, NOW + 86400);
	char hex[FLT_PKI_SERIAL_HEX + 1];
	assert_int_equal(flt_hex_encode(serial, sizeof serial, hex, sizeof hex), FLT_OK);
	assert_string_equal(ci.serial_hex, hex);

	/* A certificate from another CA does not chain. */
	struct ca other;
	make_ca(&other);
	char *rogue = issue(&other, FLT_CERT_CLIENT, "dev-01", NULL, NULL);
	mbedtls_x509_crt roguecrt;
	parse(rogue, &roguecrt);
	assert_int_not_equal(
	    mbedtls_x509_crt_verify(&roguecrt, &cacrt, NULL, NULL, &flags, NULL, NULL), 0);

	/* Bad specs. */
	char *out = NULL;
	size_t len;
	struct flt_cert_spec bad = {
	    .kind = FLT_CERT_CLIENT, .cn = "a,b=c", .not_before = NOW, .not_after = NOW + 1};
	assert_int_equal(flt_pki_cert_issue(ca.key, ca.cert, ca.key, &bad, &out, &len), FLT_EINVAL);
	bad.cn = "ok";
	bad.not_after = NOW;
	assert_int_equal(flt_pki_cert_issue(ca.key, ca.cert, ca.key, &bad, &out, &len), FLT_EINVAL);
	bad.not_after = NOW + 1;
	assert_int_equal(flt_pki_cert_issue("junk", ca.cert, ca.key, &bad, &out, &len), FLT_EPARSE);

	mbedtls_x509_crt_free(&roguecrt);
	mbedtls_x509_crt_free(&cacrt);
	mbedtls_x509_crt_free(&devcrt);
	mbedtls_x509_crt_free(&srvcrt);
	flt_free(rogue);
	flt_free(other.key);
	flt_free(other.cert);
	flt_free(dev);
	flt_free(srv);
	flt_free(ca.key);
	flt_free(ca.cert);
}

static int run(const char *cmd)
{
	int st = system(cmd);
	return st == -1 ? -1 : WEXITSTATUS(st);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(s, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_crl(void **state)
{
	(void)state;
	struct ca ca;
	make_ca(&ca);
	uint8_t s1[FLT_PKI_SERIAL_LEN], s2[FLT_PKI_SERIAL_LEN];
	char *c1 = issue(&ca, FLT_CERT_CLIENT, "dev-a", s1, NULL);
	char *c2 = issue(&ca, FLT_CERT_CLIENT, "dev-b", s2, NULL);

	/* Empty CRL with the far-off next update (a GeneralizedTime). */
	char *empty = NULL, *crl = NULL;
	size_t len;
	assert_int_equal(flt_pki_crl_build(ca.key, ca.cert, 1, NOW, FLT_PKI_CRL_NEXT_UPDATE, NULL,
	                                   0, &empty, &len),
	                 FLT_OK);
	assert_int_equal(strlen(empty), len);
	mbedtls_x509_crl x;
	mbedtls_x509_crl_init(&x);
	assert_int_equal(mbedtls_x509_crl_parse(&x, (const unsigned char *)empty, len + 1), 0);
	assert_int_equal(x.version, 2);
	assert_int_equal(x.next_update.year, 9999);
	assert_int_equal(x.entry.serial.len, 0);
	mbedtls_x509_crl_free(&x);

	struct flt_crl_entry e = {.revoked_at = NOW};
	memcpy(e.serial, s1, sizeof s1);
	assert_int_equal(
	    flt_pki_crl_build(ca.key, ca.cert, 2, NOW, FLT_PKI_CRL_NEXT_UPDATE, &e, 1, &crl, &len),
	    FLT_OK);
	mbedtls_x509_crl_init(&x);
	assert_int_equal(mbedtls_x509_crl_parse(&x, (const unsigned char *)crl, len + 1), 0);
	assert_int_equal(x.entry.serial.len, FLT_PKI_SERIAL_LEN);
	assert_memory_equal(x.entry.serial.p, s1, FLT_PKI_SERIAL_LEN);
	assert_null(x.entry.next);

	/* mbedTLS: dev-a is revoked under this CRL, dev-b is not; the CRL's
	 * signature checks against the CA (a bad one makes verify fail). */
	mbedtls_x509_crt cacrt, a, b;
	parse(ca.cert, &cacrt);
	parse(c1, &a);
	parse(c2, &b);
	uint32_t flags = 0;
	assert_int_not_equal(mbedtls_x509_crt_verify(&a, &cacrt, &x, NULL, &flags, NULL, NULL), 0);
	assert_true(flags & MBEDTLS_X509_BADCERT_REVOKED);
	flags = 0;
	assert_int_equal(mbedtls_x509_crt_verify(&b, &cacrt, &x, NULL, &flags, NULL, NULL), 0);
	mbedtls_x509_crl_free(&x);

	/* OpenSSL reads it, and verify with the CRL refuses dev-a only. Under
	 * qemu-user (cross test runs) a child shell may not work: the probe says. */
	char dir[256], path[512], cmd[2048];
	if (run("exit 7") != 7) {
		print_message("no working shell here: OpenSSL checks skipped\n");
		goto done;
	}
	assert_int_equal(tu_mkdtemp(dir, sizeof dir, "pki"), 0);
	snprintf(path, sizeof path, "%s/ca.pem", dir);
	write_file(path, ca.cert);
	snprintf(path, sizeof path, "%s/crl.pem", dir);
	write_file(path, crl);
	snprintf(path, sizeof path, "%s/empty.pem", dir);
	write_file(path, empty);
	snprintf(path, sizeof path, "%s/a.pem", dir);
	write_file(path, c1);
	snprintf(path, sizeof path, "%s/b.pem", dir);
	write_file(path, c2);
	char hex[FLT_PKI_SERIAL_HEX + 1];
	assert_int_equal(flt_hex_encode(s1, sizeof s1, hex, sizeof hex), FLT_OK);
	for (char *h = hex; *h; h++)
		if (*h >= 'a' && *h <= 'f')
			*h = (char)(*h - 'a' + 'A');
	snprintf(
	    cmd, sizeof cmd,
	    "openssl crl -in %s/crl.pem -noout -CAfile %s/ca.pem 2>&1 | grep -q 'verify OK' &&"
	    " openssl crl -in %s/crl.pem -noout -text > %s/crl.txt 2>&1 &&"
	    " grep -q 'Serial Number: %s' %s/crl.txt && grep -q 'X509v3 CRL Number' %s/crl.txt",
	    dir, dir, dir, dir, hex, dir, dir);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof cmd,
	         "openssl crl -in %s/empty.pem -noout -text -CAfile %s/ca.pem 2>&1 | grep -q "
	         "'verify OK'",
	         dir, dir);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof cmd,
	         "openssl verify -crl_check -CAfile %s/ca.pem -CRLfile %s/crl.pem %s/a.pem "
	         ">/dev/null 2>&1",
	         dir, dir, dir);
	assert_int_not_equal(run(cmd), 0);
	snprintf(cmd, sizeof cmd,
	         "openssl verify -crl_check -CAfile %s/ca.pem -CRLfile %s/crl.pem %s/b.pem "
	         ">/dev/null 2>&1",
	         dir, dir, dir);
	assert_int_equal(run(cmd), 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(run(cmd), 0);

done:
	assert_int_equal(flt_pki_crl_build(ca.key, ca.cert, 3, NOW, NOW, NULL, 0, &crl, &len),
	                 FLT_EINVAL);

	mbedtls_x509_crt_free(&cacrt);
	mbedtls_x509_crt_free(&a);
	mbedtls_x509_crt_free(&b);
	flt_free(empty);
	flt_free(crl);
	flt_free(c1);
	flt_free(c2);
	flt_free(ca.key);
	flt_free(ca.cert);
}

int main(void)
{
	NOW = (int64_t)time(NULL);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_and_fields),
	    cmocka_unit_test(test_crl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
