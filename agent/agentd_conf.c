/* agent.conf: every option of flotilla-agent declared once (flt/conf.h), with
 * defaults; unknown keys are errors naming the key. */
#include <stddef.h>
#include <stdio.h>

#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/agentd.h"
#include "flt/conf.h"
#include "flt/ident.h"

#define OFF(f) offsetof(struct flt_agentd_conf, f)

static const char *const levels[] = {"error", "warn", "info", "debug", NULL};

static const struct flt_conf_opt opts[] = {
    {"device.id", FLT_CONF_STRING, OFF(device_id), NULL, 0, 0, NULL, FLT_CONF_REQUIRED,
     "device identity (MQTT client id, certificate name)"},
    {"device.board", FLT_CONF_STRING, OFF(board), "generic", 0, 0, NULL, 0,
     "board name matched against firmware `compatible`"},
    {"mqtt.broker", FLT_CONF_STRING, OFF(broker), NULL, 0, 0, NULL, FLT_CONF_REQUIRED,
     "broker URL, tcp://host:port or ssl://host:port"},
    {"mqtt.ca_file", FLT_CONF_PATH, OFF(ca_file), NULL, 0, 0, NULL, 0,
     "CA the broker's certificate chains to"},
    {"mqtt.cert_file", FLT_CONF_PATH, OFF(cert_file), NULL, 0, 0, NULL, 0,
     "device certificate (PEM)"},
    {"mqtt.key_file", FLT_CONF_PATH, OFF(key_file), NULL, 0, 0, NULL, 0,
     "device private key (PEM)"},
    {"mqtt.keepalive", FLT_CONF_DURATION, OFF(keepalive_s), "30s", 5, 3600, NULL, 0,
     "MQTT keepalive"},
    {"mqtt.session_expiry", FLT_CONF_DURATION, OFF(session_expiry_s), "1h", 0, 86400 * 7, NULL, 0,
     "MQTT 5 session expiry interval"},
    {"mqtt.max_packet", FLT_CONF_SIZE, OFF(max_packet), "256K", 1024, 268435455, NULL, 0,
     "largest MQTT packet the agent accepts (declared at connect, reported in up/state)"},
    {"mqtt.backoff_min_ms", FLT_CONF_INT, OFF(backoff_min_ms), "500", 10, 600000, NULL, 0,
     "reconnect delay, first attempt (ms)"},
    {"mqtt.backoff_max_ms", FLT_CONF_INT, OFF(backoff_max_ms), "60000", 10, 3600000, NULL, 0,
     "reconnect delay, upper bound (ms)"},
    {"storage.data_dir", FLT_CONF_PATH, OFF(data_dir), "/var/lib/flotilla-agent", 0, 0, NULL, 0,
     "state, models, downloads and the outbound queue"},
    {"storage.disk_reserve", FLT_CONF_SIZE, OFF(disk_reserve), "64M", 0, 0, NULL, 0,
     "free space never used for models"},
    {"trust.root_keys", FLT_CONF_PATH, OFF(root_keys), "/etc/flotilla/root-keys.pem", 0, 0, NULL, 0,
     "provisioned root public keys (PEM, one or more)"},
    {"trust.root_threshold", FLT_CONF_INT, OFF(root_threshold), "1", 1, 16, NULL, 0,
     "root signatures a key list needs"},
    {"serving.socket", FLT_CONF_PATH, OFF(socket_path), "/run/flotilla/agent.sock", 0, 0, NULL, 0,
     "local inference socket"},
    {"serving.socket_group", FLT_CONF_STRING, OFF(socket_group), "", 0, 0, NULL, 0,
     "group owning the socket (mode 0660); empty: the agent's"},
    {"serving.workers", FLT_CONF_INT, OFF(srv_workers), "2", 1, 64, NULL, 0,
     "inference worker threads (applied live on SIGHUP)"},
    {"serving.queue_max", FLT_CONF_INT, OFF(srv_queue_max), "64", 1, 65536, NULL, 0,
     "requests waiting for a worker; beyond it a request gets BUSY (live)"},
    {"serving.max_conns", FLT_CONF_INT, OFF(srv_max_conns), "1024", 1, 65536, NULL, 0,
     "open client connections; beyond it a connection is closed (live)"},
    {"serving.swap_wait_ms", FLT_CONF_INT, OFF(srv_swap_wait_ms), "2000", 1, 600000, NULL, 0,
     "how long a request waits for a hot swap in progress before BUSY (live)"},
    {"serving.read_timeout_ms", FLT_CONF_INT, OFF(srv_read_timeout_ms), "30000", 100, 3600000, NULL,
     0, "a request frame begun must be complete within this (restart to change)"},
    {"serving.max_batch", FLT_CONF_INT, OFF(srv_max_batch), "1", 1, 4096, NULL, 0,
     "largest batch (dimension 0) a request may carry (restart to change)"},
    {"serving.memory_budget", FLT_CONF_SIZE, OFF(srv_memory_budget), "0", 0, 0x7fffffffffffLL, NULL,
     0,
     "bytes for all loaded models, 0 for unlimited; a swap that does not fit unloads the old "
     "version first (restart to change)"},
    {"telemetry.interval", FLT_CONF_DURATION, OFF(telemetry_s), "60s", 1, 86400, NULL, 0,
     "health and usage sample interval"},
    {"telemetry.queue_bytes", FLT_CONF_SIZE, OFF(queue_bytes), "4M", 4096, 0x7fffffffffffLL, NULL,
     0, "bound of the outbound queue on disk"},
    {"probation.default", FLT_CONF_DURATION, OFF(probation_default_s), "10m", 0, 30 * 86400, NULL,
     0, "probation when the desired state gives none"},
    {"probation.max", FLT_CONF_DURATION, OFF(probation_max_s), "1d", 0, 30 * 86400, NULL, 0,
     "longest probation accepted from a desired state"},
    {"install.max_artifact", FLT_CONF_SIZE, OFF(max_artifact), "512M", 1, 0x7fffffffffffLL, NULL, 0,
     "largest artifact accepted"},
    {"install.chunks_in_flight", FLT_CONF_INT, OFF(chunks_in_flight), "16", 1, 4096, NULL, 0,
     "chunks requested and not yet arrived"},
    {"install.stall_timeout", FLT_CONF_DURATION, OFF(stall_s), "120s", 1, 86400, NULL, 0,
     "no chunk progress for this long fails the download (DOWNLOAD_STALLED)"},
    {"install.refetch_ms", FLT_CONF_INT, OFF(refetch_ms), "5000", 10, 600000, NULL, 0,
     "re-request a chunk that has not arrived after this many ms"},
    {"log.level", FLT_CONF_ENUM, OFF(log_level), "info", 0, 0, levels, 0,
     "error, warn, info or debug"},
    {"ota.firmware_conf", FLT_CONF_PATH, OFF(firmware_conf), "/etc/flotilla/firmware.conf", 0, 0,
     NULL, 0, "firmware slot settings for firmware releases (docs/firmware.md)"},
    {"ota.agent_slots", FLT_CONF_PATH, OFF(agent_slots), "/var/lib/flotilla/agent", 0, 0, NULL, 0,
     "agent slot directory the supervisor starts the agent from"},
};

static const struct flt_conf_schema schema = {opts, sizeof(opts) / sizeof(opts[0]),
                                              sizeof(struct flt_agentd_conf)};

flt_err flt_agentd_conf_load(const char *path, const char *const *sets, size_t nsets,
                             struct flt_agentd_conf *out, char *err, size_t errlen)
{
	struct flt_agentd_conf c;
	flt_err e = flt_conf_load(&schema, &c, path, sets, nsets, err, errlen);
	if (e)
		return e;
	if (!flt_ident_device_valid(c.device_id)) {
		snprintf(
		    err, errlen,
		    "device.id '%s' is not a valid device identifier ([a-z0-9][a-z0-9._-]{0,63})",
		    c.device_id);
		flt_conf_free(&schema, &c);
		return FLT_EINVAL;
	}
	if (c.backoff_min_ms > c.backoff_max_ms) {
		snprintf(err, errlen, "mqtt.backoff_min_ms is above mqtt.backoff_max_ms");
		flt_conf_free(&schema, &c);
		return FLT_EINVAL;
	}
	*out = c;
	return FLT_OK;
}

uint64_t flt_agentd_probation_s(const struct flt_agentd_conf *c, uint64_t desired_s)
{
	uint64_t s = desired_s ? desired_s : (uint64_t)c->probation_default_s;
	uint64_t max = (uint64_t)c->probation_max_s;
	return s > max ? max : s;
}

void flt_agentd_conf_free(struct flt_agentd_conf *c)
{
	flt_conf_free(&schema, c);
}

void flt_agentd_conf_help(void *file)
{
	flt_conf_print_help(&schema, file);
}

static flt_err dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return FLT_OK;
	*dst = flt_strdup(src);
	return *dst ? FLT_OK : FLT_ENOMEM;
}

flt_err agentd_conf_copy(const struct flt_agentd_conf *src, struct flt_agentd_conf *dst)
{
	*dst = *src;
	char **fields[] = {&dst->device_id,    &dst->board,         &dst->broker,
	                   &dst->ca_file,      &dst->cert_file,     &dst->key_file,
	                   &dst->data_dir,     &dst->root_keys,     &dst->socket_path,
	                   &dst->socket_group, &dst->firmware_conf, &dst->agent_slots};
	const char *from[] = {src->device_id,    src->board,         src->broker,
	                      src->ca_file,      src->cert_file,     src->key_file,
	                      src->data_dir,     src->root_keys,     src->socket_path,
	                      src->socket_group, src->firmware_conf, src->agent_slots};
	flt_err e = FLT_OK;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!e)
			e = dup_str(fields[i], from[i]);
		else
			*fields[i] = NULL;
	if (e)
		flt_agentd_conf_free(dst);
	return e;
}
