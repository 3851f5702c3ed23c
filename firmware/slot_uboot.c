/* The "uboot" slot backend: boot order and tries in the U-Boot environment as
 * A/B boot scripts use them (BOOT_ORDER="A B", BOOT_A_LEFT, BOOT_B_LEFT), read
 * and written with fw_printenv / fw_setenv; images go to the slot's block
 * device; the booted slot comes from the kernel command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLT_LOG_MODULE "slot.uboot"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/log.h"
#include "slot_backends.h"

struct uboot_priv {
	const char *printenv, *setenv, *dev[2], *booted_file;
	int max_tries;
};

static flt_err uboot_open(const struct flt_slot_cfg *cfg, void **priv)
{
	if (!cfg->uboot_dev_a || !cfg->uboot_dev_b) {
		flt_log_err("the uboot backend needs slot.device_a and slot.device_b");
		return FLT_EINVAL;
	}
	struct uboot_priv *p = flt_calloc(1, sizeof(*p));
	if (!p)
		return FLT_ENOMEM;
	p->printenv = cfg->fw_printenv ? cfg->fw_printenv : "fw_printenv";
	p->setenv = cfg->fw_setenv ? cfg->fw_setenv : "fw_setenv";
	p->dev[0] = cfg->uboot_dev_a;
	p->dev[1] = cfg->uboot_dev_b;
	p->booted_file = cfg->booted_file ? cfg->booted_file : "/proc/cmdline";
	p->max_tries = cfg->max_tries > 0 ? cfg->max_tries : FLT_SLOT_DEFAULT_TRIES;
	*priv = p;
	return FLT_OK;
}

static void uboot_close(void *priv)
{
	flt_free(priv);
}

/* fw_printenv NAME prints "NAME=value". */
static flt_err getvar(struct uboot_priv *p, const char *name, char *val, size_t cap)
{
	char out[256];
	int st = 0;
	flt_err e = flt_slot_run_line(p->printenv, name, NULL, out, sizeof(out), &st);
	if (e)
		return e;
	if (st != 0)
		return FLT_ENOTFOUND;
	size_t nl = strlen(name);
	if (strncmp(out, name, nl) || out[nl] != '=')
		return FLT_EPARSE;
	const char *v = out + nl + 1;
	size_t vl = strcspn(v, "\n");
	if (vl >= cap)
		return FLT_ELIMIT;
	memcpy(val, v, vl);
	val[vl] = '\0';
	return FLT_OK;
}

static flt_err setvar(struct uboot_priv *p, const char *name, const char *val)
{
	int st = 0;
	flt_err e = flt_slot_run_line(p->setenv, name, val, NULL, 0, &st);
	if (!e && st != 0) {
		flt_log_err("%s %s failed with status %d", p->setenv, name, st);
		e = FLT_EIO;
	}
	return e;
}

static flt_err uboot_booted(void *priv, int *slot)
{
	struct uboot_priv *p = priv;
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e = flt_file_read_all(p->booted_file, 65536, &buf, &len, "slot.uboot.cmdline");
	if (e)
		return e;
	static const char *const keys[] = {"flotilla.slot=", "rauc.slot="};
	int s = FLT_SLOT_NONE;
	for (size_t i = 0; i < 2 && s == FLT_SLOT_NONE; i++) {
		const char *k = strstr((const char *)buf, keys[i]);
		if (k) {
			char v[2] = {k[strlen(keys[i])], '\0'};
			s = flt_slot_parse(v);
		}
	}
	flt_free(buf);
	if (s == FLT_SLOT_NONE) {
		flt_log_err("'%s' names no slot (flotilla.slot=A|B)", p->booted_file);
		return FLT_EPARSE;
	}
	*slot = s;
	return FLT_OK;
}

static flt_err uboot_get_boot(void *priv, struct flt_slot_boot *out)
{
	struct uboot_priv *p = priv;
	char v[64];
	struct flt_slot_boot b;
	flt_err e = getvar(p, "BOOT_ORDER", v, sizeof(v));
	if (e)
		return e;
	char a[4] = "", c[4] = "";
	int n = sscanf(v, "%3s %3s", a, c);
	b.order[0] = n >= 1 ? flt_slot_parse(a) : FLT_SLOT_NONE;
	b.order[1] = n >= 2 ? flt_slot_parse(c) : FLT_SLOT_NONE;
	if (b.order[0] == FLT_SLOT_NONE)
		return FLT_EPARSE;
	for (int s = 0; s < 2; s++) {
		char name[16];
		snprintf(name, sizeof(name), "BOOT_%c_LEFT", flt_slot_letter(s));
		if ((e = getvar(p, name, v, sizeof(v))) == FLT_ENOTFOUND) {
			b.tries[s] = 0;
			continue;
		}
		if (e)
			return e;
		char *end;
		long t = strtol(v, &end, 10);
		if (end == v || *end || t < 0 || t > 100)
			return FLT_EPARSE;
		b.tries[s] = (int)t;
	}
	*out = b;
	return FLT_OK;
}

static flt_err uboot_write_open(void *priv, int slot, uint64_t size, void **w)
{
	struct uboot_priv *p = priv;
	struct slot_file_writer *fw = NULL;
	(void)size;
	/* A block device: no truncation, the hash covers exactly the image. */
	flt_err e = slot_file_writer_open(p->dev[slot], false, "slot.uboot.image", &fw);
	if (!e)
		*w = fw;
	return e;
}

static flt_err uboot_read_hash(void *priv, int slot, uint64_t size, uint8_t out[FLT_SHA256_LEN])
{
	struct uboot_priv *p = priv;
	return slot_file_hash(p->dev[slot], size, out);
}

static flt_err set_left(struct uboot_priv *p, int slot, int tries)
{
	char name[16], val[16];
	snprintf(name, sizeof(name), "BOOT_%c_LEFT", flt_slot_letter(slot));
	snprintf(val, sizeof(val), "%d", tries);
	return setvar(p, name, val);
}

static flt_err uboot_mark_good(void *priv, int slot)
{
	struct uboot_priv *p = priv;
	return set_left(p, slot, p->max_tries);
}

static flt_err uboot_mark_bad(void *priv, int slot)
{
	return set_left(priv, slot, 0);
}

static flt_err uboot_set_next(void *priv, int slot, int tries)
{
	struct uboot_priv *p = priv;
	char order[4] = {flt_slot_letter(slot), ' ', flt_slot_letter(!slot), '\0'};
	/* Tries first: an order naming a slot with no tries would be skipped. */
	flt_err e = set_left(p, slot, tries);
	if (!e)
		e = setvar(p, "BOOT_ORDER", order);
	return e;
}

const struct flt_slot_ops slot_uboot_ops = {
    .name = "uboot",
    .open = uboot_open,
    .close = uboot_close,
    .booted = uboot_booted,
    .get_boot = uboot_get_boot,
    .write_open = uboot_write_open,
    .write = slot_file_writer_write,
    .write_finish = slot_file_writer_finish,
    .write_abort = slot_file_writer_abort,
    .read_hash = uboot_read_hash,
    .mark_good = uboot_mark_good,
    .mark_bad = uboot_mark_bad,
    .set_next = uboot_set_next,
};
