/* Explains a failed TLS handshake on the device: when the clock is outside
 * the validity of the device's certificate or the fleet CA (a board without
 * a real-time clock boots in 1970), the failure is the clock, reported as
 * CLOCK_UNSYNCED, not a bad certificate. Dates are read with mbedTLS. */
#ifndef FLT_TLS_CLOCK_H
#define FLT_TLS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/reason.h"

struct flt_cert_window {
	int64_t not_before; /* Unix seconds */
	int64_t not_after;
};

/* Pure: the verdict for `now` against n windows (device certificate, CA, ...):
 * CLOCK_UNSYNCED when now is before any not_before (the clock is behind),
 * EXPIRED when now is after any not_after (a certificate really expired, or
 * the clock runs far ahead: both need an operator), NONE when every window
 * holds now (the failure is not the clock). n == 0 gives NONE. */
enum flt_reason flt_tls_clock_verdict(int64_t now, const struct flt_cert_window *w, size_t n);

/* Reads the validity of the first certificate in a PEM file. FLT_ENOTFOUND,
 * FLT_EPARSE (no certificate), FLT_EIO, FLT_ENOMEM. *out set on success. */
FLT_WUR flt_err flt_tls_cert_window_read(const char *path, struct flt_cert_window *out);

/* flt_tls_clock_verdict over the certificate and CA files (either may be
 * NULL). A file that cannot be read is left out (the handshake error then
 * stands on its own). Always sets *out. */
void flt_tls_clock_diagnose(const char *cert_file, const char *ca_file, int64_t now,
                            enum flt_reason *out);

#endif
