/* Agent slots: where a new agent binary goes (the inactive slot), how many
 * starts it gets, and the record of which slot is confirmed. Read and written
 * by the agent (install, confirm) and the supervisor (next start), never at
 * the same time: the supervisor touches it only while no agent runs. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLT_LOG_MODULE "agentslot"
#include "flt/agentslot.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/crypto.h"
#include "flt/fileio.h"
#include "flt/log.h"

static void state_path(const char *dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/state", dir);
}

flt_err flt_agentslot_binary(const char *dir, int slot, char *out, size_t cap)
{
	if (slot != FLT_SLOT_A && slot != FLT_SLOT_B)
		return FLT_EINVAL;
	int n = snprintf(out, cap, "%s/slot-%c/%s", dir, slot ? 'b' : 'a', FLT_AGENTSLOT_BINARY);
	return (n < 0 || (size_t)n >= cap) ? FLT_ELIMIT : FLT_OK;
}

flt_err flt_agentslot_load(const char *dir, struct flt_agentslot_state *out)
{
	char path[FLT_SLOT_PATH_MAX + 16];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct flt_agentslot_state st = {FLT_SLOT_A, FLT_SLOT_NONE, 0, {0, 0}, 0};
	state_path(dir, path, sizeof(path));
	flt_err e = flt_file_read_all(path, 4096, &buf, &len, "agentslot.state");
	if (e == FLT_ENOTFOUND) {
		*out = st;
		return FLT_OK;
	}
	if (e)
		return e;
	bool ok = true;
	char *save = NULL;
	for (char *line = strtok_r((char *)buf, "\n", &save); line && ok;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *end = NULL;
		if (!eq) {
			ok = false;
			break;
		}
		*eq = '\0';
		const char *k = line, *v = eq + 1;
		if (!strcmp(k, "active")) {
			ok = (st.active = flt_slot_parse(v)) != FLT_SLOT_NONE;
		} else if (!strcmp(k, "pending")) {
			st.pending = strcmp(v, "-") ? flt_slot_parse(v) : FLT_SLOT_NONE;
			ok = st.pending != FLT_SLOT_NONE || !strcmp(v, "-");
		} else if (!strcmp(k, "starts_left")) {
			long n = strtol(v, &end, 10);
			ok = *v && !*end && n >= 0 && n <= 1000;
			st.starts_left = (int)n;
		} else {
			uint64_t *dst = !strcmp(k, "version_a")     ? &st.version[0]
			                : !strcmp(k, "version_b")   ? &st.version[1]
			                : !strcmp(k, "rolled_back") ? &st.rolled_back
			                                            : NULL;
			unsigned long long n = strtoull(v, &end, 10);
			ok = dst && *v && *v != '-' && !*end;
			if (ok)
				*dst = n;
		}
	}
	flt_free(buf);
	if (!ok || st.pending == st.active) {
		flt_log_err("'%s' is corrupt", path);
		return FLT_EPARSE;
	}
	*out = st;
	return FLT_OK;
}

static flt_err state_save(const char *dir, const struct flt_agentslot_state *st)
{
	char path[FLT_SLOT_PATH_MAX + 16], buf[256];
	state_path(dir, path, sizeof(path));
	int n = snprintf(buf, sizeof(buf),
	                 "active=%c\npending=%c\nstarts_left=%d\nversion_a=%llu\nversion_b=%llu\n"
	                 "rolled_back=%llu\n",
	                 flt_slot_letter(st->active),
	                 st->pending == FLT_SLOT_NONE ? '-' : flt_slot_letter(st->pending),
	                 st->starts_left, (unsigned long long)st->version[0],
	                 (unsigned long long)st->version[1], (unsigned long long)st->rolled_back);
	return flt_file_write_atomic(path, buf, (size_t)n, 0644, "agentslot.state");
}

static flt_err copy_file(const char *src, const char *dst, flt_sha256_ctx *h)
{
	int in = -1, out = -1;
	uint8_t buf[16384];
	flt_err e = flt_fio_open(src, O_RDONLY, 0, &in, "agentslot.src.open");
	if (e)
		return e;
	if ((e = flt_fio_open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755, &out,
	                      "agentslot.bin.open")) != FLT_OK)
		goto out;
	for (;;) {
		size_t got = 0;
		if ((e = flt_fio_read(in, buf, sizeof(buf), &got, "agentslot.src.read")) != FLT_OK)
			goto out;
		if (got == 0)
			break;
		flt_sha256_update(h, buf, got);
		if ((e = flt_fio_write(out, buf, got, "agentslot.bin.write")) != FLT_OK)
			goto out;
	}
	e = flt_fio_fsync(out, "agentslot.bin.fsync");
out:
	(void)flt_fio_close(in, NULL);
	flt_err ce = flt_fio_close(out, NULL);
	return e ? e : ce;
}

flt_err flt_agentslot_install(const char *dir, const char *src, uint64_t version,
                              const char *sha256_hex, int starts)
{
	struct flt_agentslot_state st;
	char bin[FLT_SLOT_PATH_MAX + 64], tmp[FLT_SLOT_PATH_MAX + 80], sub[FLT_SLOT_PATH_MAX + 16];
	uint8_t want[FLT_SHA256_LEN], got[FLT_SHA256_LEN];
	flt_sha256_ctx h;
	flt_err e;
	if (!dir || !src || starts < 1 || !sha256_hex || !flt_is_sha256_hex(sha256_hex) ||
	    strlen(dir) >= FLT_SLOT_PATH_MAX)
		return FLT_EINVAL;
	if ((e = flt_hex_decode(sha256_hex, FLT_SHA256_HEX_LEN, want, sizeof(want))) != FLT_OK)
		return e;
	if ((e = flt_agentslot_load(dir, &st)) != FLT_OK)
		return e;
	int target = !st.active;
	/* Whatever was pending is replaced: it was never confirmed, so it is not
	 * the running agent's slot. First make sure no start picks it meanwhile. */
	if (st.pending != FLT_SLOT_NONE) {
		st.pending = FLT_SLOT_NONE;
		st.starts_left = 0;
		if ((e = state_save(dir, &st)) != FLT_OK)
			return e;
	}
	snprintf(sub, sizeof(sub), "%s/slot-%c", dir, target ? 'b' : 'a');
	if ((e = flt_file_mkdirs(sub, 0755, "agentslot.mkdir")) != FLT_OK)
		return e;
	if ((e = flt_agentslot_binary(dir, target, bin, sizeof(bin))) != FLT_OK)
		return e;
	snprintf(tmp, sizeof(tmp), "%s.new", bin);
	flt_sha256_init(&h);
	e = copy_file(src, tmp, &h);
	flt_err he = flt_sha256_final(&h, got);
	if (!e && he)
		e = he;
	if (!e && !flt_ct_equal(got, want, sizeof(got))) {
		flt_log_err("agent binary '%s' does not match its release hash", src);
		e = FLT_EVERIFY;
	}
	if (e) {
		if (flt_fio_unlink(tmp, NULL) != FLT_OK)
			flt_log_dbg("no temp file to remove");
		return e;
	}
	if ((e = flt_fio_rename(tmp, bin, "agentslot.bin.rename")) != FLT_OK ||
	    (e = flt_fio_fsync_dir(sub, "agentslot.bin.dirsync")) != FLT_OK)
		return e;
	st.version[target] = version;
	st.pending = target;
	st.starts_left = starts;
	if ((e = state_save(dir, &st)) != FLT_OK)
		return e;
	flt_log_info("agent %llu installed in slot %c; pending with %d starts",
	             (unsigned long long)version, flt_slot_letter(target), starts);
	return FLT_OK;
}

flt_err flt_agentslot_confirm(const char *dir, int slot)
{
	struct flt_agentslot_state st;
	flt_err e = flt_agentslot_load(dir, &st);
	if (e)
		return e;
	if (slot == st.active && st.pending == FLT_SLOT_NONE)
		return FLT_OK;
	if (slot != st.pending)
		return slot == st.active ? FLT_OK : FLT_EINVAL;
	st.active = slot;
	st.pending = FLT_SLOT_NONE;
	st.starts_left = 0;
	if ((e = state_save(dir, &st)) != FLT_OK)
		return e;
	flt_log_info("agent %llu in slot %c confirmed", (unsigned long long)st.version[slot],
	             flt_slot_letter(slot));
	return FLT_OK;
}

flt_err flt_agentslot_next_start(const char *dir, int *slot, uint64_t *rolled_back_version)
{
	struct flt_agentslot_state st;
	uint64_t rb = 0;
	flt_err e = flt_agentslot_load(dir, &st);
	if (e)
		return e;
	int pick = st.active;
	if (st.pending != FLT_SLOT_NONE) {
		if (st.starts_left > 0) {
			/* Spent before the start: a crash during it still counts. */
			st.starts_left--;
			pick = st.pending;
		} else {
			rb = st.version[st.pending];
			st.rolled_back = rb;
			st.pending = FLT_SLOT_NONE;
			flt_log_warn("agent %llu never confirmed; back to the agent in slot %c",
			             (unsigned long long)rb, flt_slot_letter(st.active));
		}
		if ((e = state_save(dir, &st)) != FLT_OK)
			return e;
	}
	*slot = pick;
	if (rolled_back_version)
		*rolled_back_version = rb;
	return FLT_OK;
}
