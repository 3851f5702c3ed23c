/* Desired state: the payload of the director-signed envelope on
 * dev/<id>/down/desired (payloadType FLT_PAYLOAD_DESIRED). It lists every
 * release the device should run; a release absent from the list is to be
 * removed. Each entry carries its own release envelope, verified separately. */
#ifndef FLT_DESIRED_H
#define FLT_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flt/error.h"
#include "flt/ident.h"
#include "flt/json.h"
#include "flt/manifest.h"

#define FLT_DESIRED_MAX_PROBATION_S (30u * 86400u)
#define FLT_DESIRED_MAX_CRASHES     1000u

struct flt_probation {
	uint64_t probation_s;  /* 0..FLT_DESIRED_MAX_PROBATION_S; the agent also bounds it by
	                          agent.conf */
	double max_error_rate; /* 0..1, fraction of requests */
	uint64_t max_crashes;  /* 0..FLT_DESIRED_MAX_CRASHES */
};

struct flt_desired_entry {
	enum flt_kind kind;
	char name[FLT_IDENT_MAX + 1];
	/* Changes only when a rollout newly asks for this version; a version the
	 * device marked bad is retried only under a new one. Identifier rule. */
	char deployment_id[FLT_IDENT_MAX + 1];
	/* The release envelope as compact JSON text (owned, NUL-terminated; pass
	 * to flt_dsse_parse). Its manifest's kind and name must match this entry's:
	 * the agent checks that after verifying the envelope. */
	char *envelope;
	size_t envelope_len;
	struct flt_probation probation;
};

struct flt_desired {
	char device_id[FLT_IDENT_MAX + 1]; /* never the controller identity */
	uint64_t serial;                   /* >= 1, only grows per device */
	int64_t issued_at;                 /* Unix seconds */
	struct flt_desired_entry
	    *entries; /* owned array, at most FLT_MAX_DESIRED_ENTRIES, (kind, name) unique */
	size_t n_entries;
};

/* Decodes a desired-state payload (at most FLT_MAX_DESIRED_BYTES). Refuses
 * everything the strict JSON layer refuses, an unknown "v", invalid ids,
 * a duplicated (kind, name), an envelope that is not a JSON object or is
 * larger than FLT_MAX_ENVELOPE_BYTES. Does not verify envelopes.
 * Errors: FLT_EPARSE, FLT_ELIMIT, FLT_EUNSUPPORTED, FLT_EINVAL (NULL args),
 * FLT_ENOMEM; err (may be NULL) has reason and field. On success *out is new
 * and owned by the caller (flt_desired_free). */
FLT_WUR flt_err flt_desired_parse(const char *buf, size_t len, struct flt_desired **out,
                                  struct flt_json_err *err);

/* Same rules on a struct about to be encoded. FLT_EINVAL or FLT_OK. */
FLT_WUR flt_err flt_desired_validate(const struct flt_desired *d, struct flt_json_err *err);

/* Encodes as compact JSON; each entry's envelope text is re-parsed (strictly)
 * and embedded as an object. *out owned (flt_free). FLT_EINVAL, FLT_ENOMEM. */
FLT_WUR flt_err flt_desired_encode(const struct flt_desired *d, char **out, size_t *len);

/* The entry for (kind, name), or NULL. Borrowed from d. */
const struct flt_desired_entry *flt_desired_find(const struct flt_desired *d, enum flt_kind kind,
                                                 const char *name);

/* Frees d, its entries and their envelopes; accepts NULL. */
void flt_desired_free(struct flt_desired *d);

#endif
