/* The firmware update flow over a slot backend (flt/firmware.h). Every step is
 * persisted in <state_dir>/fwstate before it acts, and the bootloader's own
 * state (boot order, tries left) is read back at start, so a crash or power
 * cut at any instant resolves to a defined outcome on the next start. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLT_LOG_MODULE "firmware"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/crypto.h"
#include "flt/firmware.h"
#include "flt/log.h"

enum phase { PH_NONE = 0, PH_WRITING, PH_ARMED, PH_REBOOTING };
static const char *const phase_names[] = {"none", "writing", "armed", "rebooting"};

struct bad_entry {
	uint64_t version;
	char deploy[FLT_FW_DEPLOY_MAX + 1];
};

struct fw_state {
	int committed_slot;
	uint64_t committed_version;
	uint64_t slot_version[2];
	enum phase phase;
	int pending_slot;
	uint64_t pending_version, pending_size;
	char pending_deploy[FLT_FW_DEPLOY_MAX + 1];
	char pending_name[FLT_FW_DEPLOY_MAX + 1];
	char pending_sha[FLT_SHA256_HEX_LEN + 1];
	struct bad_entry bad[FLT_FW_MAX_BAD];
	size_t n_bad;
};

struct flt_fw {
	char path[FLT_SLOT_PATH_MAX + 16];
	struct flt_slot *slot;
	struct fw_state st;
	struct flt_slot_writer *w;
	uint64_t written;
	int tries, max_tries;
	const char *reboot_cmd;
};

static bool deploy_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > FLT_FW_DEPLOY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool parse_u64(const char *v, uint64_t *out)
{
	char *end;
	if (!*v || *v == '-')
		return false;
	unsigned long long n = strtoull(v, &end, 10);
	if (*end)
		return false;
	*out = n;
	return true;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static flt_err state_load(struct flt_fw *fw)
{
	struct fw_state *st = &fw->st;
	uint8_t *buf = NULL;
	size_t len = 0;
	memset(st, 0, sizeof(*st));
	st->committed_slot = FLT_SLOT_NONE;
	st->pending_slot = FLT_SLOT_NONE;
	flt_err e = flt_file_read_all(fw->path, 65536, &buf, &len, "fw.state");
	if (e == FLT_ENOTFOUND)
		return FLT_OK;
	if (e)
		return e;
	bool ok = true;
	char *save = NULL;
	for (char *line = strtok_r((char *)buf, "\n", &save); line && ok;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq) {
			ok = false;
			break;
		}
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!strcmp(k, "committed_slot"))
			st->committed_slot = flt_slot_parse(v);
		else if (!strcmp(k, "committed_version"))
			ok = parse_u64(v, &st->committed_version);
		else if (!strcmp(k, "slot_a_version"))
			ok = parse_u64(v, &st->slot_version[0]);
		else if (!strcmp(k, "slot_b_version"))
			ok = parse_u64(v, &st->slot_version[1]);
		else if (!strcmp(k, "phase")) {
			ok = false;
			for (int i = 0; i < 4; i++)
				if (!strcmp(v, phase_names[i])) {
					st->phase = (enum phase)i;
					ok = true;
				}
		} else if (!strcmp(k, "pending_slot"))
			st->pending_slot = flt_slot_parse(v);
		else if (!strcmp(k, "pending_version"))
			ok = parse_u64(v, &st->pending_version);
		else if (!strcmp(k, "pending_size"))
			ok = parse_u64(v, &st->pending_size);
		else if (!strcmp(k, "pending_name")) {
			ok = deploy_valid(v);
			if (ok)
				copy_str(st->pending_name, sizeof(st->pending_name), v);
		} else if (!strcmp(k, "pending_deployment")) {
			ok = deploy_valid(v);
			if (ok)
				copy_str(st->pending_deploy, sizeof(st->pending_deploy), v);
		} else if (!strcmp(k, "pending_sha256")) {
			ok = flt_is_sha256_hex(v);
			if (ok)
				copy_str(st->pending_sha, sizeof(st->pending_sha), v);
		} else if (!strcmp(k, "bad")) {
			char *sp = strchr(v, ' ');
			ok = sp && st->n_bad < FLT_FW_MAX_BAD;
			if (ok) {
				*sp = '\0';
				struct bad_entry *b = &st->bad[st->n_bad];
				ok = parse_u64(v, &b->version) && deploy_valid(sp + 1);
				if (ok) {
					copy_str(b->deploy, sizeof(b->deploy), sp + 1);
					st->n_bad++;
				}
			}
		} else {
			ok = false;
		}
	}
	flt_free(buf);
	if (!ok || (st->phase != PH_NONE && st->pending_slot == FLT_SLOT_NONE)) {
		flt_log_err("'%s' is corrupt", fw->path);
		return FLT_EPARSE;
	}
	return FLT_OK;
}

static flt_err state_save(struct flt_fw *fw)
{
	const struct fw_state *st = &fw->st;
	char buf[8192];
	size_t off = 0;
	int n = snprintf(
	    buf, sizeof(buf),
	    "committed_slot=%c\ncommitted_version=%llu\nslot_a_version=%llu\n"
	    "slot_b_version=%llu\nphase=%s\n",
	    st->committed_slot == FLT_SLOT_NONE ? '-' : flt_slot_letter(st->committed_slot),
	    (unsigned long long)st->committed_version, (unsigned long long)st->slot_version[0],
	    (unsigned long long)st->slot_version[1], phase_names[st->phase]);
	off = (size_t)n;
	if (st->phase != PH_NONE) {
		n = snprintf(buf + off, sizeof(buf) - off,
		             "pending_slot=%c\npending_version=%llu\npending_size=%llu\n"
		             "pending_name=%s\npending_deployment=%s\npending_sha256=%s\n",
		             flt_slot_letter(st->pending_slot),
		             (unsigned long long)st->pending_version,
		             (unsigned long long)st->pending_size, st->pending_name,
		             st->pending_deploy, st->pending_sha);
		off += (size_t)n;
	}
	for (size_t i = 0; i < st->n_bad && off < sizeof(buf); i++) {
		n = snprintf(buf + off, sizeof(buf) - off, "bad=%llu %s\n",
		             (unsigned long long)st->bad[i].version, st->bad[i].deploy);
		off += (size_t)n;
	}
	if (off >= sizeof(buf))
		return FLT_EINTERNAL;
	return flt_file_write_atomic(fw->path, buf, off, 0644, "fw.state");
}

flt_err flt_fw_open(const struct flt_fw_cfg *cfg, struct flt_fw **out)
{
	if (!cfg || !out || !cfg->state_dir || strlen(cfg->state_dir) >= FLT_SLOT_PATH_MAX)
		return FLT_EINVAL;
	struct flt_fw *fw = flt_calloc(1, sizeof(*fw));
	if (!fw)
		return FLT_ENOMEM;
	flt_err e = flt_file_mkdirs(cfg->state_dir, 0755, "fw.state");
	if (e)
		goto fail;
	snprintf(fw->path, sizeof(fw->path), "%s/fwstate", cfg->state_dir);
	(void)flt_file_remove_stale_temps(fw->path);
	fw->tries = cfg->tries > 0 ? cfg->tries : FLT_SLOT_DEFAULT_TRIES;
	fw->max_tries = cfg->slot.max_tries > 0 ? cfg->slot.max_tries : FLT_SLOT_DEFAULT_TRIES;
	fw->reboot_cmd = cfg->reboot_cmd;
	if ((e = state_load(fw)) != FLT_OK)
		goto fail;
	if ((e = flt_slot_open(&cfg->slot, &fw->slot)) != FLT_OK)
		goto fail;
	*out = fw;
	return FLT_OK;
fail:
	flt_free(fw);
	return e;
}

void flt_fw_close(struct flt_fw *fw)
{
	if (!fw)
		return;
	flt_slot_write_abort(fw->w);
	flt_slot_close(fw->slot);
	flt_free(fw);
}

bool flt_fw_is_bad(const struct flt_fw *fw, uint64_t version, const char *deployment_id)
{
	for (size_t i = 0; i < fw->st.n_bad; i++)
		if (fw->st.bad[i].version == version && deployment_id &&
		    !strcmp(fw->st.bad[i].deploy, deployment_id))
			return true;
	return false;
}

static void add_bad(struct fw_state *st, uint64_t version, const char *deploy)
{
	if (st->n_bad == FLT_FW_MAX_BAD) {
		/* Oldest first out: a version that old is below anything accepted. */
		memmove(&st->bad[0], &st->bad[1], sizeof(st->bad[0]) * (FLT_FW_MAX_BAD - 1));
		st->n_bad--;
	}
	st->bad[st->n_bad].version = version;
	copy_str(st->bad[st->n_bad].deploy, sizeof(st->bad[0].deploy), deploy);
	st->n_bad++;
}

static void clear_pending(struct fw_state *st)
{
	st->phase = PH_NONE;
	st->pending_slot = FLT_SLOT_NONE;
	st->pending_version = st->pending_size = 0;
	st->pending_deploy[0] = st->pending_sha[0] = st->pending_name[0] = '\0';
}

/* The bootloader fell back to BOOTED: the tried slot is bad, the good one first. */
static flt_err rolled_back(struct flt_fw *fw, int booted, struct flt_fw_report *rep)
{
	struct fw_state *st = &fw->st;
	flt_err e;
	rep->outcome = FLT_FW_ROLLED_BACK;
	rep->version = st->pending_version;
	copy_str(rep->deployment_id, sizeof(rep->deployment_id), st->pending_deploy);
	copy_str(rep->name, sizeof(rep->name), st->pending_name);
	rep->reason = FLT_REASON_BOOT_FAILED;
	if ((e = flt_slot_mark_bad(fw->slot, st->pending_slot)) != FLT_OK ||
	    (e = flt_slot_set_next(fw->slot, booted, fw->max_tries)) != FLT_OK)
		return e;
	add_bad(st, st->pending_version, st->pending_deploy);
	flt_log_warn("firmware %llu (deployment %s) did not confirm in slot %c; back on slot %c, "
	             "marked bad",
	             (unsigned long long)st->pending_version, st->pending_deploy,
	             flt_slot_letter(st->pending_slot), flt_slot_letter(booted));
	clear_pending(st);
	st->committed_slot = booted;
	return state_save(fw);
}

flt_err flt_fw_boot(struct flt_fw *fw, const struct flt_fw_confirm *cb, struct flt_fw_report *rep)
{
	struct fw_state *st = &fw->st;
	struct flt_fw_report r;
	int booted = FLT_SLOT_NONE;
	flt_err e;
	memset(&r, 0, sizeof(r));
	if (fw->w)
		return FLT_EBUSY;
	if ((e = flt_slot_booted(fw->slot, &booted)) != FLT_OK)
		return e;
	r.slot = booted;
	if (st->phase == PH_NONE || st->phase == PH_WRITING) {
		/* A write cut by a crash or power cut is simply abandoned: the slot's
		 * version was cleared before its first byte. */
		if (st->phase == PH_WRITING)
			flt_log_warn("firmware %llu write into slot %c was interrupted; abandoned",
			             (unsigned long long)st->pending_version,
			             flt_slot_letter(st->pending_slot));
		clear_pending(st);
		if (st->committed_slot != booted) {
			st->committed_slot = booted;
			st->committed_version = st->slot_version[booted];
		}
		if ((e = flt_slot_mark_good(fw->slot, booted)) != FLT_OK ||
		    (e = state_save(fw)) != FLT_OK)
			return e;
		r.outcome = FLT_FW_NOTHING;
		r.version = st->committed_version;
		*rep = r;
		return FLT_OK;
	}
	r.version = st->pending_version;
	copy_str(r.deployment_id, sizeof(r.deployment_id), st->pending_deploy);
	copy_str(r.name, sizeof(r.name), st->pending_name);
	if (booted == st->pending_slot) {
		bool ok = cb && (!cb->broker_reachable || cb->broker_reachable(cb->arg)) &&
		          cb->self_test && cb->self_test(cb->arg);
		if (!ok) {
			/* Not marked good: each further boot spends a try until the
			 * bootloader falls back. */
			r.outcome = FLT_FW_CONFIRM_FAILED;
			r.reason = FLT_REASON_BOOT_FAILED;
			*rep = r;
			return FLT_OK;
		}
		if ((e = flt_slot_mark_good(fw->slot, booted)) != FLT_OK)
			return e;
		st->committed_slot = booted;
		st->committed_version = st->pending_version;
		clear_pending(st);
		if ((e = state_save(fw)) != FLT_OK)
			return e;
		flt_log_info("firmware %llu confirmed in slot %c", (unsigned long long)r.version,
		             flt_slot_letter(booted));
		r.outcome = FLT_FW_CONFIRMED;
		*rep = r;
		return FLT_OK;
	}
	/* Still on the old slot: not rebooted yet, the arming never reached the
	 * bootloader, or the bootloader fell back. Its own state tells which. */
	struct flt_slot_boot b;
	e = flt_slot_get_boot(fw->slot, &b);
	if (e == FLT_EUNSUPPORTED) {
		if (st->phase == PH_REBOOTING)
			e = rolled_back(fw, booted, &r);
		else
			r.outcome = FLT_FW_REBOOT_PENDING, e = FLT_OK;
	} else if (e) {
		return e;
	} else if (b.order[0] != st->pending_slot) {
		/* Cut between persisting "armed" and telling the bootloader. */
		if ((e = flt_slot_set_next(fw->slot, st->pending_slot, fw->tries)) == FLT_OK) {
			st->phase = PH_ARMED;
			e = state_save(fw);
		}
		r.outcome = FLT_FW_REBOOT_PENDING;
	} else if (b.tries[st->pending_slot] > 0) {
		r.outcome = FLT_FW_REBOOT_PENDING;
	} else {
		e = rolled_back(fw, booted, &r);
	}
	if (e)
		return e;
	*rep = r;
	return FLT_OK;
}

flt_err flt_fw_begin(struct flt_fw *fw, const char *name, uint64_t version,
                     const char *deployment_id, uint64_t size, const char *sha256_hex,
                     enum flt_reason *reason)
{
	struct fw_state *st = &fw->st;
	int booted = FLT_SLOT_NONE;
	flt_err e;
	*reason = FLT_REASON_NONE;
	if (version == 0 || size == 0 || !deploy_valid(deployment_id) || !deploy_valid(name) ||
	    !sha256_hex || !flt_is_sha256_hex(sha256_hex))
		return FLT_EINVAL;
	if (flt_fw_is_bad(fw, version, deployment_id)) {
		*reason = FLT_REASON_MARKED_BAD;
		return FLT_EINCOMPAT;
	}
	if (fw->w || st->phase == PH_ARMED || st->phase == PH_REBOOTING)
		return FLT_EBUSY;
	if ((e = flt_slot_booted(fw->slot, &booted)) != FLT_OK)
		return e;
	int target = !booted;
	/* Durable before the first byte: the slot no longer claims any version. */
	st->slot_version[target] = 0;
	st->phase = PH_WRITING;
	st->pending_slot = target;
	st->pending_version = version;
	st->pending_size = size;
	copy_str(st->pending_deploy, sizeof(st->pending_deploy), deployment_id);
	copy_str(st->pending_name, sizeof(st->pending_name), name);
	copy_str(st->pending_sha, sizeof(st->pending_sha), sha256_hex);
	if ((e = state_save(fw)) != FLT_OK) {
		*reason = FLT_REASON_IO_ERROR;
		return e;
	}
	if ((e = flt_slot_write_open(fw->slot, target, size, &fw->w)) != FLT_OK) {
		*reason = FLT_REASON_IO_ERROR;
		return e;
	}
	fw->written = 0;
	return FLT_OK;
}

flt_err flt_fw_write(struct flt_fw *fw, const void *buf, size_t len)
{
	if (!fw->w)
		return FLT_EINVAL;
	if (len > fw->st.pending_size - fw->written)
		return FLT_ELIMIT;
	flt_err e = flt_slot_write(fw->w, buf, len);
	if (e) {
		flt_fw_abort(fw);
		return e;
	}
	fw->written += len;
	return FLT_OK;
}

void flt_fw_abort(struct flt_fw *fw)
{
	if (!fw || !fw->w)
		return;
	flt_slot_write_abort(fw->w);
	fw->w = NULL;
	clear_pending(&fw->st);
	if (state_save(fw) != FLT_OK)
		flt_log_warn("cannot record the abandoned write; the next start does");
}

flt_err flt_fw_finish(struct flt_fw *fw, enum flt_reason *reason)
{
	struct fw_state *st = &fw->st;
	uint8_t got[FLT_SHA256_LEN], want[FLT_SHA256_LEN];
	flt_err e;
	*reason = FLT_REASON_NONE;
	if (!fw->w)
		return FLT_EINVAL;
	if (fw->written != st->pending_size) {
		flt_fw_abort(fw);
		*reason = FLT_REASON_FILE_HASH_MISMATCH;
		return FLT_EVERIFY;
	}
	e = flt_slot_write_finish(fw->w);
	fw->w = NULL;
	if (e) {
		*reason = FLT_REASON_IO_ERROR;
		goto fail;
	}
	/* Re-read from the slot: what counts is what it holds, not what we sent. */
	if ((e = flt_slot_read_hash(fw->slot, st->pending_slot, st->pending_size, got)) != FLT_OK ||
	    (e = flt_hex_decode(st->pending_sha, FLT_SHA256_HEX_LEN, want, sizeof(want))) !=
	        FLT_OK ||
	    !flt_ct_equal(got, want, sizeof(got))) {
		if (!e || e == FLT_EVERIFY) {
			flt_log_err("slot %c does not hold the image just written (hash mismatch)",
			            flt_slot_letter(st->pending_slot));
			e = FLT_EVERIFY;
			*reason = FLT_REASON_FILE_HASH_MISMATCH;
		} else {
			*reason = FLT_REASON_IO_ERROR;
		}
		goto fail;
	}
	st->slot_version[st->pending_slot] = st->pending_version;
	st->phase = PH_ARMED;
	if ((e = state_save(fw)) != FLT_OK) {
		*reason = FLT_REASON_IO_ERROR;
		return e;
	}
	if ((e = flt_slot_set_next(fw->slot, st->pending_slot, fw->tries)) != FLT_OK) {
		*reason = FLT_REASON_ACTIVATION_FAILED;
		return e; /* the next start retries the arming (flt_fw_boot) */
	}
	return FLT_OK;
fail:
	clear_pending(st);
	if (state_save(fw) != FLT_OK)
		flt_log_warn("cannot record the failed write; the next start does");
	return e;
}

flt_err flt_fw_reboot(struct flt_fw *fw)
{
	struct fw_state *st = &fw->st;
	flt_err e;
	if (st->phase != PH_ARMED && st->phase != PH_REBOOTING)
		return FLT_EINVAL;
	st->phase = PH_REBOOTING;
	if ((e = state_save(fw)) != FLT_OK)
		return e;
	if (!fw->reboot_cmd)
		return FLT_EUNSUPPORTED;
	int status = 0;
	if ((e = flt_slot_run_line(fw->reboot_cmd, NULL, NULL, NULL, 0, &status)) != FLT_OK)
		return e;
	if (status != 0) {
		flt_log_err("'%s' failed with status %d", fw->reboot_cmd, status);
		return FLT_EIO;
	}
	return FLT_OK;
}

uint64_t flt_fw_committed_version(const struct flt_fw *fw)
{
	return fw->st.committed_version;
}

uint64_t flt_fw_slot_version(const struct flt_fw *fw, int slot)
{
	return (slot == FLT_SLOT_A || slot == FLT_SLOT_B) ? fw->st.slot_version[slot] : 0;
}

struct flt_slot *flt_fw_slot(struct flt_fw *fw)
{
	return fw->slot;
}
