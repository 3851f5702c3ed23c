/* A plain file (or block device) as the target of a slot write, shared by the
 * dir, uboot and command backends. Every call goes through flt/fileio.h so
 * failpoints and the power-cut model reach the image bytes. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "flt/alloc.h"
#include "slot_backends.h"

flt_err slot_file_writer_open(const char *path, bool truncate, const char *fp,
                              struct slot_file_writer **out)
{
	char name[64];
	int fd = -1;
	snprintf(name, sizeof(name), "%s.open", fp);
	flt_err e =
	    flt_fio_open(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : 0), 0644, &fd, name);
	if (e)
		return e;
	struct slot_file_writer *w = flt_calloc(1, sizeof(*w));
	if (!w) {
		(void)flt_fio_close(fd, NULL);
		return FLT_ENOMEM;
	}
	w->fd = fd;
	snprintf(w->fp_write, sizeof(w->fp_write), "%s.write", fp);
	snprintf(w->fp_fsync, sizeof(w->fp_fsync), "%s.fsync", fp);
	*out = w;
	return FLT_OK;
}

flt_err slot_file_writer_write(void *wp, const void *buf, size_t len)
{
	struct slot_file_writer *w = wp;
	return flt_fio_write(w->fd, buf, len, w->fp_write);
}

flt_err slot_file_writer_finish(void *wp)
{
	struct slot_file_writer *w = wp;
	flt_err e = flt_fio_fsync(w->fd, w->fp_fsync);
	flt_err ce = flt_fio_close(w->fd, NULL);
	flt_free(w);
	return e ? e : ce;
}

void slot_file_writer_abort(void *wp)
{
	struct slot_file_writer *w = wp;
	if (!w)
		return;
	(void)flt_fio_close(w->fd, NULL);
	flt_free(w);
}

flt_err slot_file_hash(const char *path, uint64_t size, uint8_t out[FLT_SHA256_LEN])
{
	int fd = -1;
	flt_err e = flt_fio_open(path, O_RDONLY, 0, &fd, "slot.readback.open");
	if (e)
		return e;
	e = slot_hash_fd(fd, size, out, "slot.readback.read");
	(void)flt_fio_close(fd, NULL);
	return e;
}
