/* Whole-file helpers: atomic replace, bounded read, mkdir -p and read-only maps.
 * All writes go through the failpoint wrapper, so crash tests cover them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/fileio.h"

static atomic_uint tmp_counter;

/* Splits PATH into directory and base name; false if too long or empty base. */
static bool split_path(const char *path, char *dir, size_t dlen, const char **base)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, dlen, ".");
		*base = path;
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= dlen)
			return false;
		memcpy(dir, path, n);
		dir[n] = '\0';
		*base = slash + 1;
	}
	return **base != '\0';
}

static void fpname(char *buf, size_t n, const char *fp, const char *dflt, const char *step)
{
	snprintf(buf, n, "%s.%s", fp ? fp : dflt, step);
}

flt_err flt_file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                              const char *fp)
{
	char dir[PATH_MAX], tmp[PATH_MAX], name[160];
	const char *base;
	int fd = -1;
	bool tmp_exists = false;
	flt_err e;

	if (!path || !split_path(path, dir, sizeof(dir), &base))
		return FLT_EINVAL;
	for (int tries = 0;; tries++) {
		unsigned n = atomic_fetch_add(&tmp_counter, 1);
		int k =
		    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp-%ld-%u", dir, base, (long)getpid(), n);
		if (k < 0 || (size_t)k >= sizeof(tmp))
			return FLT_EINVAL;
		fpname(name, sizeof(name), fp, "atomic", "open");
		e = flt_fio_open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode & 07777, &fd, name);
		/* A leftover of an earlier process with our pid: take the next number. */
		if (e != FLT_ECONFLICT || tries == 8)
			break;
	}
	if (e)
		goto out;
	tmp_exists = true;
	if (fchmod(fd, mode & 07777) != 0) {
		e = FLT_EIO;
		goto out;
	}
	fpname(name, sizeof(name), fp, "atomic", "write");
	e = flt_fio_write(fd, data, len, name);
	if (e)
		goto out;
	fpname(name, sizeof(name), fp, "atomic", "fsync");
	e = flt_fio_fsync(fd, name);
	if (e)
		goto out;
	fpname(name, sizeof(name), fp, "atomic", "close");
	e = flt_fio_close(fd, name);
	fd = -1;
	if (e)
		goto out;
	fpname(name, sizeof(name), fp, "atomic", "rename");
	e = flt_fio_rename(tmp, path, name);
	if (e)
		goto out;
	tmp_exists = false;
	fpname(name, sizeof(name), fp, "atomic", "dirsync");
	e = flt_fio_fsync_dir(dir, name);
out:
	if (fd >= 0)
		(void)flt_fio_close(fd, NULL);
	if (tmp_exists)
		(void)!flt_fio_unlink(tmp, NULL);
	return e;
}

size_t flt_file_remove_stale_temps(const char *path)
{
	char dir[PATH_MAX], prefix[NAME_MAX + 8];
	const char *base;
	size_t removed = 0;

	if (!path || !split_path(path, dir, sizeof(dir), &base))
		return 0;
	int pl = snprintf(prefix, sizeof(prefix), ".%s.tmp-", base);
	if (pl < 0 || (size_t)pl >= sizeof(prefix))
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, prefix, (size_t)pl) != 0)
			continue;
		char p[PATH_MAX];
		int k = snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (k > 0 && (size_t)k < sizeof(p) && flt_fio_unlink(p, NULL) == FLT_OK)
			removed++;
	}
	closedir(d);
	if (removed)
		(void)!flt_fio_fsync_dir(dir, NULL);
	return removed;
}

flt_err flt_file_read_all(const char *path, size_t max, uint8_t **out, size_t *lenp, const char *fp)
{
	char name[160];
	int fd = -1;
	uint8_t *buf = NULL;
	struct stat st;
	flt_err e;

	fpname(name, sizeof(name), fp, "readfile", "open");
	e = flt_fio_open(path, O_RDONLY, 0, &fd, name);
	if (e)
		goto out;
	if (fstat(fd, &st) != 0) {
		e = FLT_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = FLT_EINVAL;
		goto out;
	}
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	if ((uintmax_t)st.st_size > max) {
		e = FLT_ELIMIT;
		goto out;
	}
	/* Read one byte past the expected size so a file that grew is noticed. */
	size_t cap = (size_t)st.st_size + 1, got;
	buf = flt_malloc(cap + 1);
	if (!buf) {
		e = FLT_ENOMEM;
		goto out;
	}
	fpname(name, sizeof(name), fp, "readfile", "read");
	e = flt_fio_read(fd, buf, cap, &got, name);
	if (e)
		goto out;
	if (got > max) {
		e = FLT_ELIMIT;
		goto out;
	}
	if (got == cap) {
		/* Grew between fstat and read: refuse rather than return a torn view. */
		e = FLT_EIO;
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*lenp = got;
	buf = NULL;
out:
	flt_free(buf);
	(void)flt_fio_close(fd, NULL);
	return e;
}

flt_err flt_file_mkdirs(const char *path, mode_t mode, const char *fp)
{
	char buf[PATH_MAX], n_mk[160], n_sync[160];
	size_t len;
	struct stat st;

	if (!path || (len = strlen(path)) == 0 || len >= sizeof(buf))
		return FLT_EINVAL;
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	fpname(n_mk, sizeof(n_mk), fp, "mkdirs", "mkdir");
	fpname(n_sync, sizeof(n_sync), fp, "mkdirs", "dirsync");
	/* Walk forward creating each component; existing ones are skipped. */
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue; /* "a//b" */
		char saved = buf[i];
		buf[i] = '\0';
		if (stat(buf, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return FLT_ECONFLICT;
		} else if (errno != ENOENT) {
			return flt_err_from_errno(errno) == FLT_EAUTH ? FLT_EAUTH : FLT_EIO;
		} else {
			flt_err e = flt_fio_mkdir(buf, mode, n_mk);
			if (e == FLT_ECONFLICT) /* raced with another creator */
				e = FLT_OK;
			if (!e)
				e = flt_fio_fsync_parent(buf, n_sync);
			if (e)
				return e;
		}
		buf[i] = saved;
	}
	return FLT_OK;
}

static const uint8_t empty_map[1];

flt_err flt_file_map(const char *path, struct flt_file_map *map)
{
	int fd = -1;
	struct stat st;
	flt_err e;

	e = flt_fio_open(path, O_RDONLY, 0, &fd, NULL);
	if (e)
		return e;
	if (fstat(fd, &st) != 0) {
		e = FLT_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = FLT_EINVAL;
		goto out;
	}
	if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX / 2) {
		e = FLT_ELIMIT;
		goto out;
	}
	if (st.st_size == 0) {
		map->data = empty_map;
		map->size = 0;
		map->map_len_ = 0;
		goto out;
	}
	size_t n = (size_t)st.st_size;
	void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		e = errno == ENOMEM ? FLT_ENOMEM : FLT_EIO;
		goto out;
	}
	map->data = p;
	map->size = n;
	map->map_len_ = n;
out:
	(void)flt_fio_close(fd, NULL);
	return e;
}

void flt_file_unmap(struct flt_file_map *map)
{
	if (!map)
		return;
	if (map->map_len_ && map->data)
		munmap((void *)(uintptr_t)map->data, map->map_len_);
	map->data = NULL;
	map->size = 0;
	map->map_len_ = 0;
}
