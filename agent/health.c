/* Health sampling: parsers for /proc and /sys text (buffers in, values out, fuzzed)
 * and the thin sampler that reads those files plus statvfs once per interval. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define FLT_LOG_MODULE "health"
#include "flt/alloc.h"
#include "flt/health.h"
#include "flt/log.h"

/* /proc files we read are a few KiB; anything past this is not needed. */
#define READ_CAP          8192
#define MAX_THERMAL_ZONES 64

static const char *const purpose_names[FLT_HEALTH_PURPOSE_COUNT_] = {
    [FLT_HEALTH_MQTT_CHUNKS] = "chunks",
    [FLT_HEALTH_MQTT_TELEMETRY] = "telemetry",
    [FLT_HEALTH_MQTT_STATE] = "state",
    [FLT_HEALTH_MQTT_OTHER] = "other",
};

const char *flt_health_purpose_name(enum flt_health_purpose p)
{
	if ((unsigned)p >= FLT_HEALTH_PURPOSE_COUNT_)
		return "unknown";
	return purpose_names[p];
}

/* ---- parsing helpers (never read past END, never assume a NUL) ------------ */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses decimal digits at *P into *V, refusing overflow and an empty number. */
static bool parse_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
		s++;
	}
	*p = s;
	*v = x;
	return true;
}

/* Finds the line "KEY:<blanks><number>[ kB]" and returns the number in bytes when
 * the unit is kB (as in smaps_rollup, status and meminfo), else as written. */
static bool find_field(const char *buf, size_t len, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':') {
			const char *s = p + klen + 1;
			uint64_t v;
			while (s < eol && is_blank(*s))
				s++;
			if (!parse_u64(&s, eol, &v))
				return false;
			while (s < eol && is_blank(*s))
				s++;
			if (eol - s >= 2 && s[0] == 'k' && s[1] == 'B') {
				if (v > UINT64_MAX / 1024)
					return false;
				v *= 1024;
			}
			*out = v;
			return true;
		}
		p = eol + 1;
	}
	return false;
}

/* ---- parsers ---------------------------------------------------------------- */

flt_err flt_health_parse_proc_stat(const char *buf, size_t len, uint64_t *ticks,
                                   uint64_t *start_ticks)
{
	if (!buf || !ticks || !start_ticks)
		return FLT_EINVAL;
	/* The command name is "(...)" and may itself contain ") ": the last ')' ends it. */
	const char *end = buf + len, *p = NULL;
	for (size_t i = len; i > 0; i--) {
		if (buf[i - 1] == ')') {
			p = buf + i;
			break;
		}
	}
	if (!p)
		return FLT_EPARSE;
	/* Fields after the name, from 3 (state): utime is 14, stime 15, starttime 22. */
	uint64_t utime = 0, stime = 0, start = 0;
	int field = 2;
	while (field < 22) {
		if (p >= end || *p != ' ')
			return FLT_EPARSE;
		while (p < end && *p == ' ')
			p++;
		field++;
		if (field == 14 || field == 15 || field == 22) {
			uint64_t v;
			if (!parse_u64(&p, end, &v))
				return FLT_EPARSE;
			if (field == 14)
				utime = v;
			else if (field == 15)
				stime = v;
			else
				start = v;
		} else {
			const char *t = p;
			while (p < end && *p != ' ' && *p != '\n')
				p++;
			if (p == t)
				return FLT_EPARSE;
		}
	}
	if (utime > UINT64_MAX - stime)
		return FLT_EPARSE;
	*ticks = utime + stime;
	*start_ticks = start;
	return FLT_OK;
}

flt_err flt_health_parse_smaps_rollup(const char *buf, size_t len, struct flt_health_mem *out)
{
	uint64_t rss, pss, pc, pd;
	if (!buf || !out)
		return FLT_EINVAL;
	if (!find_field(buf, len, "Rss", &rss) || !find_field(buf, len, "Pss", &pss) ||
	    !find_field(buf, len, "Private_Clean", &pc) ||
	    !find_field(buf, len, "Private_Dirty", &pd) || pc > UINT64_MAX - pd)
		return FLT_EPARSE;
	out->rss = rss;
	out->pss = pss;
	out->private_mem = pc + pd;
	out->has_pss = true;
	return FLT_OK;
}

flt_err flt_health_parse_status(const char *buf, size_t len, struct flt_health_mem *out)
{
	uint64_t rss;
	if (!buf || !out)
		return FLT_EINVAL;
	if (!find_field(buf, len, "VmRSS", &rss))
		return FLT_EPARSE;
	out->rss = rss;
	out->pss = 0;
	out->private_mem = 0;
	out->has_pss = false;
	return FLT_OK;
}

flt_err flt_health_parse_meminfo(const char *buf, size_t len, uint64_t *total, uint64_t *available)
{
	uint64_t t, a, fr, bu, ca;
	if (!buf || !total || !available)
		return FLT_EINVAL;
	if (!find_field(buf, len, "MemTotal", &t))
		return FLT_EPARSE;
	if (!find_field(buf, len, "MemAvailable", &a)) {
		if (!find_field(buf, len, "MemFree", &fr) ||
		    !find_field(buf, len, "Buffers", &bu) || !find_field(buf, len, "Cached", &ca) ||
		    fr > UINT64_MAX - bu || fr + bu > UINT64_MAX - ca)
			return FLT_EPARSE;
		a = fr + bu + ca;
	}
	*total = t;
	*available = a;
	return FLT_OK;
}

flt_err flt_health_parse_uptime(const char *buf, size_t len, double *seconds)
{
	if (!buf || !seconds)
		return FLT_EINVAL;
	const char *p = buf, *end = buf + len;
	uint64_t whole;
	if (!parse_u64(&p, end, &whole))
		return FLT_EPARSE;
	double v = (double)whole;
	if (p < end && *p == '.') {
		p++;
		double scale = 0.1;
		if (p >= end || *p < '0' || *p > '9')
			return FLT_EPARSE;
		for (int n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
			if (n < 9) {
				v += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (p < end && *p != ' ' && *p != '\n')
		return FLT_EPARSE;
	*seconds = v;
	return FLT_OK;
}

flt_err flt_health_parse_thermal(const char *buf, size_t len, double *celsius)
{
	if (!buf || !celsius)
		return FLT_EINVAL;
	const char *p = buf, *end = buf + len;
	bool neg = p < end && *p == '-';
	if (neg)
		p++;
	uint64_t v;
	if (!parse_u64(&p, end, &v))
		return FLT_EPARSE;
	while (p < end && (*p == '\n' || is_blank(*p)))
		p++;
	if (p != end || v > 500000 || (neg && v > 273000))
		return FLT_EPARSE;
	*celsius = (neg ? -(double)v : (double)v) / 1000.0;
	return FLT_OK;
}

double flt_health_cpu_pct(uint64_t dticks, long ticks_per_s, double dt_s)
{
	if (dt_s <= 0 || ticks_per_s <= 0)
		return 0;
	return (double)dticks / (double)ticks_per_s / dt_s * 100.0;
}

/* ---- sampler ---------------------------------------------------------------- */

struct flt_health_sampler {
	char *data_dir, *proc_root, *sys_root;
	long ticks_per_s;
	bool primed;
	uint64_t last_ticks;
	double last_mono;
	char buf[READ_CAP];
};

flt_err flt_health_sampler_new(const char *data_dir, const char *proc_root, const char *sys_root,
                               struct flt_health_sampler **out)
{
	if (!data_dir || !out)
		return FLT_EINVAL;
	struct flt_health_sampler *h = flt_calloc(1, sizeof(*h));
	if (!h)
		return FLT_ENOMEM;
	h->data_dir = flt_strdup(data_dir);
	h->proc_root = flt_strdup(proc_root ? proc_root : "/proc");
	h->sys_root = flt_strdup(sys_root ? sys_root : "/sys");
	if (!h->data_dir || !h->proc_root || !h->sys_root) {
		flt_health_sampler_free(h);
		return FLT_ENOMEM;
	}
	h->ticks_per_s = sysconf(_SC_CLK_TCK);
	if (h->ticks_per_s <= 0)
		h->ticks_per_s = 100;
	*out = h;
	return FLT_OK;
}

void flt_health_sampler_free(struct flt_health_sampler *h)
{
	if (!h)
		return;
	flt_free(h->data_dir);
	flt_free(h->proc_root);
	flt_free(h->sys_root);
	flt_free(h);
}

/* Reads up to READ_CAP bytes of ROOT/REL into h->buf; *LEN set on success. /proc
 * files report size 0, so this reads until end of file rather than trusting stat. */
static bool read_file(struct flt_health_sampler *h, const char *root, const char *rel, size_t *len)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >= sizeof(path))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		flt_log_dbg("%s: %s", path, strerror(errno));
		return false;
	}
	size_t got = 0;
	while (got < sizeof(h->buf)) {
		ssize_t r = read(fd, h->buf + got, sizeof(h->buf) - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			flt_log_dbg("%s: %s", path, strerror(errno));
			close(fd);
			return false;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return true;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample_thermal(struct flt_health_sampler *h, struct flt_health_sample *s)
{
	char dir[4096];
	if ((size_t)snprintf(dir, sizeof(dir), "%s/class/thermal", h->sys_root) >= sizeof(dir))
		return;
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	int zones = 0;
	while ((e = readdir(d)) != NULL && zones < MAX_THERMAL_ZONES) {
		char rel[512];
		size_t len;
		double c;
		if (strncmp(e->d_name, "thermal_zone", 12) != 0)
			continue;
		zones++;
		if ((size_t)snprintf(rel, sizeof(rel), "class/thermal/%s/temp", e->d_name) >=
		    sizeof(rel))
			continue;
		if (!read_file(h, h->sys_root, rel, &len) ||
		    flt_health_parse_thermal(h->buf, len, &c) != FLT_OK)
			continue;
		if (!s->has_temp || c > s->temp_c) {
			s->temp_c = c;
			s->has_temp = true;
		}
	}
	closedir(d);
}

flt_err flt_health_sample(struct flt_health_sampler *h, const struct flt_health_mqtt *mqtt,
                          struct flt_health_sample *out)
{
	if (!h || !out)
		return FLT_EINVAL;
	struct flt_health_sample s;
	size_t len;
	memset(&s, 0, sizeof(s));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s.time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (mqtt)
		s.mqtt = *mqtt;

	if (read_file(h, h->proc_root, "uptime", &len) &&
	    flt_health_parse_uptime(h->buf, len, &s.uptime_s) != FLT_OK)
		flt_log_dbg("cannot parse uptime");

	uint64_t ticks, start;
	double mono = mono_now();
	if (read_file(h, h->proc_root, "self/stat", &len) &&
	    flt_health_parse_proc_stat(h->buf, len, &ticks, &start) == FLT_OK) {
		if (h->primed) {
			uint64_t d = ticks >= h->last_ticks ? ticks - h->last_ticks : 0;
			s.cpu_pct = flt_health_cpu_pct(d, h->ticks_per_s, mono - h->last_mono);
		} else {
			/* First sample: the average since the process started. */
			double age = s.uptime_s - (double)start / (double)h->ticks_per_s;
			s.cpu_pct = flt_health_cpu_pct(ticks, h->ticks_per_s, age);
		}
		h->last_ticks = ticks;
		h->last_mono = mono;
		h->primed = true;
	}

	if (!read_file(h, h->proc_root, "self/smaps_rollup", &len) ||
	    flt_health_parse_smaps_rollup(h->buf, len, &s.mem) != FLT_OK) {
		if (read_file(h, h->proc_root, "self/status", &len) &&
		    flt_health_parse_status(h->buf, len, &s.mem) != FLT_OK)
			flt_log_dbg("cannot parse status");
	}

	if (read_file(h, h->proc_root, "meminfo", &len) &&
	    flt_health_parse_meminfo(h->buf, len, &s.mem_total, &s.mem_available) != FLT_OK)
		flt_log_dbg("cannot parse meminfo");

	struct statvfs vfs;
	if (statvfs(h->data_dir, &vfs) == 0) {
		uint64_t fr = (uint64_t)vfs.f_frsize;
		if (fr && (uint64_t)vfs.f_bavail <= UINT64_MAX / fr &&
		    (uint64_t)vfs.f_blocks <= UINT64_MAX / fr) {
			s.disk_free = (uint64_t)vfs.f_bavail * fr;
			s.disk_total = (uint64_t)vfs.f_blocks * fr;
		}
	} else {
		flt_log_dbg("statvfs %s: %s", h->data_dir, strerror(errno));
	}

	sample_thermal(h, &s);
	*out = s;
	return FLT_OK;
}
