/* The file-I/O wrapper: a failpoint check, then the system call. While a test has
 * tracking on, it also keeps what a simulated power cut must undo: old bytes of
 * overwritten ranges and synced lengths per file (by inode), and the name
 * operations not yet covered by a directory fsync. Model: flt/failpoint.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLT_LOG_MODULE "fileio"
#include "flt/alloc.h"
#include "flt/config.h"
#include "flt/failpoint.h"
#include "flt/fileio.h"
#include "flt/log.h"

#include "fio_track.h"

#define UNDO_MAX_BYTES ((size_t)128 << 20)
#define FILES_MAX      256
#define FD_OPS_MAX     256
#define OPS_MAX        4096

struct undo {
	struct undo *next; /* older record */
	off_t off;
	size_t len;
	unsigned char data[];
};

/* A file with writes not yet synced. FD is our own duplicate, so the inode
 * stays alive (and its number unique) after the caller closes or unlinks it. */
struct frec {
	struct frec *next;
	dev_t dev;
	ino_t ino;
	int fd;
	off_t durable;     /* length at the last sync */
	struct undo *undo; /* newest first */
};

enum ns_kind { NS_CREATE, NS_MKDIR, NS_RENAME, NS_UNLINK, NS_RMDIR };
enum old_kind { OLD_NONE, OLD_FILE, OLD_SYMLINK, OLD_DIR };

/* A name operation not yet made durable by fsync of its directory (or both). */
struct nsop {
	struct nsop *next; /* older operation */
	enum ns_kind kind;
	char *path; /* absolute: created/removed name, or rename target */
	char *from; /* rename source */
	int ndirs;
	dev_t ddev[2];
	ino_t dino[2];
	bool synced[2];
	/* what PATH held before a rename over it, an unlink or an rmdir */
	enum old_kind old;
	int old_fd;
	mode_t old_mode;
	char *old_link;
};

static pthread_mutex_t tr_lock = PTHREAD_MUTEX_INITIALIZER;
static struct frec *frecs;
static size_t nfrecs;
static struct nsop *nsops;
static size_t nnsops, nfdops;
static size_t undo_bytes;
static bool lossy;

/* ---- tracking bookkeeping (all under tr_lock) ------------------------------ */

static bool track_begin(void)
{
	fp_ensure_init();
	if (!fp_tracking_on())
		return false;
	pthread_mutex_lock(&tr_lock);
	return true;
}

static void track_end(void)
{
	pthread_mutex_unlock(&tr_lock);
}

static void mark_lossy(const char *why)
{
	if (!lossy)
		flt_log_warn("power-cut tracking incomplete from here on: %s", why);
	lossy = true;
}

static void frec_free(struct frec *r)
{
	struct undo *u = r->undo;
	while (u) {
		struct undo *n = u->next;
		undo_bytes -= u->len;
		flt_free(u);
		u = n;
	}
	if (r->fd >= 0)
		close(r->fd);
	flt_free(r);
}

static struct frec *frec_find(dev_t dev, ino_t ino, struct frec ***link)
{
	struct frec **pp = &frecs;
	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->dev == dev && (*pp)->ino == ino) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

/* The record for FD's file, created with durable length DURABLE (or the current
 * length if DURABLE < 0) when absent. NULL (and lossy) when it cannot be kept. */
static struct frec *frec_get(int fd, off_t durable, struct stat *st)
{
	if (fstat(fd, st) != 0)
		return NULL;
	if (!S_ISREG(st->st_mode))
		return NULL;
	struct frec *r = frec_find(st->st_dev, st->st_ino, NULL);
	if (r)
		return r;
	if (nfrecs >= FILES_MAX) {
		mark_lossy("too many files with unsynced data");
		return NULL;
	}
	r = flt_calloc(1, sizeof(*r));
	if (!r) {
		mark_lossy("out of memory");
		return NULL;
	}
	r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r->fd < 0) {
		flt_free(r);
		mark_lossy("cannot duplicate descriptor");
		return NULL;
	}
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->durable = durable >= 0 ? durable : st->st_size;
	r->next = frecs;
	frecs = r;
	nfrecs++;
	return r;
}

/* Saves the bytes of [off, off+len) that lie inside the synced length, before
 * they are overwritten or cut off. */
static void save_range(struct frec *r, off_t off, size_t len)
{
	if (off >= r->durable || len == 0)
		return;
	size_t n = (uintmax_t)(r->durable - off) < len ? (size_t)(r->durable - off) : len;
	if (n > UNDO_MAX_BYTES - undo_bytes) {
		mark_lossy("more than 128 MiB of unsynced overwrites");
		return;
	}
	struct undo *u = flt_malloc(sizeof(*u) + n);
	if (!u) {
		mark_lossy("out of memory");
		return;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(r->fd, u->data + got, n - got, off + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			flt_free(u);
			mark_lossy("cannot read old bytes (descriptor not readable?)");
			return;
		}
		if (k == 0)
			break; /* past EOF: an older shrink record holds these bytes */
		got += (size_t)k;
	}
	u->off = off;
	u->len = got;
	u->next = r->undo;
	r->undo = u;
	undo_bytes += got;
}

static void file_synced(int fd)
{
	struct stat st;
	struct frec **link = NULL;
	if (fstat(fd, &st) != 0)
		return;
	struct frec *r = frec_find(st.st_dev, st.st_ino, &link);
	if (!r)
		return;
	*link = r->next;
	nfrecs--;
	frec_free(r);
}

static void nsop_free(struct nsop *op)
{
	if (op->old_fd >= 0) {
		close(op->old_fd);
		nfdops--;
	}
	flt_free(op->path);
	flt_free(op->from);
	flt_free(op->old_link);
	flt_free(op);
}

/* PATH made absolute against the working directory, so a later chdir does not
 * change what a power cut touches. */
static char *abs_path(const char *path)
{
	if (path[0] == '/')
		return flt_strdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	size_t n = strlen(cwd) + 1 + strlen(path) + 1;
	char *p = flt_malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", cwd, path);
	return p;
}

static bool parent_id(const char *path, dev_t *dev, ino_t *ino)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof(dir))
			return false;
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (stat(dir, &st) != 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* A new operation on PATH (and FROM for a rename), not yet linked in. */
static struct nsop *nsop_new(enum ns_kind kind, const char *path, const char *from)
{
	if (nnsops >= OPS_MAX) {
		mark_lossy("too many name operations without a directory fsync");
		return NULL;
	}
	struct nsop *op = flt_calloc(1, sizeof(*op));
	if (!op)
		goto fail;
	op->kind = kind;
	op->old_fd = -1;
	op->path = abs_path(path);
	if (!op->path)
		goto fail;
	if (from) {
		op->from = abs_path(from);
		if (!op->from)
			goto fail;
	}
	if (!parent_id(op->path, &op->ddev[0], &op->dino[0]))
		goto fail;
	op->ndirs = 1;
	if (from) {
		if (!parent_id(op->from, &op->ddev[1], &op->dino[1]))
			goto fail;
		if (op->ddev[1] != op->ddev[0] || op->dino[1] != op->dino[0])
			op->ndirs = 2;
	}
	return op;
fail:
	if (op)
		nsop_free(op);
	mark_lossy("cannot record a name operation");
	return NULL;
}

/* Remembers what PATH holds now, to bring it back if the operation is undone. */
static void nsop_capture_old(struct nsop *op, const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	op->old_mode = st.st_mode & 07777;
	if (S_ISREG(st.st_mode)) {
		if (nfdops >= FD_OPS_MAX) {
			mark_lossy("too many replaced files without a directory fsync");
			return;
		}
		op->old_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (op->old_fd < 0) {
			mark_lossy("cannot keep a replaced file");
			return;
		}
		nfdops++;
		op->old = OLD_FILE;
	} else if (S_ISLNK(st.st_mode)) {
		char buf[PATH_MAX];
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);
		if (n < 0)
			return;
		buf[n] = '\0';
		op->old_link = flt_strdup(buf);
		if (op->old_link)
			op->old = OLD_SYMLINK;
	} else if (S_ISDIR(st.st_mode)) {
		op->old = OLD_DIR;
	}
}

static void nsop_push(struct nsop *op)
{
	op->next = nsops;
	nsops = op;
	nnsops++;
}

static void dir_synced(int dfd)
{
	struct stat st;
	if (fstat(dfd, &st) != 0)
		return;
	struct nsop **pp = &nsops;
	while (*pp) {
		struct nsop *op = *pp;
		bool all = true;
		for (int i = 0; i < op->ndirs; i++) {
			if (op->ddev[i] == st.st_dev && op->dino[i] == st.st_ino)
				op->synced[i] = true;
			all &= op->synced[i];
		}
		if (all) {
			*pp = op->next;
			nnsops--;
			nsop_free(op);
		} else {
			pp = &op->next;
		}
	}
}

void fio_track_reset(void)
{
	pthread_mutex_lock(&tr_lock);
	while (frecs) {
		struct frec *r = frecs;
		frecs = r->next;
		frec_free(r);
	}
	nfrecs = 0;
	while (nsops) {
		struct nsop *op = nsops;
		nsops = op->next;
		nsop_free(op);
	}
	nnsops = 0;
	lossy = false;
	pthread_mutex_unlock(&tr_lock);
}

void fio_track_stats(size_t *files, size_t *ops, size_t *bytes)
{
	pthread_mutex_lock(&tr_lock);
	if (files)
		*files = nfrecs;
	if (ops)
		*ops = nnsops;
	if (bytes)
		*bytes = undo_bytes;
	pthread_mutex_unlock(&tr_lock);
}

/* ---- the power cut ----------------------------------------------------------- */

static void pwrite_all_raw(int fd, const unsigned char *p, size_t len, off_t off)
{
	while (len) {
		ssize_t k = pwrite(fd, p, len, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		len -= (size_t)k;
		off += k;
	}
}

static void remove_tree(const char *path, int depth)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	DIR *d = depth < 64 ? opendir(path) : NULL;
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			char child[PATH_MAX];
			int n = snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
			if (n > 0 && (size_t)n < sizeof(child))
				remove_tree(child, depth + 1);
		}
		closedir(d);
	}
	rmdir(path);
}

static void restore_old(const struct nsop *op, const char *path)
{
	switch (op->old) {
	case OLD_NONE: break;
	case OLD_FILE: {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, op->old_mode);
		if (fd < 0)
			return;
		unsigned char buf[65536];
		off_t off = 0;
		for (;;) {
			ssize_t k = pread(op->old_fd, buf, sizeof(buf), off);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			pwrite_all_raw(fd, buf, (size_t)k, off);
			off += k;
		}
		(void)fchmod(fd, op->old_mode);
		close(fd);
		break;
	}
	case OLD_SYMLINK: (void)!symlink(op->old_link, path); break;
	case OLD_DIR: (void)mkdir(path, op->old_mode); break;
	}
}

void fio_track_powercut(void)
{
	/* Held until the process dies: no other thread may write after the cut. */
	pthread_mutex_lock(&tr_lock);
	if (lossy) {
		static const char msg[] =
		    "failpoint: power-cut simulation incomplete (tracking limits hit)\n";
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	}
	/* Contents first, through our descriptors, whatever names the inodes have. */
	for (struct frec *r = frecs; r; r = r->next) {
		int fl = fcntl(r->fd, F_GETFL);
		if (fl >= 0 && (fl & O_APPEND))
			(void)fcntl(r->fd, F_SETFL, fl & ~O_APPEND);
		(void)!ftruncate(r->fd, r->durable);
		/* Newest first, so the oldest saved bytes are written last and win. */
		for (struct undo *u = r->undo; u; u = u->next)
			pwrite_all_raw(r->fd, u->data, u->len, u->off);
	}
	/* Then names, newest first. */
	for (struct nsop *op = nsops; op; op = op->next) {
		switch (op->kind) {
		case NS_CREATE: (void)unlink(op->path); break;
		case NS_MKDIR: remove_tree(op->path, 0); break;
		case NS_RENAME:
			(void)rename(op->path, op->from);
			restore_old(op, op->path);
			break;
		case NS_UNLINK:
		case NS_RMDIR: restore_old(op, op->path); break;
		}
	}
}

/* ---- the wrapper --------------------------------------------------------------- */

static flt_err from_errno(void)
{
	int e = errno;
	flt_err r = flt_err_from_errno(e);
	if (e == ENOTEMPTY)
		r = FLT_ECONFLICT;
	/* Only the classes promised in the header; the rest is I/O. */
	if (r != FLT_ENOTFOUND && r != FLT_ECONFLICT && r != FLT_EAUTH && r != FLT_ELIMIT &&
	    r != FLT_EINVAL && r != FLT_ENOMEM)
		r = FLT_EIO;
	return r;
}

static flt_err open_tracked(const char *path, int flags, mode_t mode, int *fdp)
{
	int fd = -1;
	bool created = false;
	int want = flags;

	/* Our own duplicate must read old bytes back: ask for read access too. */
	if ((flags & O_ACCMODE) == O_WRONLY)
		want = (flags & ~O_ACCMODE) | O_RDWR;
	want &= ~O_TRUNC;
	for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
		int f = attempt == 0 ? want : flags & ~O_TRUNC;
		if (f & O_CREAT) {
			fd = open(path, f | O_EXCL, mode);
			if (fd >= 0) {
				created = true;
				break;
			}
			if (errno != EEXIST || (flags & O_EXCL))
				continue;
		}
		fd = open(path, f & ~O_CREAT, mode);
	}
	if (fd < 0)
		return from_errno();

	struct stat st;
	if (created) {
		struct nsop *op = nsop_new(NS_CREATE, path, NULL);
		if (op)
			nsop_push(op);
		(void)frec_get(fd, 0, &st);
	} else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
		struct frec *r = frec_get(fd, -1, &st);
		if (r)
			save_range(r, 0, (size_t)r->durable);
		if (ftruncate(fd, 0) != 0) {
			flt_err e = from_errno();
			close(fd);
			return e;
		}
	}
	*fdp = fd;
	return FLT_OK;
}

flt_err flt_fio_open(const char *path, int flags, mode_t mode, int *fdp, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	flags |= O_CLOEXEC;
	if (track_begin()) {
		e = open_tracked(path, flags, mode, fdp);
		track_end();
		return e;
	}
	int fd;
	do
		fd = open(path, flags, mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return from_errno();
	*fdp = fd;
	return FLT_OK;
}

static flt_err write_loop(int fd, const unsigned char *p, size_t len, off_t off, bool positional)
{
	while (len) {
		ssize_t k = positional ? pwrite(fd, p, len, off) : write(fd, p, len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return from_errno();
		if (k == 0) {
			errno = EIO;
			return FLT_EIO;
		}
		p += k;
		len -= (size_t)k;
		off += k;
	}
	return FLT_OK;
}

flt_err flt_fio_write(int fd, const void *buf, size_t len, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (!track_begin())
		return write_loop(fd, buf, len, 0, false);
	struct stat st;
	struct frec *r = frec_get(fd, -1, &st);
	if (r) {
		int fl = fcntl(fd, F_GETFL);
		off_t off = (fl >= 0 && (fl & O_APPEND)) ? st.st_size : lseek(fd, 0, SEEK_CUR);
		if (off >= 0)
			save_range(r, off, len);
	}
	e = write_loop(fd, buf, len, 0, false);
	track_end();
	return e;
}

flt_err flt_fio_pwrite(int fd, const void *buf, size_t len, off_t off, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (off < 0) {
		errno = EINVAL;
		return FLT_EINVAL;
	}
	if (!track_begin())
		return write_loop(fd, buf, len, off, true);
	struct stat st;
	struct frec *r = frec_get(fd, -1, &st);
	if (r)
		save_range(r, off, len);
	e = write_loop(fd, buf, len, off, true);
	track_end();
	return e;
}

static flt_err read_loop(int fd, unsigned char *p, size_t len, off_t off, bool positional,
                         size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t k = positional ? pread(fd, p + done, len - done, off + (off_t)done)
		                       : read(fd, p + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return from_errno();
		if (k == 0)
			break;
		done += (size_t)k;
	}
	*got = done;
	return FLT_OK;
}

flt_err flt_fio_read(int fd, void *buf, size_t len, size_t *got, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	return read_loop(fd, buf, len, 0, false, got);
}

flt_err flt_fio_pread(int fd, void *buf, size_t len, off_t off, size_t *got, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (off < 0) {
		errno = EINVAL;
		return FLT_EINVAL;
	}
	return read_loop(fd, buf, len, off, true, got);
}

static flt_err sync_common(int fd, const char *fp, bool data_only)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	bool tr = track_begin();
	int rc = data_only ? fdatasync(fd) : fsync(fd);
	if (rc != 0)
		e = from_errno();
	else if (tr)
		file_synced(fd);
	if (tr)
		track_end();
	return e;
}

flt_err flt_fio_fsync(int fd, const char *fp)
{
	return sync_common(fd, fp, false);
}

flt_err flt_fio_fdatasync(int fd, const char *fp)
{
	return sync_common(fd, fp, true);
}

flt_err flt_fio_ftruncate(int fd, off_t len, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (len < 0) {
		errno = EINVAL;
		return FLT_EINVAL;
	}
	bool tr = track_begin();
	if (tr) {
		struct stat st;
		struct frec *r = frec_get(fd, -1, &st);
		if (r && len < r->durable)
			save_range(r, len, (size_t)(r->durable - len));
	}
	if (ftruncate(fd, len) != 0)
		e = from_errno();
	if (tr)
		track_end();
	return e;
}

flt_err flt_fio_preallocate(int fd, off_t len, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	struct stat st;
	if (e)
		return e;
	if (len < 0) {
		errno = EINVAL;
		return FLT_EINVAL;
	}
	bool tr = track_begin();
	if (tr)
		(void)frec_get(fd, -1, &st);
	if (fstat(fd, &st) != 0) {
		e = from_errno();
		goto out;
	}
	if (st.st_size >= len)
		goto out;
#ifdef FLT_HAVE_POSIX_FALLOCATE
	int rc = posix_fallocate(fd, 0, len);
	if (rc == 0)
		goto out;
	/* Filesystems without fallocate support fall back to a sparse extend. */
	if (rc != EOPNOTSUPP && rc != EINVAL && rc != ENOSYS) {
		errno = rc;
		e = from_errno();
		goto out;
	}
#endif
	if (ftruncate(fd, len) != 0)
		e = from_errno();
out:
	if (tr)
		track_end();
	return e;
}

flt_err flt_fio_close(int fd, const char *fp)
{
	if (fd < 0)
		return FLT_OK;
	flt_err e = flt_fp_check(fp);
	if (e) {
		/* A failed close still releases the descriptor. */
		int saved = errno;
		close(fd);
		errno = saved;
		return e;
	}
	if (close(fd) != 0 && errno != EINTR)
		return from_errno();
	return FLT_OK;
}

flt_err flt_fio_rename(const char *from, const char *to, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (!track_begin())
		return rename(from, to) == 0 ? FLT_OK : from_errno();
	struct nsop *op = nsop_new(NS_RENAME, to, from);
	if (op)
		nsop_capture_old(op, to);
	if (rename(from, to) != 0) {
		e = from_errno();
		int saved = errno;
		if (op)
			nsop_free(op);
		errno = saved;
	} else if (op) {
		nsop_push(op);
	}
	track_end();
	return e;
}

/* unlink/rmdir share the shape: remember what was there, remove, record. */
static flt_err remove_common(const char *path, const char *fp, bool dir)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	if (!track_begin())
		return (dir ? rmdir(path) : unlink(path)) == 0 ? FLT_OK : from_errno();
	struct nsop *op = nsop_new(dir ? NS_RMDIR : NS_UNLINK, path, NULL);
	if (op)
		nsop_capture_old(op, path);
	if ((dir ? rmdir(path) : unlink(path)) != 0) {
		e = from_errno();
		int saved = errno;
		if (op)
			nsop_free(op);
		errno = saved;
	} else if (op) {
		nsop_push(op);
	}
	track_end();
	return e;
}

flt_err flt_fio_unlink(const char *path, const char *fp)
{
	return remove_common(path, fp, false);
}

flt_err flt_fio_rmdir(const char *path, const char *fp)
{
	return remove_common(path, fp, true);
}

flt_err flt_fio_mkdir(const char *path, mode_t mode, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	bool tr = track_begin();
	if (mkdir(path, mode) != 0) {
		e = from_errno();
	} else if (tr) {
		struct nsop *op = nsop_new(NS_MKDIR, path, NULL);
		if (op)
			nsop_push(op);
	}
	if (tr)
		track_end();
	return e;
}

flt_err flt_fio_symlink(const char *target, const char *linkpath, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	bool tr = track_begin();
	if (symlink(target, linkpath) != 0) {
		e = from_errno();
	} else if (tr) {
		struct nsop *op = nsop_new(NS_CREATE, linkpath, NULL);
		if (op)
			nsop_push(op);
	}
	if (tr)
		track_end();
	return e;
}

flt_err flt_fio_fsync_dir(const char *dir, const char *fp)
{
	flt_err e = flt_fp_check(fp);
	if (e)
		return e;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return from_errno();
	bool tr = track_begin();
	if (fsync(fd) != 0)
		e = from_errno();
	else if (tr)
		dir_synced(fd);
	if (tr)
		track_end();
	int saved = errno;
	close(fd);
	errno = saved;
	return e;
}

flt_err flt_fio_fsync_parent(const char *path, const char *fp)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, sizeof(dir), ".");
	} else if (slash == path) {
		snprintf(dir, sizeof(dir), "/");
	} else {
		size_t n = (size_t)(slash - path);
		if (n >= sizeof(dir)) {
			errno = ENAMETOOLONG;
			return FLT_EINVAL;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	return flt_fio_fsync_dir(dir, fp);
}
