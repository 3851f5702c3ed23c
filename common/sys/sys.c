/* Random bytes, clocks and free disk space: the few system facts the daemons
 * need, behind FLT_HAVE_X checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "flt/config.h"
#include "flt/sys.h"

#ifdef FLT_HAVE_GETRANDOM
#include <sys/random.h>
#endif

flt_err flt_sys_random(void *buf, size_t len)
{
	unsigned char *p = buf;
#ifdef FLT_HAVE_GETRANDOM
	while (len) {
		ssize_t k = getrandom(p, len, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ENOSYS)
			break; /* old kernel or emulator: fall back to the device */
		if (k <= 0)
			return FLT_EIO;
		p += k;
		len -= (size_t)k;
	}
	if (!len)
		return FLT_OK;
#endif
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return FLT_EIO;
	while (len) {
		ssize_t k = read(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			close(fd);
			return FLT_EIO;
		}
		p += k;
		len -= (size_t)k;
	}
	close(fd);
	return FLT_OK;
}

uint64_t flt_sys_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t flt_sys_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + (int64_t)ts.tv_nsec / 1000000;
}

flt_err flt_sys_disk_free(const char *path, uint64_t *bytes)
{
	struct statvfs sv;
	if (statvfs(path, &sv) != 0) {
		flt_err e = flt_err_from_errno(errno);
		return e == FLT_ENOTFOUND || e == FLT_EAUTH ? e : FLT_EIO;
	}
	uint64_t bs = sv.f_frsize ? sv.f_frsize : sv.f_bsize;
	uint64_t n = (uint64_t)sv.f_bavail;
	*bytes = bs && n > UINT64_MAX / bs ? UINT64_MAX : n * bs;
	return FLT_OK;
}
