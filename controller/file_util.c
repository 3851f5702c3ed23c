/* File helpers for the registry: capped whole-file reads and atomic writes.
 * (Moves to flt/atomicfile.h from common/sys once that lands on main.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_util.h"
#include "flt/alloc.h"

flt_err fu_read_file(const char *path, uint64_t max, unsigned char **buf, size_t *len, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *b = NULL;
	struct stat sb;
	flt_err e;
	if (fd < 0) {
		if (why)
			*why = strerror(errno);
		return errno == EACCES ? FLT_EAUTH : flt_err_from_errno(errno);
	}
	if (fstat(fd, &sb) != 0) {
		e = FLT_EIO;
		if (why)
			*why = strerror(errno);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		e = FLT_EINVAL;
		if (why)
			*why = "not a regular file";
		goto out;
	}
	if ((uint64_t)sb.st_size > max || (uint64_t)sb.st_size >= (uint64_t)SIZE_MAX) {
		e = FLT_ELIMIT;
		if (why)
			*why = "file too large";
		goto out;
	}
	size_t n = (size_t)sb.st_size, got = 0;
	b = flt_malloc(n + 1);
	if (!b) {
		e = FLT_ENOMEM;
		if (why)
			*why = "out of memory";
		goto out;
	}
	while (got < n) {
		ssize_t k = read(fd, b + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			e = FLT_EIO;
			if (why)
				*why = k < 0 ? strerror(errno) : "file shrank while reading";
			goto out;
		}
		got += (size_t)k;
	}
	b[n] = 0;
	*buf = b;
	*len = n;
	b = NULL;
	e = FLT_OK;
out:
	flt_free(b);
	close(fd);
	return e;
}

flt_err fu_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return flt_err_from_errno(errno);
	int rc = fsync(fd);
	int err = errno;
	close(fd);
	return rc == 0 ? FLT_OK : flt_err_from_errno(err);
}

flt_err fu_write_atomic(const char *path, const void *buf, size_t len, unsigned mode)
{
	size_t plen = strlen(path);
	char *tmp = flt_malloc(plen + 16), *dir = NULL;
	int fd = -1;
	flt_err e = FLT_ENOMEM;
	if (!tmp)
		return FLT_ENOMEM;
	snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
	fd = mkstemp(tmp);
	if (fd < 0) {
		e = flt_err_from_errno(errno);
		tmp[0] = '\0';
		goto out;
	}
	if (fchmod(fd, (mode_t)mode) != 0) {
		e = flt_err_from_errno(errno);
		goto out;
	}
	const unsigned char *p = buf;
	size_t done = 0;
	while (done < len) {
		ssize_t k = write(fd, p + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			e = flt_err_from_errno(errno);
			goto out;
		}
		done += (size_t)k;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		e = flt_err_from_errno(errno);
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		e = flt_err_from_errno(errno);
		goto out;
	}
	tmp[0] = '\0';
	dir = flt_strdup(path);
	if (!dir) {
		e = FLT_ENOMEM;
		goto out;
	}
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		memcpy(dir, ".", 2);
	e = fu_fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	flt_free(tmp);
	flt_free(dir);
	return e;
}

flt_err fu_mkdir_p(const char *path)
{
	char *tmp = flt_strdup(path);
	if (!tmp)
		return FLT_ENOMEM;
	flt_err e = FLT_OK;
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(tmp, 0750) != 0 && errno != EEXIST) {
				e = flt_err_from_errno(errno);
				break;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	flt_free(tmp);
	return e;
}
