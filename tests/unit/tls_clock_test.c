/* Unit tests for the agent's handshake clock check: a clock before the
 * certificates' validity (a board booted in 1970) is CLOCK_UNSYNCED, after it
 * EXPIRED, inside it NONE; dates are read from real PEM files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/pki.h"
#include "flt/tls_clock.h"
#include "sys_testutil.h"

static void test_verdict(void **state)
{
	(void)state;
	struct flt_cert_window w[2] = {{1000, 2000}, {500, 5000}};
	assert_int_equal(flt_tls_clock_verdict(1500, w, 2), FLT_REASON_NONE);
	assert_int_equal(flt_tls_clock_verdict(0, w, 2), FLT_REASON_CLOCK_UNSYNCED);
	assert_int_equal(flt_tls_clock_verdict(999, w, 2), FLT_REASON_CLOCK_UNSYNCED);
	assert_int_equal(flt_tls_clock_verdict(2001, w, 2), FLT_REASON_EXPIRED);
	assert_int_equal(flt_tls_clock_verdict(600, w, 2), FLT_REASON_CLOCK_UNSYNCED);
	assert_int_equal(flt_tls_clock_verdict(0, w, 0), FLT_REASON_NONE);
}

static void test_files(void **state)
{
	(void)state;
	char dir[256], cert[300], ca[300], junk[300];
	char *key = NULL, *pem = NULL, *capem = NULL;
	size_t len;
	const int64_t nb = 1764720000, na = nb + 86400 * 30; /* Dec 2025 .. Jan 2026 */
	assert_int_equal(tu_mkdtemp(dir, sizeof dir, "tlsclock"), 0);
	struct flt_cert_spec s = {
	    .kind = FLT_CERT_CA, .cn = "ca", .not_before = nb - 86400, .not_after = na + 86400};
	assert_int_equal(flt_pki_serial_new(s.serial), FLT_OK);
	assert_int_equal(flt_pki_key_new(&key, &len), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, NULL, key, &s, &capem, &len), FLT_OK);
	struct flt_cert_spec d = {
	    .kind = FLT_CERT_CLIENT, .cn = "dev", .not_before = nb, .not_after = na};
	assert_int_equal(flt_pki_serial_new(d.serial), FLT_OK);
	assert_int_equal(flt_pki_cert_issue(key, capem, key, &d, &pem, &len), FLT_OK);
	snprintf(cert, sizeof cert, "%s/device.pem", dir);
	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	snprintf(junk, sizeof junk, "%s/junk.pem", dir);
	assert_int_equal(flt_file_write_atomic(cert, pem, strlen(pem), 0644, NULL), FLT_OK);
	assert_int_equal(flt_file_write_atomic(ca, capem, strlen(capem), 0644, NULL), FLT_OK);
	assert_int_equal(flt_file_write_atomic(junk, "nope", 4, 0644, NULL), FLT_OK);

	struct flt_cert_window w;
	assert_int_equal(flt_tls_cert_window_read(cert, &w), FLT_OK);
	assert_int_equal(w.not_before, nb);
	assert_int_equal(w.not_after, na);
	assert_int_equal(flt_tls_cert_window_read(junk, &w), FLT_EPARSE);
	assert_int_equal(flt_tls_cert_window_read("/nonexistent/x.pem", &w), FLT_ENOTFOUND);

	enum flt_reason r;
	flt_tls_clock_diagnose(cert, ca, 0, &r); /* booted in 1970 */
	assert_int_equal(r, FLT_REASON_CLOCK_UNSYNCED);
	flt_tls_clock_diagnose(cert, ca, nb + 10, &r);
	assert_int_equal(r, FLT_REASON_NONE);
	flt_tls_clock_diagnose(cert, ca, na + 3600, &r); /* device cert expired, CA not */
	assert_int_equal(r, FLT_REASON_EXPIRED);
	flt_tls_clock_diagnose(junk, NULL, 0, &r); /* nothing readable: no verdict */
	assert_int_equal(r, FLT_REASON_NONE);

	flt_free(key);
	flt_free(pem);
	flt_free(capem);
	tu_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_verdict),
	    cmocka_unit_test(test_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
