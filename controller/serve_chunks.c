/* The chunk server: answers up/fetch with chunks of the artifacts named in the
 * device's current desired state (model file, chunk index, golden bundle),
 * with the chunk size of the envelope it was sent. Work is bounded per device
 * and in total (excess is dropped: the agent re-requests what is missing),
 * and a publish refused for size is a clear error, never a resend loop. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FLT_LOG_MODULE "serve"
#include "flt/alloc.h"
#include "flt/chunk.h"
#include "flt/log.h"
#include "blob_store.h"
#include "serve_loop.h"

static uint64_t queued_for(const struct serve *s, const char *dev)
{
	uint64_t n = 0;
	for (const struct serve_chunk_job *j = s->jobs; j; j = j->next)
		if (!strcmp(j->dev, dev))
			n += j->queued;
	return n;
}

static void job_free(struct serve_chunk_job *j)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	flt_free(j);
}

void serve_chunks_free(struct serve *s)
{
	while (s->jobs) {
		struct serve_chunk_job *n = s->jobs->next;
		job_free(s->jobs);
		s->jobs = n;
	}
	s->jobs_queued = 0;
}

void serve_chunks_drop_device(struct serve *s, const char *dev)
{
	struct serve_chunk_job **pp = &s->jobs;
	while (*pp) {
		struct serve_chunk_job *j = *pp;
		if (strcmp(j->dev, dev)) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		s->jobs_queued -= j->queued <= s->jobs_queued ? j->queued : s->jobs_queued;
		job_free(j);
	}
}

void serve_on_fetch(struct serve *s, const char *dev, const uint8_t *p, size_t len)
{
	struct flt_fetch f;
	sqlite3_stmt *st = NULL;
	int row = 0;
	char path[4096];
	struct serve_chunk_job *j = NULL;
	if (serve_device_revoked(s, dev))
		return;
	flt_err e = flt_fetch_parse((const char *)p, len, &f, NULL);
	if (e) {
		flt_log_warn("device %s: fetch refused: %s", dev, flt_strerror(e));
		return;
	}
	if ((e = reg_stmt(s->reg, REG_Q_FETCH_ARTIFACT, &st)) != FLT_OK ||
	    (e = reg_bind(s->reg, st, "tt", dev, f.artifact)) != FLT_OK ||
	    (e = reg_step(s->reg, st, &row)) != FLT_OK)
		return;
	if (!row) {
		sqlite3_reset(st);
		flt_log_warn(
		    "device %s asked for artifact %.12s… which is not in its desired state", dev,
		    f.artifact);
		return;
	}
	j = flt_calloc(1, sizeof(*j));
	if (!j)
		return;
	j->fd = -1;
	j->env_id = sqlite3_column_int64(st, 0);
	j->chunk_size = (uint32_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	snprintf(j->dev, sizeof(j->dev), "%s", dev);
	memcpy(j->sha, f.artifact, sizeof(j->sha));
	if ((e = blob_path(s->reg->blob_root, f.artifact, path, sizeof(path))) != FLT_OK)
		goto fail;
	j->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (j->fd < 0) {
		flt_log_err("artifact %s is missing from the blob store (%s)", f.artifact, path);
		goto fail;
	}
	off_t end = lseek(j->fd, 0, SEEK_END);
	if (end <= 0)
		goto fail;
	j->size = (uint64_t)end;
	j->count = (uint32_t)((j->size + j->chunk_size - 1) / j->chunk_size);
	uint64_t dev_room = (uint64_t)s->conf.chunks_per_device - queued_for(s, dev);
	if (queued_for(s, dev) >= (uint64_t)s->conf.chunks_per_device)
		dev_room = 0;
	uint64_t tot_room = s->jobs_queued >= (uint64_t)s->conf.chunks_total
	                        ? 0
	                        : (uint64_t)s->conf.chunks_total - s->jobs_queued;
	uint64_t room = dev_room < tot_room ? dev_room : tot_room;
	for (size_t i = 0; i < f.n_ranges && room > 0; i++) {
		struct flt_chunk_range r = f.ranges[i];
		if (r.first >= j->count)
			break; /* ranges ascend: the rest is beyond the artifact too */
		if (r.count > j->count - r.first)
			r.count = j->count - r.first;
		if (r.count > room)
			r.count = (uint32_t)room;
		j->ranges[j->n_ranges++] = r;
		j->queued += r.count;
		room -= r.count;
	}
	if (j->queued == 0) {
		flt_log_dbg("device %s: fetch of %.12s… dropped (queue full or out of range)", dev,
		            f.artifact);
		goto fail;
	}
	s->jobs_queued += j->queued;
	/* Append, so devices are served in arrival order. */
	struct serve_chunk_job **tail = &s->jobs;
	while (*tail)
		tail = &(*tail)->next;
	*tail = j;
	return;
fail:
	job_free(j);
}

/* Sends the next chunk of j. FLT_EBUSY: in-flight window full, try later. */
static flt_err send_one(struct serve *s, struct serve_chunk_job *j, uint8_t *buf, size_t cap)
{
	struct flt_chunk c;
	char topic[256];
	size_t outlen = 0;
	uint32_t idx = j->ranges[j->cur_range].first + j->cur;
	uint64_t off = (uint64_t)idx * j->chunk_size;
	uint64_t n = j->size - off < j->chunk_size ? j->size - off : j->chunk_size;
	if (FLT_CHUNK_HEADER_LEN + n > cap)
		return FLT_ELIMIT;
	ssize_t got = pread(j->fd, buf + FLT_CHUNK_HEADER_LEN, (size_t)n, (off_t)off);
	if (got < 0 || (uint64_t)got != n)
		return FLT_EIO;
	memset(&c, 0, sizeof(c));
	flt_err e = flt_hex_decode(j->sha, 64, c.artifact_sha256, sizeof(c.artifact_sha256));
	if (e)
		return e;
	c.index = idx;
	c.count = j->count;
	c.len = (uint32_t)n;
	c.data = buf + FLT_CHUNK_HEADER_LEN;
	if ((e = flt_chunk_encode_header(&c, buf)) != FLT_OK)
		return e;
	outlen = FLT_CHUNK_HEADER_LEN + (size_t)n;
	char suffix[96];
	snprintf(suffix, sizeof(suffix), "down/chunk/%s", j->sha);
	if ((e = serve_topic(topic, sizeof(topic), j->dev, suffix)) != FLT_OK)
		return e;
	return flt_mqtt_publish(s->mq, topic, buf, outlen, 1, false, FLT_MQTT_PURPOSE_CHUNKS, NULL);
}

void serve_send_chunks(struct serve *s)
{
	static uint8_t *buf;
	static size_t cap;
	if (!s->jobs || !s->connected)
		return;
	size_t need = FLT_CHUNK_HEADER_LEN + (size_t)s->conf.chunk_max;
	if (cap < need) {
		uint8_t *nb = flt_realloc(buf, need);
		if (!nb)
			return;
		buf = nb;
		cap = need;
	}
	while (s->jobs) {
		struct serve_chunk_job *j = s->jobs;
		flt_err e = j->chunk_size + (size_t)FLT_CHUNK_HEADER_LEN > cap
		                ? FLT_ELIMIT
		                : send_one(s, j, buf, cap);
		if (e == FLT_EBUSY || e == FLT_ENOCONN)
			return; /* window full or connection lost: continue later */
		if (e == FLT_ELIMIT) {
			/* The envelope's chunks no longer fit what the broker takes: say so,
			 * retire the envelope so the next pass re-signs with smaller chunks,
			 * and drop the job. Never resend the same oversized publish. */
			flt_log_err(
			    "chunks of %u bytes for artifact %.12s… exceed the broker's maximum "
			    "packet size (%u bytes): envelope %lld retired, it will be re-signed "
			    "with smaller chunks",
			    j->chunk_size, j->sha, flt_mqtt_publish_limit(s->mq),
			    (long long)j->env_id);
			serve_db_idle(s->reg);
			if (reg_exec(s->reg, REG_Q_REL_ENVELOPE_STALE, "i", j->env_id) == FLT_OK)
				s->dirty = true;
			s->jobs_queued -= j->queued;
			s->jobs = j->next;
			job_free(j);
			continue;
		}
		if (e)
			flt_log_warn("device %s: chunk of %.12s… not sent: %s", j->dev, j->sha,
			             flt_strerror(e));
		j->queued--;
		s->jobs_queued--;
		if (++j->cur >= j->ranges[j->cur_range].count) {
			j->cur = 0;
			j->cur_range++;
		}
		if (j->cur_range >= j->n_ranges) {
			s->jobs = j->next;
			job_free(j);
		} else if (j->next) {
			/* Round robin between devices: move this job to the end. */
			s->jobs = j->next;
			struct serve_chunk_job **tail = &s->jobs;
			while (*tail)
				tail = &(*tail)->next;
			j->next = NULL;
			*tail = j;
		}
	}
}
