/* Per model version consumption counters, recorded by serving threads and taken as
 * one snapshot per telemetry interval; the log-spaced latency histogram lives here. */
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "flt/alloc.h"
#include "flt/usage.h"

/* Log-spaced buckets 1..LOG_BUCKETS between MIN and MAX. */
#define LOG_BUCKETS (FLT_USAGE_BUCKETS - 2)

struct flt_usage {
	pthread_mutex_t lock;
	size_t max_models;
	size_t n;
	struct flt_usage_entry *entries;
	uint64_t untracked;
	int64_t since_ms;
};

static const char *const outcome_names[FLT_USAGE_OUTCOME_COUNT_] = {
    [FLT_USAGE_OK] = "ok",           [FLT_USAGE_BAD_INPUT] = "bad_input",
    [FLT_USAGE_RUNTIME] = "runtime", [FLT_USAGE_BUSY] = "busy",
    [FLT_USAGE_TIMEOUT] = "timeout", [FLT_USAGE_INTERNAL] = "internal",
};

const char *flt_usage_outcome_name(enum flt_usage_outcome o)
{
	if ((unsigned)o >= FLT_USAGE_OUTCOME_COUNT_)
		return "unknown";
	return outcome_names[o];
}

static double log_ratio(void)
{
	return log((double)FLT_USAGE_LAT_MAX_NS / (double)FLT_USAGE_LAT_MIN_NS) / LOG_BUCKETS;
}

uint64_t flt_usage_bucket_lower_ns(unsigned i)
{
	if (i == 0)
		return 0;
	if (i >= FLT_USAGE_BUCKETS)
		return UINT64_MAX;
	if (i == FLT_USAGE_BUCKETS - 1)
		return FLT_USAGE_LAT_MAX_NS;
	return (uint64_t)llround((double)FLT_USAGE_LAT_MIN_NS * exp((double)(i - 1) * log_ratio()));
}

unsigned flt_usage_bucket(uint64_t ns)
{
	if (ns < FLT_USAGE_LAT_MIN_NS)
		return 0;
	if (ns >= FLT_USAGE_LAT_MAX_NS)
		return FLT_USAGE_BUCKETS - 1;
	double x = log((double)ns / (double)FLT_USAGE_LAT_MIN_NS) / log_ratio();
	unsigned i = 1 + (x > 0 ? (unsigned)x : 0);
	if (i > LOG_BUCKETS)
		i = LOG_BUCKETS;
	/* Floating point can land one bucket off at an edge; the integer bounds decide. */
	while (i > 1 && ns < flt_usage_bucket_lower_ns(i))
		i--;
	while (i < LOG_BUCKETS && ns >= flt_usage_bucket_lower_ns(i + 1))
		i++;
	return i;
}

void flt_usage_hist_add(struct flt_usage_hist *h, uint64_t ns)
{
	h->counts[flt_usage_bucket(ns)]++;
	if (h->n == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->n++;
	h->sum_ns = ns > UINT64_MAX - h->sum_ns ? UINT64_MAX : h->sum_ns + ns;
}

uint64_t flt_usage_hist_percentile(const struct flt_usage_hist *h, double p)
{
	if (!h || h->n == 0 || !(p > 0 && p <= 100))
		return 0;
	double r = ceil(p / 100.0 * (double)h->n);
	uint64_t rank = r < 1 ? 1 : (r > (double)h->n ? h->n : (uint64_t)r);
	/* The extremes are known exactly. */
	if (rank == h->n)
		return h->max_ns;
	if (rank == 1)
		return h->min_ns;
	uint64_t seen = 0;
	unsigned b = 0;
	for (; b < FLT_USAGE_BUCKETS; b++) {
		seen += h->counts[b];
		if (seen >= rank)
			break;
	}
	uint64_t v;
	if (b >= FLT_USAGE_BUCKETS)
		v = h->max_ns; /* counts inconsistent with n: fall back to a true bound */
	else if (b == 0)
		v = FLT_USAGE_LAT_MIN_NS;
	else if (b == FLT_USAGE_BUCKETS - 1)
		v = FLT_USAGE_LAT_MAX_NS;
	else
		v = (uint64_t)llround(sqrt((double)flt_usage_bucket_lower_ns(b) *
		                           (double)flt_usage_bucket_lower_ns(b + 1)));
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

flt_err flt_usage_new(size_t max_models, struct flt_usage **out)
{
	if (!out || max_models == 0 || max_models > 1024)
		return FLT_EINVAL;
	struct flt_usage *u = flt_calloc(1, sizeof(*u));
	if (!u)
		return FLT_ENOMEM;
	u->entries = flt_calloc(max_models, sizeof(*u->entries));
	if (!u->entries || pthread_mutex_init(&u->lock, NULL) != 0) {
		flt_free(u->entries);
		flt_free(u);
		return FLT_ENOMEM;
	}
	u->max_models = max_models;
	u->since_ms = now_ms();
	*out = u;
	return FLT_OK;
}

void flt_usage_free(struct flt_usage *u)
{
	if (!u)
		return;
	pthread_mutex_destroy(&u->lock);
	flt_free(u->entries);
	flt_free(u);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

flt_err flt_usage_record(struct flt_usage *u, const char *model, uint64_t version,
                         enum flt_usage_outcome outcome, uint64_t latency_ns, uint64_t bytes_in,
                         uint64_t bytes_out)
{
	if (!u || !flt_ident_valid(model) || (unsigned)outcome >= FLT_USAGE_OUTCOME_COUNT_)
		return FLT_EINVAL;
	int64_t t = now_ms();
	flt_err err = FLT_OK;
	pthread_mutex_lock(&u->lock);
	struct flt_usage_entry *e = NULL;
	for (size_t i = 0; i < u->n; i++) {
		if (u->entries[i].version == version && strcmp(u->entries[i].model, model) == 0) {
			e = &u->entries[i];
			break;
		}
	}
	if (!e) {
		if (u->n == u->max_models) {
			u->untracked++;
			err = FLT_ELIMIT;
			goto out;
		}
		e = &u->entries[u->n++];
		memset(e, 0, sizeof(*e));
		memcpy(e->model, model, strlen(model) + 1);
		e->version = version;
	}
	e->requests++;
	if (outcome != FLT_USAGE_OK)
		e->errors[outcome]++;
	e->bytes_in = sat_add(e->bytes_in, bytes_in);
	e->bytes_out = sat_add(e->bytes_out, bytes_out);
	if (t > e->last_used_ms)
		e->last_used_ms = t;
	/* Failures (a busy refusal takes microseconds) would drag the percentiles down. */
	if (outcome == FLT_USAGE_OK)
		flt_usage_hist_add(&e->latency, latency_ns);
out:
	pthread_mutex_unlock(&u->lock);
	return err;
}

void flt_usage_snapshot_free(struct flt_usage_snapshot *s)
{
	if (!s)
		return;
	flt_free(s->entries);
	flt_free(s);
}

flt_err flt_usage_snapshot_reset(struct flt_usage *u, struct flt_usage_snapshot **out)
{
	if (!u || !out)
		return FLT_EINVAL;
	/* Allocated before locking so recorders never wait on the allocator. */
	struct flt_usage_snapshot *s = flt_calloc(1, sizeof(*s));
	if (!s)
		return FLT_ENOMEM;
	s->entries = flt_calloc(u->max_models, sizeof(*s->entries));
	if (!s->entries) {
		flt_free(s);
		return FLT_ENOMEM;
	}
	int64_t t = now_ms();
	pthread_mutex_lock(&u->lock);
	memcpy(s->entries, u->entries, u->n * sizeof(*u->entries));
	s->n = u->n;
	s->untracked = u->untracked;
	s->since_ms = u->since_ms;
	s->until_ms = t;
	u->n = 0;
	u->untracked = 0;
	u->since_ms = t;
	pthread_mutex_unlock(&u->lock);
	*out = s;
	return FLT_OK;
}
