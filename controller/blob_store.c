/* Content-addressed blob store: hashing, atomic placement, pinning under the
 * registry write lock, and garbage collection of unreferenced blobs. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#define FLT_LOG_MODULE "blobs"
#include "blob_store.h"
#include "flt/atomicfile.h"
#include "flt/alloc.h"
#include "flt/log.h"

flt_err blob_sha256_hex(const void *buf, size_t len, char hex[BLOB_HEX_LEN + 1])
{
	unsigned char d[32];
	mbedtls_sha256_context c;
	mbedtls_sha256_init(&c);
	int rc = mbedtls_sha256_starts_ret(&c, 0);
	if (!rc)
		rc = mbedtls_sha256_update_ret(&c, buf, len);
	if (!rc)
		rc = mbedtls_sha256_finish_ret(&c, d);
	mbedtls_sha256_free(&c);
	if (rc) {
		flt_log_err("sha256 failed: mbedtls %d", rc);
		return FLT_EINTERNAL;
	}
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[BLOB_HEX_LEN] = '\0';
	return FLT_OK;
}

int blob_hex_valid(const char *hex)
{
	size_t i;
	for (i = 0; hex[i]; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return i == BLOB_HEX_LEN;
}

flt_err blob_path(const char *root, const char *hex, char *out, size_t cap)
{
	if (!blob_hex_valid(hex))
		return FLT_EINVAL;
	int n = snprintf(out, cap, "%s/%.2s/%s", root, hex, hex);
	return (n < 0 || (size_t)n >= cap) ? FLT_ELIMIT : FLT_OK;
}

static flt_err place(const char *root, const char *hex, const void *buf, size_t len, int *created)
{
	char path[4096], dir[4096];
	flt_err e = blob_path(root, hex, path, sizeof(path));
	struct stat sb;
	if (e)
		return e;
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size == (uint64_t)len) {
		if (created)
			*created = 0;
		return FLT_OK;
	}
	snprintf(dir, sizeof(dir), "%s/%.2s", root, hex);
	if ((e = flt_file_mkdirs(dir, 0750, "registry.blobdir")) != FLT_OK)
		return e;
	/* Blobs are immutable: 0444 keeps an accidental writer out. */
	if ((e = flt_file_write_atomic(path, buf, len, 0444, "registry.blob")) != FLT_OK) {
		flt_log_err("cannot write blob %s: %s", path, flt_strerror(e));
		return e;
	}
	if (created)
		*created = 1;
	return FLT_OK;
}

flt_err blob_put(const char *root, const void *buf, size_t len, char hex[BLOB_HEX_LEN + 1],
                 int *created)
{
	char h[BLOB_HEX_LEN + 1];
	flt_err e = blob_sha256_hex(buf, len, h);
	if (e)
		return e;
	if ((e = place(root, h, buf, len, created)) != FLT_OK)
		return e;
	memcpy(hex, h, sizeof(h));
	return FLT_OK;
}

flt_err blob_pin(struct flt_registry *r, const char *hex, const void *buf, size_t len)
{
	flt_err e = place(r->blob_root, hex, buf, len, NULL);
	if (e)
		return e;
	return reg_exec(r, REG_Q_BLOB_INSERT, "tii", hex, (int64_t)len, reg_now_ms());
}

static flt_err unlink_blob(struct flt_registry *r, const char *hex, uint64_t *bytes)
{
	char path[4096];
	struct stat sb;
	flt_err e = blob_path(r->blob_root, hex, path, sizeof(path));
	if (e)
		return e;
	if (stat(path, &sb) == 0 && bytes)
		*bytes += (uint64_t)sb.st_size;
	if (unlink(path) != 0 && errno != ENOENT) {
		flt_log_err("cannot remove blob %s: %s", path, strerror(errno));
		return flt_err_from_errno(errno);
	}
	return FLT_OK;
}

flt_err blob_drop_if_unreferenced(struct flt_registry *r, const char *hex, int *removed)
{
	int64_t one;
	flt_err e = reg_query_int(r, REG_Q_BLOB_REFERENCED, &one, "t", hex);
	if (e == FLT_OK) {
		if (removed)
			*removed = 0;
		return FLT_OK;
	}
	if (e != FLT_ENOTFOUND)
		return e;
	if ((e = reg_exec(r, REG_Q_BLOB_DELETE, "t", hex)) != FLT_OK)
		return e;
	if ((e = unlink_blob(r, hex, NULL)) != FLT_OK)
		return e;
	if (removed)
		*removed = 1;
	return FLT_OK;
}

/* Removes files under one fan-out directory that have no row (strays from a
 * crash between the file write and the registering transaction, temp files). */
static flt_err sweep_dir(struct flt_registry *r, const char *dir, uint64_t *n, uint64_t *bytes)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	flt_err e = FLT_OK;
	if (!d)
		return FLT_OK;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		struct stat sb;
		int k = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (k < 0 || (size_t)k >= sizeof(path))
			continue;
		if (blob_hex_valid(de->d_name)) {
			int64_t one;
			e = reg_query_int(r, REG_Q_BLOB_KNOWN, &one, "t", de->d_name);
			if (e == FLT_OK)
				continue;
			if (e != FLT_ENOTFOUND)
				break;
			e = FLT_OK;
		}
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (unlink(path) != 0) {
				e = flt_err_from_errno(errno);
				break;
			}
			(*n)++;
			*bytes += (uint64_t)sb.st_size;
		}
	}
	closedir(d);
	return e;
}

flt_err blob_gc(struct flt_registry *r, uint64_t *n_removed, uint64_t *bytes_removed)
{
	uint64_t n = 0, bytes = 0;
	char **victims = NULL;
	size_t nv = 0;
	sqlite3_stmt *st;
	int row;
	flt_err e = reg_begin(r);
	if (e)
		return e;
	if ((e = reg_stmt(r, REG_Q_BLOB_UNREFERENCED, &st)) != FLT_OK)
		goto out;
	while (!(e = reg_step(r, st, &row)) && row) {
		char **nvict = flt_reallocarray(victims, nv + 1, sizeof(*victims));
		if (!nvict) {
			e = FLT_ENOMEM;
			break;
		}
		victims = nvict;
		victims[nv] = flt_strdup((const char *)sqlite3_column_text(st, 0));
		if (!victims[nv]) {
			e = FLT_ENOMEM;
			break;
		}
		nv++;
	}
	sqlite3_reset(st);
	if (e)
		goto out;
	for (size_t i = 0; i < nv; i++) {
		if ((e = reg_exec(r, REG_Q_BLOB_DELETE, "t", victims[i])) != FLT_OK)
			goto out;
		if (!blob_hex_valid(victims[i]))
			continue;
		if ((e = unlink_blob(r, victims[i], &bytes)) != FLT_OK)
			goto out;
		n++;
	}
	/* Rows are gone inside this transaction, so the sweep sees the strays too;
	 * if COMMIT fails the rows come back unreferenced, which is harmless. */
	DIR *d = opendir(r->blob_root);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (strlen(de->d_name) != 2 || de->d_name[0] == '.')
				continue;
			char sub[4096];
			snprintf(sub, sizeof(sub), "%s/%s", r->blob_root, de->d_name);
			if ((e = sweep_dir(r, sub, &n, &bytes)) != FLT_OK)
				break;
		}
		closedir(d);
		if (e)
			goto out;
	}
	if ((e = reg_commit(r)) != FLT_OK)
		goto out;
	if (n_removed)
		*n_removed = n;
	if (bytes_removed)
		*bytes_removed = bytes;
out:
	if (e)
		reg_rollback(r);
	for (size_t i = 0; i < nv; i++)
		flt_free(victims[i]);
	flt_free(victims);
	return e;
}
