/* A/B slot backends for firmware updates: one table of operations (which slot
 * booted, boot order and tries left, streamed write into a slot, read-back
 * hash, mark good/bad, next boot with tries), one file per backend, chosen by
 * name from a static table: "dir", "uboot", "command". */
#ifndef FLT_SLOT_H
#define FLT_SLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/crypto.h"
#include "flt/error.h"

/* Slots are 0 (A) and 1 (B). */
#define FLT_SLOT_A    0
#define FLT_SLOT_B    1
#define FLT_SLOT_NONE (-1)
/* Tries a slot gets when it is marked good (U-Boot A/B setups use 3). */
#define FLT_SLOT_DEFAULT_TRIES 3
#define FLT_SLOT_PATH_MAX      1024

/* 'A' / 'B' for 0 / 1, '?' otherwise. */
char flt_slot_letter(int slot);
/* Parses "A"/"a"/"B"/"b" (surrounding whitespace allowed); FLT_SLOT_NONE otherwise. */
int flt_slot_parse(const char *s);

/* Backend configuration; every string is borrowed for the life of the handle. */
struct flt_slot_cfg {
	const char *backend; /* "dir", "uboot" or "command" */
	/* dir: the root holding slot-a/, slot-b/ and the state file "bootstate" */
	const char *dir;
	/* uboot */
	const char *fw_printenv; /* command, default "fw_printenv" */
	const char *fw_setenv;   /* command, default "fw_setenv" */
	const char *uboot_dev_a; /* block device (or file) of slot A */
	const char *uboot_dev_b;
	const char *booted_file; /* where the booted slot is read: default /proc/cmdline
	                          * ("flotilla.slot=A" or rauc.slot=A); for tests a file */
	/* command */
	const char *install_cmd;   /* "rauc install" / "swupdate -i": image path appended */
	const char *booted_cmd;    /* prints A or B */
	const char *mark_good_cmd; /* slot letter appended; NULL: nothing to do */
	const char *mark_bad_cmd;  /* slot letter appended; NULL: nothing to do */
	const char *staging;       /* command: where the image is staged for the installer */
	int max_tries;             /* tries given on mark good (0: FLT_SLOT_DEFAULT_TRIES) */
};

/* What the bootloader will do: slots in boot order (order[1] may be NONE) and
 * tries left per slot. */
struct flt_slot_boot {
	int order[2];
	int tries[2];
};

struct flt_slot;        /* an open backend */
struct flt_slot_writer; /* a write into one slot in progress */

struct flt_slot_ops {
	const char *name;
	flt_err (*open)(const struct flt_slot_cfg *cfg, void **priv);
	void (*close)(void *priv);
	flt_err (*booted)(void *priv, int *slot);
	/* FLT_EUNSUPPORTED when the backend cannot tell (command). */
	flt_err (*get_boot)(void *priv, struct flt_slot_boot *out);
	flt_err (*write_open)(void *priv, int slot, uint64_t size, void **w);
	flt_err (*write)(void *w, const void *buf, size_t len);
	/* Makes the written image durable (and, for command, installs it). Frees W. */
	flt_err (*write_finish)(void *w);
	void (*write_abort)(void *w);
	/* SHA-256 of the first SIZE bytes of SLOT as it now stands. */
	flt_err (*read_hash)(void *priv, int slot, uint64_t size, uint8_t out[FLT_SHA256_LEN]);
	flt_err (*mark_good)(void *priv, int slot);
	flt_err (*mark_bad)(void *priv, int slot);
	/* SLOT first in boot order with TRIES tries. */
	flt_err (*set_next)(void *priv, int slot, int tries);
};

/* The backend table entry for NAME, or NULL. */
const struct flt_slot_ops *flt_slot_backend(const char *name);

/* Opens the backend CFG names. *OUT owned (flt_slot_close). FLT_EINVAL: unknown
 * backend or missing setting; backend errors (FLT_EIO, FLT_ENOTFOUND...). */
flt_err flt_slot_open(const struct flt_slot_cfg *cfg, struct flt_slot **out) FLT_WUR;
void flt_slot_close(struct flt_slot *s);

/* The slot the running system booted from. */
flt_err flt_slot_booted(struct flt_slot *s, int *slot) FLT_WUR;
/* Boot order and tries; FLT_EUNSUPPORTED if the backend cannot tell. */
flt_err flt_slot_get_boot(struct flt_slot *s, struct flt_slot_boot *out) FLT_WUR;
/* Starts writing an image of SIZE bytes into SLOT (never the booted one:
 * FLT_EBUSY). *W owned until finish/abort. */
flt_err flt_slot_write_open(struct flt_slot *s, int slot, uint64_t size,
                            struct flt_slot_writer **w) FLT_WUR;
flt_err flt_slot_write(struct flt_slot_writer *w, const void *buf, size_t len) FLT_WUR;
/* Durable end of the write (command: runs the installer, its exit code is the
 * result: FLT_EIO when it fails). W is freed whatever the result. */
flt_err flt_slot_write_finish(struct flt_slot_writer *w) FLT_WUR;
void flt_slot_write_abort(struct flt_slot_writer *w);
flt_err flt_slot_read_hash(struct flt_slot *s, int slot, uint64_t size,
                           uint8_t out[FLT_SHA256_LEN]) FLT_WUR;
flt_err flt_slot_mark_good(struct flt_slot *s, int slot) FLT_WUR;
flt_err flt_slot_mark_bad(struct flt_slot *s, int slot) FLT_WUR;
flt_err flt_slot_set_next(struct flt_slot *s, int slot, int tries) FLT_WUR;

/* dir backend only: does what a bootloader does at power-on, from the state
 * file under DIR: picks the first slot in boot order with tries left,
 * decrements its tries and records it as booted; when none has tries left it
 * falls back to the first slot in order (as U-Boot scripts reset the counters).
 * *SLOT (may be NULL) gets the slot booted. Persisted with failpoints "slot.dir.state.*". */
flt_err flt_slot_dir_simulate_boot(const char *dir, int *slot) FLT_WUR;

/* Runs ARGV (argv[0] looked up in PATH, no shell), stdout captured into OUT
 * (OUTLEN bytes, NUL-terminated, may be NULL). *STATUS gets the exit code, or
 * 128 + signal. FLT_EIO when it cannot be started. Shared by the backends and
 * fw_update's reboot. */
flt_err flt_slot_run(const char *const *argv, char *out, size_t outlen, int *status) FLT_WUR;
/* As flt_slot_run for a command line CMD split on spaces (no quoting), with up
 * to two extra arguments appended (NULL: none). */
flt_err flt_slot_run_line(const char *cmd, const char *arg1, const char *arg2, char *out,
                          size_t outlen, int *status) FLT_WUR;

#endif
