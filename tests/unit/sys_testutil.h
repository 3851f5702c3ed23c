/* Helpers for the common/sys tests: scratch directories and raw file access that
 * bypasses the wrapper under test. */
#ifndef FLT_SYS_TESTUTIL_H
#define FLT_SYS_TESTUTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); path written into BUF. */
static inline int tu_mkdtemp(char *buf, size_t n, const char *tag)
{
	const char *t = getenv("TMPDIR");
	snprintf(buf, n, "%s/flt-%s-XXXXXX", t && *t ? t : "/tmp", tag);
	return mkdtemp(buf) ? 0 : -1;
}

static inline void tu_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char c[4096];
			int k = snprintf(c, sizeof(c), "%s/%s", path, de->d_name);
			if (k > 0 && (size_t)k < sizeof(c))
				tu_rmtree(c);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

/* Writes a file with plain syscalls and makes it and its name durable. */
static inline int tu_write(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	ssize_t k = write(fd, data, len);
	int rc = (k == (ssize_t)len && fsync(fd) == 0) ? 0 : -1;
	close(fd);
	return rc;
}

/* Reads up to N bytes; returns bytes read or -1 (no file). */
static inline long tu_read(const char *path, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	size_t got = 0;
	for (;;) {
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
		if (got == n)
			break;
	}
	close(fd);
	return (long)got;
}

static inline int tu_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Entries in DIR other than . and .. */
static inline int tu_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* fork() through the raw system call: glibc 2.36's fork() crashes (armhf) or hangs
 * (aarch64) in the child under the qemu-user 7.2 the cross tests run on. Fine for
 * these single-threaded test processes. */
static inline pid_t tu_fork(void)
{
	return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

/* Waits for PID: returns the signal that killed it, or 1000 + exit status. */
static inline int tu_wait(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0)
		;
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return 1000 + WEXITSTATUS(st);
}

#endif
