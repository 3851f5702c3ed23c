/* Private to firmware/: the backend tables and helpers they share. */
#ifndef SLOT_BACKENDS_H
#define SLOT_BACKENDS_H

#include "flt/fileio.h"
#include "flt/slot.h"

extern const struct flt_slot_ops slot_dir_ops;
extern const struct flt_slot_ops slot_uboot_ops;
extern const struct flt_slot_ops slot_command_ops;

/* SHA-256 of the first SIZE bytes read from FD; FLT_EVERIFY if shorter. */
flt_err slot_hash_fd(int fd, uint64_t size, uint8_t out[FLT_SHA256_LEN], const char *fp);

/* A plain file as a slot target: open/write/fsync through flt/fileio.h with
 * failpoints FP.open, FP.write, FP.fsync. */
struct slot_file_writer {
	int fd;
	char fp_write[64], fp_fsync[64];
};
flt_err slot_file_writer_open(const char *path, bool truncate, const char *fp,
                              struct slot_file_writer **out);
flt_err slot_file_writer_write(void *w, const void *buf, size_t len);
flt_err slot_file_writer_finish(void *w);
void slot_file_writer_abort(void *w);
flt_err slot_file_hash(const char *path, uint64_t size, uint8_t out[FLT_SHA256_LEN]);

#endif
