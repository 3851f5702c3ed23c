/* Pipeline step 2: the chunk index, then only the missing chunks of the
 * artifact (bounded in flight, each checked against the index on arrival,
 * duplicates dropped, the resume map saved only after the chunks it claims
 * are synced), then the golden bundle. A stall past the deadline fails. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.fetch"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/fileio.h"
#include "flt/log.h"
#include "flt/sys.h"

#define SYNC_EVERY 16u

static void fetch_clear(struct flt_agentd *a, struct agentd_fetch *f)
{
	if (f->subscribed && a->net) {
		char filter[128];
		snprintf(filter, sizeof(filter), "flotilla/v1/art/%s/#", f->sha_hex);
		(void)net_unsubscribe(a->net, filter);
	}
	if (f->fd >= 0)
		(void)flt_fio_close(f->fd, NULL);
	flt_free(f->mem);
	flt_free(f->have);
	flt_free(f->asked_ms);
	flt_resume_map_free(f->map);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static int staging_path(struct flt_agentd *a, const struct agentd_model *m, const char *file,
                        char *buf, size_t cap)
{
	return store_path(a, buf, cap, "staging/%s-%llu%s%s", m->name,
	                  (unsigned long long)m->version, file ? "/" : "", file ? file : "");
}

static flt_err setup(struct agentd_fetch *f, const uint8_t *sha, uint64_t size, uint32_t chunk_size,
                     bool mem)
{
	memcpy(f->sha, sha, FLT_SHA256_LEN);
	if (flt_hex_encode(sha, FLT_SHA256_LEN, f->sha_hex, sizeof(f->sha_hex)))
		return FLT_EINTERNAL;
	f->size = size;
	f->chunk_size = chunk_size;
	uint64_t count = flt_manifest_chunk_count(size, chunk_size);
	if (count == 0 || count > FLT_MAX_CHUNKS)
		return FLT_ELIMIT;
	f->count = (uint32_t)count;
	f->to_memory = mem;
	f->fd = -1;
	if (!(f->asked_ms = flt_calloc(f->count, sizeof(*f->asked_ms))))
		return FLT_ENOMEM;
	if (mem) {
		if (size > SIZE_MAX || !(f->mem = flt_malloc((size_t)size)) ||
		    !(f->have = flt_calloc(f->count, 1)))
			return FLT_ENOMEM;
	}
	f->last_progress_ms = flt_sys_mono_ms();
	return FLT_OK;
}

/* Opens (or resumes) the partial artifact and its resume map. */
static flt_err open_artifact(struct flt_agentd *a, struct agentd_model *m, struct agentd_fetch *f)
{
	char dir[AGENTD_PATH], part[AGENTD_PATH], mapp[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	if (staging_path(a, m, NULL, dir, sizeof(dir)) ||
	    staging_path(a, m, "artifact.part", part, sizeof(part)) ||
	    staging_path(a, m, "artifact.map", mapp, sizeof(mapp)))
		return FLT_EINVAL;
	flt_err e = flt_file_mkdirs(dir, 0700, "install.mkdir");
	if (e)
		return e;
	(void)flt_file_remove_stale_temps(mapp);
	e = flt_file_read_all(mapp, 64u * 1024u * 1024u, &buf, &len, "install.resume.load");
	if (!e) {
		e = flt_resume_map_load(buf, len, f->sha, f->count, &f->map);
		flt_free(buf);
		if (e) {
			flt_log_warn("%s: resume map unusable (%s), starting afresh", m->name,
			             flt_strerror(e));
			f->map = NULL;
		}
	}
	if (!f->map && (e = flt_resume_map_new(f->sha, f->count, &f->map)))
		return e;
	if ((e = flt_fio_open(part, O_RDWR | O_CREAT, 0600, &f->fd, "install.chunk.open")))
		return e;
	if (flt_resume_map_present(f->map))
		flt_log_info("%s v%llu: resuming, %u of %u chunks present", m->name,
		             (unsigned long long)m->version, flt_resume_map_present(f->map),
		             f->count);
	return FLT_OK;
}

static flt_err start_phase(struct flt_agentd *a, struct agentd_model *m)
{
	struct agentd_job *j = m->job;
	const struct flt_manifest *man = j->man;
	uint8_t sha[FLT_SHA256_LEN];
	fetch_clear(a, &j->f);
	flt_err e = FLT_OK;
	switch (j->phase) {
	case 0:
		if ((e = flt_hex_decode(man->chunk_index_sha256, 64, sha, sizeof(sha))))
			return e;
		return setup(&j->f, sha, man->chunk_index_size, man->chunk_size, true);
	case 1:
		if ((e = flt_hex_decode(man->artifact_sha256, 64, sha, sizeof(sha))) ||
		    (e = setup(&j->f, sha, man->artifact_size, man->chunk_size, false)))
			return e;
		return open_artifact(a, m, &j->f);
	case 2:
		if ((e = flt_hex_decode(man->golden_sha256, 64, sha, sizeof(sha))))
			return e;
		return setup(&j->f, sha, man->golden_size, man->chunk_size, true);
	default: return FLT_OK;
	}
}

flt_err fetch_begin(struct flt_agentd *a, struct agentd_model *m)
{
	m->job->phase = 0;
	m->job->f.fd = -1;
	return start_phase(a, m);
}

void fetch_abort(struct flt_agentd *a, struct agentd_model *m)
{
	if (m->job)
		fetch_clear(a, &m->job->f);
}

static uint32_t chunk_len(const struct agentd_fetch *f, uint32_t i)
{
	uint64_t off = (uint64_t)i * f->chunk_size;
	uint64_t rest = f->size - off;
	return rest < f->chunk_size ? (uint32_t)rest : f->chunk_size;
}

static bool present(const struct agentd_fetch *f, uint32_t i)
{
	return f->to_memory ? f->have[i] != 0 : flt_resume_map_test(f->map, i);
}

static flt_err save_map(struct flt_agentd *a, struct agentd_model *m, struct agentd_fetch *f)
{
	char mapp[AGENTD_PATH];
	uint8_t *buf = NULL;
	size_t len = 0;
	if (staging_path(a, m, "artifact.map", mapp, sizeof(mapp)))
		return FLT_EINVAL;
	/* the map may only claim chunks that are durable */
	flt_err e = flt_fio_fdatasync(f->fd, "install.chunk.sync");
	if (!e)
		e = flt_resume_map_serialize(f->map, &buf, &len);
	if (!e)
		e = flt_file_write_atomic(mapp, buf, len, 0600, "install.resume");
	flt_free(buf);
	if (!e)
		f->unsynced = 0;
	return e;
}

static void phase_done(struct flt_agentd *a, struct agentd_model *m)
{
	struct agentd_job *j = m->job;
	struct agentd_fetch *f = &j->f;
	flt_err e;
	if (j->phase == 0) {
		uint8_t isha[FLT_SHA256_LEN], asha[FLT_SHA256_LEN];
		struct flt_chunk_index_expect ex = {.index_sha256 = isha,
		                                    .artifact_sha256 = asha,
		                                    .artifact_size = j->man->artifact_size,
		                                    .chunk_size = j->man->chunk_size};
		if (flt_hex_decode(j->man->chunk_index_sha256, 64, isha, 32) ||
		    flt_hex_decode(j->man->artifact_sha256, 64, asha, 32) ||
		    (e = flt_chunk_index_decode(f->mem, (size_t)f->size, &ex, &j->index))) {
			install_fail(a, m, FLT_REASON_CHUNK_INDEX_MISMATCH,
			             "chunk index does not match the manifest");
			return;
		}
		j->phase = 1;
	} else if (j->phase == 1) {
		if ((e = save_map(a, m, f))) {
			install_fail(a, m, FLT_REASON_IO_ERROR, "saving the resume map failed");
			return;
		}
		j->phase = j->man->has_golden ? 2 : 3;
	} else if (j->phase == 2) {
		uint8_t sha[FLT_SHA256_LEN];
		if (flt_sha256(f->mem, (size_t)f->size, sha) ||
		    !flt_ct_equal(sha, f->sha, sizeof(sha))) {
			install_fail(a, m, FLT_REASON_FILE_HASH_MISMATCH,
			             "golden bundle hash mismatch");
			return;
		}
		j->golden = f->mem;
		j->golden_len = (size_t)f->size;
		f->mem = NULL;
		j->phase = 3;
	}
	if ((e = start_phase(a, m))) {
		install_fail(a, m, FLT_REASON_IO_ERROR, "cannot open the download");
		return;
	}
	if (j->phase == 3) {
		fetch_clear(a, &j->f);
		install_after_download(a, m);
		return;
	}
	fetch_tick(a, m, flt_sys_mono_ms());
}

static bool complete(const struct agentd_fetch *f)
{
	return f->to_memory ? f->n_have == f->count : flt_resume_map_complete(f->map);
}

static void chunk_for(struct flt_agentd *a, struct agentd_model *m, const struct flt_chunk *cp)
{
	const struct flt_chunk c = *cp;
	struct agentd_job *j = m->job;
	if (!j || j->phase > 2 || m->step != FLT_STEP_DOWNLOADING)
		return;
	struct agentd_fetch *f = &j->f;
	if (!flt_ct_equal(c.artifact_sha256, f->sha, FLT_SHA256_LEN) || c.count != f->count)
		return;
	if (present(f, c.index)) {
		if (f->asked_ms[c.index])
			f->asked_ms[c.index] = 0;
		return; /* duplicate */
	}
	if (c.len != chunk_len(f, c.index)) {
		install_fail(a, m, FLT_REASON_CHUNK_HASH_MISMATCH, "chunk of the wrong length");
		return;
	}
	if (f->asked_ms[c.index]) {
		f->asked_ms[c.index] = 0;
		f->outstanding--;
	}
	f->last_progress_ms = flt_sys_mono_ms();
	if (f->to_memory) {
		memcpy(f->mem + (size_t)c.index * f->chunk_size, c.data, c.len);
		f->have[c.index] = 1;
		f->n_have++;
	} else {
		if (flt_chunk_index_check(j->index, c.index, c.data, c.len)) {
			char msg[80];
			snprintf(msg, sizeof(msg), "chunk %u hash mismatch", c.index);
			install_fail(a, m, FLT_REASON_CHUNK_HASH_MISMATCH, msg);
			return;
		}
		flt_err e =
		    flt_fio_pwrite(f->fd, c.data, c.len, (off_t)((uint64_t)c.index * f->chunk_size),
		                   "install.chunk.write");
		if (!e)
			e = flt_resume_map_set(f->map, c.index);
		if (!e && ++f->unsynced >= SYNC_EVERY && !complete(f))
			e = save_map(a, m, f);
		if (e) {
			install_fail(a, m, FLT_REASON_IO_ERROR, "writing a chunk failed");
			return;
		}
		a->counters.chunks_written++;
	}
	if (complete(f))
		phase_done(a, m);
}

void fetch_on_chunk(struct flt_agentd *a, const uint8_t *buf, size_t len)
{
	struct flt_chunk c;
	if (flt_chunk_decode(buf, len, a->conf.max_packet, &c)) {
		flt_log_dbg("undecodable chunk message dropped");
		return;
	}
	for (size_t i = 0; i < a->n_models; i++)
		chunk_for(a, &a->models[i], &c);
	chunk_for(a, &a->ota_m, &c);
}

void fetch_resubscribe(struct flt_agentd *a)
{
	for (size_t i = 0; i <= a->n_models; i++) {
		struct agentd_job *j = i < a->n_models ? a->models[i].job : a->ota_m.job;
		if (!j || j->phase > 2)
			continue;
		j->f.subscribed = false;
		/* a new connection: nothing asked before will come now */
		for (uint32_t k = 0; k < j->f.count; k++)
			j->f.asked_ms[k] = 0;
		j->f.outstanding = 0;
		j->f.last_progress_ms = flt_sys_mono_ms();
	}
}

void fetch_tick(struct flt_agentd *a, struct agentd_model *m, uint64_t now)
{
	struct agentd_job *j = m->job;
	if (!j || j->phase > 2 || m->step != FLT_STEP_DOWNLOADING)
		return;
	struct agentd_fetch *f = &j->f;
	if (complete(f)) { /* resumed with everything already on disk */
		phase_done(a, m);
		return;
	}
	if (!a->connected) {
		f->last_progress_ms = now; /* offline is not a stall */
		return;
	}
	if (now - f->last_progress_ms > (uint64_t)a->conf.stall_s * 1000u) {
		install_fail(a, m, FLT_REASON_DOWNLOAD_STALLED,
		             "no chunk arrived within install.stall_timeout");
		return;
	}
	if (!f->subscribed) {
		char filter[128];
		snprintf(filter, sizeof(filter), "flotilla/v1/art/%s/#", f->sha_hex);
		if (net_subscribe(a->net, filter) == FLT_OK)
			f->subscribed = true;
	}
	struct flt_fetch req;
	memset(&req, 0, sizeof(req));
	memcpy(req.artifact, f->sha_hex, sizeof(req.artifact));
	uint32_t budget = (uint32_t)a->conf.chunks_in_flight;
	uint32_t asked = 0;
	for (uint32_t i = 0; i < f->count && req.n_ranges < FLT_MAX_FETCH_RANGES; i++) {
		if (present(f, i))
			continue;
		if (f->asked_ms[i]) {
			if (now - f->asked_ms[i] < (uint64_t)a->conf.refetch_ms)
				continue;
			f->asked_ms[i] = 0; /* lost: ask again */
			f->outstanding--;
		}
		if (f->outstanding >= budget)
			break;
		f->asked_ms[i] = now ? now : 1;
		f->outstanding++;
		asked++;
		struct flt_chunk_range *r = req.n_ranges ? &req.ranges[req.n_ranges - 1] : NULL;
		if (r && r->first + r->count == i)
			r->count++;
		else
			req.ranges[req.n_ranges++] = (struct flt_chunk_range){i, 1};
	}
	if (!asked)
		return;
	char *text = NULL;
	size_t len = 0;
	if (flt_fetch_encode(&req, &text, &len) == FLT_OK) {
		agentd_publish(a, "up/fetch", text, len, false, NET_CHUNKS);
		a->counters.fetch_requests++;
	}
	flt_free(text);
}
