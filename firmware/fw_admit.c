/* Admission checks only agent and firmware releases need: the board a firmware
 * image was built for, the architecture of an agent binary, and the agent
 * and firmware versions a release requires. Pure: manifest in, reason out. */
#include <stdio.h>
#include <string.h>

#include "flt/firmware.h"
#include "flt/manifest.h"

#define REFUSE(r, ...)                                                                             \
	do {                                                                                       \
		*reason = (r);                                                                     \
		if (msg && msglen)                                                                 \
			snprintf(msg, msglen, __VA_ARGS__);                                        \
		return FLT_EINCOMPAT;                                                              \
	} while (0)

flt_err flt_fw_admit(const struct flt_manifest *m, const char *board, const char *arch,
                     uint64_t agent_version, uint64_t firmware_version, enum flt_reason *reason,
                     char *msg, size_t msglen)
{
	if (!m || !board || !arch || !reason)
		return FLT_EINVAL;
	*reason = FLT_REASON_NONE;
	if (msg && msglen)
		msg[0] = '\0';
	if (m->kind != FLT_KIND_FIRMWARE && m->kind != FLT_KIND_AGENT)
		REFUSE(FLT_REASON_MALFORMED, "a %s release is not installed by the OTA path",
		       flt_kind_name(m->kind));
	if (m->min_agent_version > agent_version)
		REFUSE(FLT_REASON_AGENT_TOO_OLD, "needs agent version %llu, running %llu",
		       (unsigned long long)m->min_agent_version, (unsigned long long)agent_version);
	if (m->kind == FLT_KIND_FIRMWARE) {
		bool ok = m->n_boards == 0;
		for (size_t i = 0; i < m->n_boards && !ok; i++)
			ok = !strcmp(m->boards[i], board);
		if (!ok)
			REFUSE(FLT_REASON_INCOMPATIBLE_BOARD, "image is for %s%s, this board is %s",
			       m->boards[0], m->n_boards > 1 ? " and others" : "", board);
		if (m->min_firmware_version > firmware_version)
			REFUSE(FLT_REASON_INCOMPATIBLE_BOARD,
			       "needs firmware version %llu installed first, running %llu",
			       (unsigned long long)m->min_firmware_version,
			       (unsigned long long)firmware_version);
		return FLT_OK;
	}
	char want[sizeof(FLT_AGENT_RELEASE_PREFIX) + 64];
	snprintf(want, sizeof(want), "%s%s", FLT_AGENT_RELEASE_PREFIX, arch);
	if (strcmp(m->name, want) ||
	    (m->arch[0] && strcmp(m->arch, "any") && strcmp(m->arch, arch)))
		REFUSE(FLT_REASON_WRONG_ARCH, "release %s is not for %s", m->name, arch);
	if (m->version <= agent_version)
		REFUSE(FLT_REASON_VERSION_LOWER, "agent %llu is not newer than the running %llu",
		       (unsigned long long)m->version, (unsigned long long)agent_version);
	return FLT_OK;
}
