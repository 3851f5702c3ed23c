/* Telemetry ingest into the registry (samples/s through serve's batched,
 * deduplicating store path) and `model usage` latency over a fleet with
 * 30 days of retained samples. BENCH=quick scales the fleet down. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "benchlib.h"
#include "flt/alloc.h"
#include "flt/controller.h"
#include "flt/log.h"
#include "flt/registry.h"
#include "serve_loop.h"

static char dir[] = "/tmp/flt-bench-ingest-XXXXXX";

static void rm_rf(const char *d)
{
	char cmd[256];
	/* Only our own mkdtemp folder. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", d);
}

/* A batch of n model samples for device dev, seq from first, times from t0. */
static struct serve_stream_msg *batch(const char *dev, uint64_t epoch, uint64_t first, size_t n,
                                      int64_t t0, int64_t step)
{
	struct serve_stream_msg *m = flt_calloc(1, sizeof(*m));
	struct flt_telemetry_batch *b = flt_calloc(1, sizeof(*b));
	b->samples = flt_calloc(n, sizeof(*b->samples));
	b->n = n;
	b->epoch = epoch;
	b->low_seq = first;
	for (size_t i = 0; i < n; i++) {
		struct flt_sample *s = &b->samples[i];
		s->seq = first + i;
		s->time = t0 + (int64_t)i * step;
		s->interval_s = 60;
		s->type = FLT_SAMPLE_MODEL;
		snprintf(s->u.model.name, sizeof(s->u.model.name), "digits");
		s->u.model.version = 1;
		s->u.model.requests = 1000;
		s->u.model.errors[1] = (uint64_t)(i % 3);
		s->u.model.p50_us = 800;
		s->u.model.p95_us = 1500 + i % 100;
		s->u.model.p99_us = 4000;
	}
	snprintf(m->dev, sizeof(m->dev), "%s", dev);
	m->stream = FLT_STREAM_TELEMETRY;
	m->telemetry = b;
	return m;
}

static void free_list(struct serve_stream_msg *m)
{
	while (m) {
		struct serve_stream_msg *n = m->next;
		flt_telemetry_free(m->telemetry);
		flt_free(m);
		m = n;
	}
}

/* Fills `days` of samples for `ndev` devices, one per `step` seconds. */
static double fill(struct flt_registry *r, int ndev, int64_t now, int days, int64_t step,
                   uint64_t *stored)
{
	const size_t per_msg = 64, per_txn = 64;
	int64_t start = now - (int64_t)days * 86400;
	uint64_t nsamples = (uint64_t)((now - start) / step);
	double t0 = bench_now();
	for (int d = 0; d < ndev; d++) {
		char dev[32];
		snprintf(dev, sizeof(dev), "dev-%04d", d);
		uint64_t seq = 1;
		while (seq <= nsamples) {
			struct serve_stream_msg *list = NULL, **tail = &list;
			for (size_t k = 0; k < per_txn && seq <= nsamples; k++) {
				size_t n = nsamples - seq + 1 < per_msg
				               ? (size_t)(nsamples - seq + 1)
				               : per_msg;
				*tail =
				    batch(dev, 1, seq, n, start + (int64_t)(seq - 1) * step, step);
				tail = &(*tail)->next;
				seq += n;
			}
			if (serve_store_streams(r, list, 0, stored) != FLT_OK) {
				fprintf(stderr, "store failed\n");
				exit(1);
			}
			free_list(list);
		}
	}
	return bench_now() - t0;
}

int main(void)
{
	int full = bench_full();
	flt_log_set_level(FLT_LOG_ERROR);
	struct flt_registry *r = NULL;
	if (!mkdtemp(dir) || flt_registry_open(dir, 1, &r) != FLT_OK) {
		fprintf(stderr, "cannot create a registry in %s\n", dir);
		return 1;
	}
	int64_t now = (int64_t)time(NULL);

	/* 1. Ingest throughput: 100 devices x 1 day of per-minute samples. */
	uint64_t stored = 0;
	int ndev1 = full ? 100 : 20;
	double secs = fill(r, ndev1, now, 1, 60, &stored);
	char notes[256];
	snprintf(notes, sizeof(notes),
	         "%llu model samples from %d devices, 64 per batch, 64 batches per transaction, "
	         "insert-or-ignore dedup, WAL; %s",
	         (unsigned long long)stored, ndev1, full ? "full" : "quick (20 devices)");
	struct bench_fig f1 = {"telemetry ingest into SQLite",
	                       (double)stored / secs,
	                       "samples/s",
	                       NULL,
	                       0,
	                       "value",
	                       ">=",
	                       20000,
	                       notes};
	bench_emit("bench_ingest", &f1);
	flt_registry_close(r);
	rm_rf(dir);

	/* 2. `model usage` over 30 days retained: fresh registry with the model. */
	snprintf(dir, sizeof(dir), "/tmp/flt-bench-ingest-XXXXXX");
	if (!mkdtemp(dir) || flt_registry_open(dir, 1, &r) != FLT_OK)
		return 1;
	char model[256];
	snprintf(model, sizeof(model), "%s/m.bin", dir);
	FILE *mf = fopen(model, "w");
	fputs("model bytes", mf);
	fclose(mf);
	setenv("FLOTILLA_DATA_DIR", dir, 1);
	char *reg[] = {"flotilla", "model", "register",    "generic", "-n", "digits",
	               "-f",       model,   "--framework", "custom",  NULL};
	fflush(stdout);
	int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 1);
	int rc = flt_controller_cli(10, reg);
	dup2(saved, 1);
	if (rc != 0) {
		fprintf(stderr, "register failed\n");
		return 1;
	}
	int ndev = full ? 1000 : 100;
	int64_t step = full ? 600 : 3600; /* full: every 10 min; quick: hourly */
	stored = 0;
	double fill_s = fill(r, ndev, now, 30, step, &stored);
	flt_registry_close(r);
	char *usage[] = {"flotilla", "model", "usage", "digits", "-o", "json", NULL};
	int runs = 5;
	double best = 1e9;
	for (int i = 0; i < runs; i++) {
		dup2(devnull, 1);
		double t0 = bench_now();
		rc = flt_controller_cli(6, usage);
		double t = bench_now() - t0;
		dup2(saved, 1);
		if (rc != 0) {
			fprintf(stderr, "usage failed\n");
			return 1;
		}
		if (t < best)
			best = t;
	}
	snprintf(
	    notes, sizeof(notes),
	    "%d devices, 30 days retained, one sample per %llds per device (%llu rows, filled in "
	    "%.1fs); default 24h window; best of %d; %s",
	    ndev, (long long)step, (unsigned long long)stored, fill_s, runs,
	    full ? "full" : "quick (100 devices, hourly samples)");
	struct bench_fig f2 = {
	    "model usage latency", best * 1000.0, "ms", NULL, 0, "value", "<=", 1000, notes};
	bench_emit("bench_ingest", &f2);
	close(devnull);
	close(saved);
	rm_rf(dir);
	return 0;
}
