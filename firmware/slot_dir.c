/* The "dir" slot backend: two directories (slot-a/, slot-b/) each holding the
 * slot's image file, and one state file written atomically that plays the
 * bootloader's environment (boot order, tries left, the slot booted). For
 * development, tests and devices without a bootloader hook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FLT_LOG_MODULE "slot.dir"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/log.h"
#include "slot_backends.h"

struct dir_state {
	struct flt_slot_boot boot;
	int booted;
};

struct dir_priv {
	char dir[FLT_SLOT_PATH_MAX];
	int max_tries;
};

static void state_path(const char *dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/bootstate", dir);
}

static void image_path(const char *dir, int slot, char *out, size_t cap)
{
	snprintf(out, cap, "%s/slot-%c/image", dir, slot == FLT_SLOT_A ? 'a' : 'b');
}

static int parse_int(const char *v)
{
	char *end;
	long n = strtol(v, &end, 10);
	if (end == v || (*end && *end != '\n') || n < 0 || n > 100)
		return -1;
	return (int)n;
}

/* A missing file is a fresh device: A booted and first, both with full tries. */
static flt_err state_read(const char *dir, int max_tries, struct dir_state *st)
{
	char path[FLT_SLOT_PATH_MAX + 16];
	uint8_t *buf = NULL;
	size_t len = 0;
	st->boot.order[0] = FLT_SLOT_A;
	st->boot.order[1] = FLT_SLOT_B;
	st->boot.tries[0] = st->boot.tries[1] = max_tries;
	st->booted = FLT_SLOT_A;
	state_path(dir, path, sizeof(path));
	flt_err e = flt_file_read_all(path, 4096, &buf, &len, "slot.dir.state");
	if (e == FLT_ENOTFOUND)
		return FLT_OK;
	if (e)
		return e;
	char *save = NULL;
	for (char *line = strtok_r((char *)buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!strcmp(k, "order")) {
			char a[4] = "", b[4] = "";
			int n = sscanf(v, "%3s %3s", a, b);
			st->boot.order[0] = n >= 1 ? flt_slot_parse(a) : FLT_SLOT_NONE;
			st->boot.order[1] = n >= 2 ? flt_slot_parse(b) : FLT_SLOT_NONE;
		} else if (!strcmp(k, "tries_a")) {
			st->boot.tries[0] = parse_int(v);
		} else if (!strcmp(k, "tries_b")) {
			st->boot.tries[1] = parse_int(v);
		} else if (!strcmp(k, "booted")) {
			st->booted = flt_slot_parse(v);
		}
	}
	flt_free(buf);
	if (st->boot.order[0] == FLT_SLOT_NONE || st->boot.tries[0] < 0 || st->boot.tries[1] < 0 ||
	    st->booted == FLT_SLOT_NONE) {
		flt_log_err("'%s' is corrupt", path);
		return FLT_EPARSE;
	}
	return FLT_OK;
}

static flt_err state_write(const char *dir, const struct dir_state *st)
{
	char path[FLT_SLOT_PATH_MAX + 16], buf[128];
	state_path(dir, path, sizeof(path));
	int n = snprintf(
	    buf, sizeof(buf), "order=%c%s%c\ntries_a=%d\ntries_b=%d\nbooted=%c\n",
	    flt_slot_letter(st->boot.order[0]), st->boot.order[1] == FLT_SLOT_NONE ? "" : " ",
	    st->boot.order[1] == FLT_SLOT_NONE ? ' ' : flt_slot_letter(st->boot.order[1]),
	    st->boot.tries[0], st->boot.tries[1], flt_slot_letter(st->booted));
	return flt_file_write_atomic(path, buf, (size_t)n, 0644, "slot.dir.state");
}

static flt_err dir_open(const struct flt_slot_cfg *cfg, void **priv)
{
	if (!cfg->dir || strlen(cfg->dir) + 32 >= FLT_SLOT_PATH_MAX) {
		flt_log_err("the dir backend needs slot.dir");
		return FLT_EINVAL;
	}
	struct dir_priv *p = flt_calloc(1, sizeof(*p));
	if (!p)
		return FLT_ENOMEM;
	memcpy(p->dir, cfg->dir, strlen(cfg->dir) + 1);
	p->max_tries = cfg->max_tries > 0 ? cfg->max_tries : FLT_SLOT_DEFAULT_TRIES;
	char sub[FLT_SLOT_PATH_MAX + 16];
	flt_err e = FLT_OK;
	for (int s = 0; s < 2 && !e; s++) {
		snprintf(sub, sizeof(sub), "%s/slot-%c", p->dir, s ? 'b' : 'a');
		e = flt_file_mkdirs(sub, 0755, "slot.dir");
	}
	if (e) {
		flt_free(p);
		return e;
	}
	*priv = p;
	return FLT_OK;
}

static void dir_close(void *priv)
{
	flt_free(priv);
}

static flt_err dir_booted(void *priv, int *slot)
{
	struct dir_priv *p = priv;
	struct dir_state st;
	flt_err e = state_read(p->dir, p->max_tries, &st);
	if (!e)
		*slot = st.booted;
	return e;
}

static flt_err dir_get_boot(void *priv, struct flt_slot_boot *out)
{
	struct dir_priv *p = priv;
	struct dir_state st;
	flt_err e = state_read(p->dir, p->max_tries, &st);
	if (!e)
		*out = st.boot;
	return e;
}

static flt_err dir_write_open(void *priv, int slot, uint64_t size, void **w)
{
	struct dir_priv *p = priv;
	char path[FLT_SLOT_PATH_MAX + 16];
	struct slot_file_writer *fw = NULL;
	(void)size;
	image_path(p->dir, slot, path, sizeof(path));
	/* Truncate: like a partition, the slot holds exactly what was last
	 * written, and a cut write leaves a short (hash-failing) image. */
	flt_err e = slot_file_writer_open(path, true, "slot.dir.image", &fw);
	if (e)
		return e;
	/* The image file may be new: its name must survive a power cut too. */
	if ((e = flt_fio_fsync_parent(path, "slot.dir.image.dirsync")) != FLT_OK) {
		slot_file_writer_abort(fw);
		return e;
	}
	*w = fw;
	return FLT_OK;
}

static flt_err dir_read_hash(void *priv, int slot, uint64_t size, uint8_t out[FLT_SHA256_LEN])
{
	struct dir_priv *p = priv;
	char path[FLT_SLOT_PATH_MAX + 16];
	image_path(p->dir, slot, path, sizeof(path));
	return slot_file_hash(path, size, out);
}

static flt_err dir_set_tries(struct dir_priv *p, int slot, int tries, bool first)
{
	struct dir_state st;
	flt_err e = state_read(p->dir, p->max_tries, &st);
	if (e)
		return e;
	st.boot.tries[slot] = tries;
	if (first) {
		st.boot.order[0] = slot;
		st.boot.order[1] = !slot;
	}
	return state_write(p->dir, &st);
}

static flt_err dir_mark_good(void *priv, int slot)
{
	struct dir_priv *p = priv;
	return dir_set_tries(p, slot, p->max_tries, false);
}

static flt_err dir_mark_bad(void *priv, int slot)
{
	return dir_set_tries(priv, slot, 0, false);
}

static flt_err dir_set_next(void *priv, int slot, int tries)
{
	return dir_set_tries(priv, slot, tries, true);
}

flt_err flt_slot_dir_simulate_boot(const char *dir, int *slot)
{
	struct dir_state st;
	flt_err e = flt_file_mkdirs(dir, 0755, "slot.dir");
	if (!e)
		e = state_read(dir, FLT_SLOT_DEFAULT_TRIES, &st);
	if (e)
		return e;
	int pick = FLT_SLOT_NONE;
	for (int i = 0; i < 2; i++) {
		int s = st.boot.order[i];
		if (s != FLT_SLOT_NONE && st.boot.tries[s] > 0) {
			pick = s;
			break;
		}
	}
	if (pick == FLT_SLOT_NONE) {
		/* No slot has tries left: U-Boot scripts reset the counters and boot
		 * the first in order rather than not booting at all. */
		st.boot.tries[0] = st.boot.tries[1] = FLT_SLOT_DEFAULT_TRIES;
		pick = st.boot.order[0];
	}
	st.boot.tries[pick]--;
	st.booted = pick;
	if ((e = state_write(dir, &st)) != FLT_OK)
		return e;
	if (slot)
		*slot = pick;
	return FLT_OK;
}

const struct flt_slot_ops slot_dir_ops = {
    .name = "dir",
    .open = dir_open,
    .close = dir_close,
    .booted = dir_booted,
    .get_boot = dir_get_boot,
    .write_open = dir_write_open,
    .write = slot_file_writer_write,
    .write_finish = slot_file_writer_finish,
    .write_abort = slot_file_writer_abort,
    .read_hash = dir_read_hash,
    .mark_good = dir_mark_good,
    .mark_bad = dir_mark_bad,
    .set_next = dir_set_next,
};
