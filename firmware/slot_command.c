/* The "command" slot backend: the verified image is staged in a file and handed
 * to a configured installer (`rauc install`, `swupdate -i`) whose exit code is
 * the result; the booted slot and good/bad marks go through configured
 * commands. The installer owns boot order, so set_next does nothing here. */
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "slot.command"
#include "flt/alloc.h"
#include "flt/log.h"
#include "slot_backends.h"

struct cmd_priv {
	const struct flt_slot_cfg *cfg;
};

struct cmd_writer {
	struct slot_file_writer *fw;
	const struct flt_slot_cfg *cfg;
};

static flt_err cmd_open(const struct flt_slot_cfg *cfg, void **priv)
{
	if (!cfg->install_cmd || !cfg->booted_cmd || !cfg->staging) {
		flt_log_err("the command backend needs slot.install_cmd, slot.booted_cmd and "
		            "slot.staging");
		return FLT_EINVAL;
	}
	struct cmd_priv *p = flt_calloc(1, sizeof(*p));
	if (!p)
		return FLT_ENOMEM;
	p->cfg = cfg;
	*priv = p;
	return FLT_OK;
}

static void cmd_close(void *priv)
{
	flt_free(priv);
}

static flt_err cmd_booted(void *priv, int *slot)
{
	struct cmd_priv *p = priv;
	char out[64];
	int st = 0;
	flt_err e = flt_slot_run_line(p->cfg->booted_cmd, NULL, NULL, out, sizeof(out), &st);
	if (e)
		return e;
	int s = flt_slot_parse(out);
	if (st != 0 || s == FLT_SLOT_NONE) {
		flt_log_err("'%s' (status %d) did not print A or B", p->cfg->booted_cmd, st);
		return FLT_EIO;
	}
	*slot = s;
	return FLT_OK;
}

static flt_err cmd_get_boot(void *priv, struct flt_slot_boot *out)
{
	(void)priv;
	(void)out;
	return FLT_EUNSUPPORTED;
}

static flt_err cmd_write_open(void *priv, int slot, uint64_t size, void **w)
{
	struct cmd_priv *p = priv;
	(void)slot;
	(void)size;
	struct cmd_writer *cw = flt_calloc(1, sizeof(*cw));
	if (!cw)
		return FLT_ENOMEM;
	cw->cfg = p->cfg;
	flt_err e = slot_file_writer_open(p->cfg->staging, true, "slot.command.stage", &cw->fw);
	if (e) {
		flt_free(cw);
		return e;
	}
	*w = cw;
	return FLT_OK;
}

static flt_err cmd_write(void *w, const void *buf, size_t len)
{
	struct cmd_writer *cw = w;
	return slot_file_writer_write(cw->fw, buf, len);
}

static flt_err cmd_write_finish(void *w)
{
	struct cmd_writer *cw = w;
	flt_err e = slot_file_writer_finish(cw->fw);
	int st = 0;
	if (!e)
		e = flt_slot_run_line(cw->cfg->install_cmd, cw->cfg->staging, NULL, NULL, 0, &st);
	if (!e && st != 0) {
		flt_log_err("'%s %s' failed with status %d", cw->cfg->install_cmd, cw->cfg->staging,
		            st);
		e = FLT_EIO;
	}
	flt_free(cw);
	return e;
}

static void cmd_write_abort(void *w)
{
	struct cmd_writer *cw = w;
	if (!cw)
		return;
	slot_file_writer_abort(cw->fw);
	flt_free(cw);
}

/* The installer verified and wrote the slot itself; what we can re-check is
 * the image we handed it. */
static flt_err cmd_read_hash(void *priv, int slot, uint64_t size, uint8_t out[FLT_SHA256_LEN])
{
	struct cmd_priv *p = priv;
	(void)slot;
	return slot_file_hash(p->cfg->staging, size, out);
}

static flt_err run_mark(const char *cmd, int slot)
{
	char letter[2] = {flt_slot_letter(slot), '\0'};
	int st = 0;
	if (!cmd)
		return FLT_OK;
	flt_err e = flt_slot_run_line(cmd, letter, NULL, NULL, 0, &st);
	if (!e && st != 0) {
		flt_log_err("'%s %s' failed with status %d", cmd, letter, st);
		e = FLT_EIO;
	}
	return e;
}

static flt_err cmd_mark_good(void *priv, int slot)
{
	struct cmd_priv *p = priv;
	return run_mark(p->cfg->mark_good_cmd, slot);
}

static flt_err cmd_mark_bad(void *priv, int slot)
{
	struct cmd_priv *p = priv;
	return run_mark(p->cfg->mark_bad_cmd, slot);
}

static flt_err cmd_set_next(void *priv, int slot, int tries)
{
	(void)priv;
	(void)slot;
	(void)tries;
	return FLT_OK;
}

const struct flt_slot_ops slot_command_ops = {
    .name = "command",
    .open = cmd_open,
    .close = cmd_close,
    .booted = cmd_booted,
    .get_boot = cmd_get_boot,
    .write_open = cmd_write_open,
    .write = cmd_write,
    .write_finish = cmd_write_finish,
    .write_abort = cmd_write_abort,
    .read_hash = cmd_read_hash,
    .mark_good = cmd_mark_good,
    .mark_bad = cmd_mark_bad,
    .set_next = cmd_set_next,
};
