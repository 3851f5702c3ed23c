/* The agent's clock check after a failed TLS handshake: compares the clock
 * with the validity of its own certificate and of the fleet CA. */
#include <string.h>
#include <time.h>

#include <mbedtls/x509_crt.h>

#define FLT_LOG_MODULE "tls-clock"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/log.h"
#include "flt/tls_clock.h"

#define CERT_FILE_MAX (256u * 1024u)

enum flt_reason flt_tls_clock_verdict(int64_t now, const struct flt_cert_window *w, size_t n)
{
	enum flt_reason r = FLT_REASON_NONE;
	for (size_t i = 0; w && i < n; i++) {
		if (now < w[i].not_before)
			return FLT_REASON_CLOCK_UNSYNCED; /* behind wins: fix the clock first */
		if (now > w[i].not_after)
			r = FLT_REASON_EXPIRED;
	}
	return r;
}

static int64_t unix_of(const mbedtls_x509_time *t)
{
	/* Days from civil date (proleptic Gregorian), no timegm/TZ dependence. */
	int64_t y = t->year, m = t->mon, d = t->day;
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

flt_err flt_tls_cert_window_read(const char *path, struct flt_cert_window *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	mbedtls_x509_crt crt;
	if (!path || !out)
		return FLT_EINVAL;
	flt_err e = flt_file_read_all(path, CERT_FILE_MAX, &buf, &len, "agent.tls_clock");
	if (e)
		return e;
	mbedtls_x509_crt_init(&crt);
	/* buf is NUL-terminated past len: PEM wants the NUL counted. */
	int rc = mbedtls_x509_crt_parse(&crt, buf, len + 1);
	if (rc < 0 || crt.version == 0) {
		e = FLT_EPARSE;
	} else {
		out->not_before = unix_of(&crt.valid_from);
		out->not_after = unix_of(&crt.valid_to);
	}
	mbedtls_x509_crt_free(&crt);
	flt_free(buf);
	return e;
}

void flt_tls_clock_diagnose(const char *cert_file, const char *ca_file, int64_t now,
                            enum flt_reason *out)
{
	struct flt_cert_window w[2];
	size_t n = 0;
	const char *files[2] = {cert_file, ca_file};
	for (int i = 0; i < 2; i++) {
		if (!files[i])
			continue;
		flt_err e = flt_tls_cert_window_read(files[i], &w[n]);
		if (e == FLT_OK)
			n++;
		else
			flt_log_warn("cannot read the validity of %s: %s", files[i],
			             flt_strerror(e));
	}
	*out = flt_tls_clock_verdict(now, w, n);
}
