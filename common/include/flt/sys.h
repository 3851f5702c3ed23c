/* Small system helpers the daemons share: secure random bytes, clocks in
 * milliseconds, free disk space. */
#ifndef FLT_SYS_H
#define FLT_SYS_H

#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"

/* Fills BUF with LEN bytes from the kernel's CSPRNG (getrandom, or /dev/urandom
 * where getrandom is missing). Blocks only until the pool is first initialised.
 * FLT_EIO if the source fails. */
flt_err flt_sys_random(void *buf, size_t len) FLT_WUR;

/* Monotonic milliseconds (CLOCK_MONOTONIC) for deadlines and intervals; the origin
 * is arbitrary. Never goes back. */
uint64_t flt_sys_mono_ms(void);

/* Wall-clock milliseconds since the Unix epoch (CLOCK_REALTIME), for timestamps
 * and certificate/manifest expiry. May jump when the clock is set. */
int64_t flt_sys_wall_ms(void);

/* Bytes available to an unprivileged user on the filesystem holding PATH
 * (statvfs f_bavail * f_frsize, saturating). *BYTES set only on success.
 * FLT_ENOTFOUND, FLT_EAUTH, FLT_EIO. */
flt_err flt_sys_disk_free(const char *path, uint64_t *bytes) FLT_WUR;

#endif
