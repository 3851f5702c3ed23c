/* The compatibility rule between a release manifest and a device's reported
 * capabilities (flt/compat.h). Pure: no I/O, no clock. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "flt/compat.h"

static enum flt_reason say(char *detail, size_t cap, enum flt_reason r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum flt_reason say(char *detail, size_t cap, enum flt_reason r, const char *fmt, ...)
{
	va_list ap;

	if (detail && cap) {
		va_start(ap, fmt);
		vsnprintf(detail, cap, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* "" and "ai.onnx" both name the default ONNX domain. */
static bool same_domain(const char *a, const char *b)
{
	if (strcmp(a, "ai.onnx") == 0)
		a = "";
	if (strcmp(b, "ai.onnx") == 0)
		b = "";
	return strcmp(a, b) == 0;
}

static enum flt_reason check_operators(const struct flt_manifest *m, const struct flt_state *dev,
                                       char *detail, size_t cap)
{
	for (size_t i = 0; i < m->n_operators; i++) {
		const struct flt_operator *op = &m->operators[i];
		const struct flt_opset *os = NULL;
		bool listed = false;

		for (size_t k = 0; k < m->n_opsets; k++)
			if (same_domain(m->opsets[k].domain, op->domain))
				os = &m->opsets[k];
		if (!os)
			return say(detail, cap, FLT_REASON_MODEL_INCOMPATIBLE,
			           "no opset for domain '%s' of %s", op->domain, op->op_type);
		for (size_t k = 0; k < dev->n_operators; k++) {
			const struct flt_op_support *s = &dev->operators[k];
			if (!same_domain(s->domain, op->domain) ||
			    strcmp(s->op_type, op->op_type) != 0)
				continue;
			listed = true;
			if (s->since <= os->version && (s->until == 0 || os->version <= s->until))
				goto next;
		}
		if (!listed)
			return say(detail, cap, FLT_REASON_OPERATOR_UNSUPPORTED,
			           "operator %s%s%s not implemented", op->domain,
			           op->domain[0] ? "." : "", op->op_type);
		return say(detail, cap, FLT_REASON_OPSET_UNSUPPORTED,
		           "operator %s%s%s not implemented at opset %llu", op->domain,
		           op->domain[0] ? "." : "", op->op_type, (unsigned long long)os->version);
	next:;
	}
	return FLT_REASON_NONE;
}

enum flt_reason flt_compat_check(const struct flt_manifest *m, const struct flt_state *dev,
                                 char *detail, size_t cap)
{
	uint64_t need;

	if (detail && cap)
		detail[0] = '\0';
	if (!m || !dev)
		return say(detail, cap, FLT_REASON_INTERNAL, "no manifest or device");
	if (m->kind == FLT_KIND_AGENT) {
		size_t pl = strlen(FLT_AGENT_RELEASE_PREFIX);
		if (strncmp(m->name, FLT_AGENT_RELEASE_PREFIX, pl) != 0 ||
		    strcmp(m->name + pl, dev->arch) != 0)
			return say(detail, cap, FLT_REASON_WRONG_ARCH, "%s is not for %s", m->name,
			           dev->arch);
	}
	if (m->has_runtime && strcmp(m->arch, "any") != 0 && strcmp(m->arch, dev->arch) != 0)
		return say(detail, cap, FLT_REASON_WRONG_ARCH, "built for %s, device is %s",
		           m->arch, dev->arch);
	if (m->n_boards) {
		bool ok = false;
		for (size_t i = 0; i < m->n_boards && !ok; i++)
			ok = strcmp(m->boards[i], dev->board) == 0;
		if (!ok)
			return say(detail, cap, FLT_REASON_INCOMPATIBLE_BOARD,
			           "not made for board %s", dev->board);
	}
	if (m->min_firmware_version > dev->firmware_version)
		return say(detail, cap, FLT_REASON_INCOMPATIBLE_BOARD,
		           "needs firmware %llu, device has %llu",
		           (unsigned long long)m->min_firmware_version,
		           (unsigned long long)dev->firmware_version);
	if (m->min_agent_version > dev->agent_version)
		return say(detail, cap, FLT_REASON_AGENT_TOO_OLD,
		           "needs agent %llu, device has %llu",
		           (unsigned long long)m->min_agent_version,
		           (unsigned long long)dev->agent_version);
	if (m->has_runtime) {
		if (strcmp(m->format, "onnx") == 0) {
			enum flt_reason r = check_operators(m, dev, detail, cap);
			if (r != FLT_REASON_NONE)
				return r;
		} else if (strcmp(m->format, "generic") != 0) {
			return say(detail, cap, FLT_REASON_MODEL_INCOMPATIBLE, "unknown format %s",
			           m->format);
		}
	}
	/* each term is at most 2^53-1 (manifest rules), so the sum cannot wrap */
	need = m->artifact_size + m->chunk_index_size + (m->has_golden ? m->golden_size : 0);
	if (need > dev->disk_free_bytes)
		return say(detail, cap, FLT_REASON_INSUFFICIENT_DISK,
		           "needs %llu bytes of disk, %llu free", (unsigned long long)need,
		           (unsigned long long)dev->disk_free_bytes);
	if (m->has_runtime && m->peak_memory > dev->ram_bytes)
		return say(detail, cap, FLT_REASON_INSUFFICIENT_MEMORY,
		           "needs %llu bytes of memory, device has %llu",
		           (unsigned long long)m->peak_memory, (unsigned long long)dev->ram_bytes);
	return FLT_REASON_NONE;
}
