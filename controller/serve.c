/* `flotilla serve`: the controller daemon. One MQTT 5 session; notices
 * registry changes (PRAGMA data_version) within serve.poll_ms; publishes
 * every device's retained director-signed desired state and the key list;
 * signs release envelopes when first needed and before they expire; serves
 * chunks; ingests reports and streams. docs/serve.md explains the loop. */
#include <signal.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLT_LOG_MODULE "serve"
#include "flt/alloc.h"
#include "flt/conf.h"
#include "flt/desired.h"
#include "flt/dsse.h"
#include "flt/log.h"
#include "flt/pki.h"
#include "flt/protocol.h"
#include "cli_args.h"
#include "cmds.h"
#include "rollout.h"
#include "serve_loop.h"

#define C(f) offsetof(struct serve_conf, f)
static const struct flt_conf_opt serve_opts[] = {
    {"mqtt.broker", FLT_CONF_STRING, C(broker), "tcp://127.0.0.1:1883", 0, 0, NULL, 0,
     "broker URL (tcp:// or ssl://)"},
    {"mqtt.ca_file", FLT_CONF_PATH, C(ca_file), NULL, 0, 0, NULL, 0, "CA of the broker (ssl://)"},
    {"mqtt.cert_file", FLT_CONF_PATH, C(cert_file), NULL, 0, 0, NULL, 0,
     "controller client certificate (ssl://)"},
    {"mqtt.key_file", FLT_CONF_PATH, C(key_file), NULL, 0, 0, NULL, 0,
     "controller client key (ssl://)"},
    {"mqtt.max_packet", FLT_CONF_SIZE, C(broker_max_packet), "256K", 64, 268435455, NULL, 0,
     "broker maximum packet size assumed when CONNACK names none"},
    {"serve.poll_ms", FLT_CONF_INT, C(poll_ms), "200", 10, 1000, NULL, 0,
     "how often registry changes are checked (ms)"},
    {"serve.flush_ms", FLT_CONF_INT, C(flush_ms), "100", 1, 10000, NULL, 0,
     "longest wait before received telemetry is stored and acknowledged (ms)"},
    {"signing.release_validity", FLT_CONF_DURATION, C(release_validity_s), "30d", 3600,
     3650 * 86400LL, NULL, 0, "validity of a signed release envelope"},
    {"signing.resign_margin", FLT_CONF_DURATION, C(resign_margin_s), "7d", 60, 365 * 86400LL, NULL,
     0, "re-sign envelopes this long before they expire"},
    {"signing.keylist_validity", FLT_CONF_DURATION, C(keylist_validity_s), "365d", 3600,
     3650 * 86400LL, NULL, 0, "validity of a re-issued key list"},
    {"signing.keylist_margin", FLT_CONF_DURATION, C(keylist_margin_s), "30d", 60, 365 * 86400LL,
     NULL, 0, "re-issue the key list this long before it expires"},
    {"chunks.max_size", FLT_CONF_SIZE, C(chunk_max), "256K", 1024, 16777216, NULL, 0,
     "largest chunk payload"},
    {"chunks.min_size", FLT_CONF_SIZE, C(chunk_min), "1K", 1, 16777216, NULL, 0,
     "a device that cannot take chunks this big is skipped"},
    {"chunks.queue_per_device", FLT_CONF_INT, C(chunks_per_device), "1024", 1, 1000000, NULL, 0,
     "chunks queued for one device at most"},
    {"chunks.queue_total", FLT_CONF_INT, C(chunks_total), "16384", 1, 10000000, NULL, 0,
     "chunks queued in total at most"},
    {"retention.telemetry", FLT_CONF_DURATION, C(telemetry_keep_s), "30d", 60, 3650 * 86400LL, NULL,
     0, "raw telemetry kept this long, then rolled up per hour"},
    {"retention.events", FLT_CONF_DURATION, C(events_keep_s), "90d", 60, 3650 * 86400LL, NULL, 0,
     "events kept this long"},
};
#undef C
static const struct flt_conf_schema serve_schema = {
    serve_opts, sizeof(serve_opts) / sizeof(serve_opts[0]), sizeof(struct serve_conf)};

static volatile sig_atomic_t stop_flag, reload_flag;
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload_flag = 1;
	else
		stop_flag = 1;
}

/* Where the config came from, for SIGHUP. */
struct conf_src {
	const char *path;
	const char *const *sets;
	size_t nsets;
};
static struct conf_src conf_src;

/* SIGHUP: re-read and validate the config; swap it in only when valid. The
 * broker URL and TLS files take effect at the next start. */
static void reload_conf(struct serve *s)
{
	char err[512] = "";
	struct serve_conf old = s->conf;
	char *keep[4] = {old.broker, old.ca_file, old.cert_file, old.key_file};
	struct serve_conf fresh;
	flt_err e = flt_conf_load(&serve_schema, &fresh, conf_src.path, conf_src.sets,
	                          conf_src.nsets, err, sizeof(err));
	if (e) {
		flt_log_err("SIGHUP: configuration not reloaded: %s", err);
		return;
	}
	/* Connection settings stay as the session was made. */
	char *drop[4] = {fresh.broker, fresh.ca_file, fresh.cert_file, fresh.key_file};
	fresh.broker = keep[0], fresh.ca_file = keep[1], fresh.cert_file = keep[2],
	fresh.key_file = keep[3];
	for (int i = 0; i < 4; i++)
		flt_free(drop[i]);
	s->conf = fresh;
	s->dirty = true;
	flt_log_info("SIGHUP: configuration reloaded");
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- key list changes ------------------------------------------------------------ */

/* The keystore's identity: keys/keylist.json folded with the release and
 * director key files. `keys rotate` writes the new list before the new key
 * file, so watching the list alone could reload between the two writes and
 * then keep the old key for good. False when the list cannot be read. */
static bool keylist_stat(struct serve *s, int64_t *ino, int64_t *size, int64_t *mtime_ns)
{
	static const char *const files[] = {FLT_KEYSTORE_KEYLIST_FILE, FLT_KEYSTORE_RELEASE_FILE,
	                                    FLT_KEYSTORE_DIRECTOR_FILE};
	char path[4096];
	struct stat sb;
	uint64_t fi = 0, fs = 0, fm = 0; /* unsigned: the folding may wrap */
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", s->data_dir, FLT_KEYSTORE_DIR, files[i]);
		if (stat(path, &sb) != 0) {
			if (i == 0)
				return false;
			continue;
		}
		fi = fi * 1000003u + (uint64_t)sb.st_ino;
		fs = fs * 1000003u + (uint64_t)sb.st_size;
		fm = fm * 1000003u + (uint64_t)sb.st_mtim.tv_sec * 1000000000u +
		     (uint64_t)sb.st_mtim.tv_nsec;
	}
	*ino = (int64_t)fi;
	*size = (int64_t)fs;
	*mtime_ns = (int64_t)fm;
	return true;
}

/* After `keys rotate` / `keys revoke` (a new list written atomically, maybe a
 * new key file): loads the store again and swaps it in when it verifies. A new
 * release key makes every release envelope stale, so the next pass re-signs
 * with it (nothing signed by a revoked key stays in use); the new list reaches
 * every device because its serial differs from the one each device was sent. */
static void reload_keys_if_changed(struct serve *s)
{
	int64_t ino = 0, size = 0, mt = 0;
	flt_keystore *fresh = NULL;
	if (!keylist_stat(s, &ino, &size, &mt))
		return;
	if (ino == s->kl_ino && size == s->kl_size && mt == s->kl_mtime_ns)
		return;
	flt_err e = flt_keystore_load(s->data_dir, &fresh);
	if (e) {
		flt_log_err(
		    "the key list changed but cannot be loaded (%s); still using the old keys",
		    flt_strerror(e));
		return;
	}
	s->kl_ino = ino, s->kl_size = size, s->kl_mtime_ns = mt;
	const flt_key *ro = flt_keystore_key(s->ks, FLT_KEYSTORE_RELEASE);
	const flt_key *rn = flt_keystore_key(fresh, FLT_KEYSTORE_RELEASE);
	bool new_release = !ro || !rn || strcmp(flt_key_id(ro), flt_key_id(rn));
	const flt_keylist *kl = flt_keystore_keylist(fresh);
	flt_keystore_free(s->ks);
	s->ks = fresh;
	s->dirty = true;
	flt_log_info("key list serial %llu loaded%s", kl ? (unsigned long long)kl->serial : 0ULL,
	             new_release ? "; release envelopes will be re-signed with the new release key"
	                         : "");
	if (new_release) {
		serve_db_idle(s->reg);
		if (reg_exec(s->reg, REG_Q_REL_ENVELOPE_STALE_ALL, "") != FLT_OK)
			flt_log_err("cannot retire the envelopes signed by the old release key");
	}
}

/* ---- revoked devices ---------------------------------------------------------- */

bool serve_device_revoked(struct serve *s, const char *dev)
{
	bool r = false;
	/* A registry error counts as not revoked: the broker's ACL and CRL still
	 * keep a revoked device out; this only stops serve speaking for it. */
	if (flt_pki_device_revoked(s->reg, dev, &r) != FLT_OK)
		return false;
	return r;
}

/* Once per revoked device (per serve run): empties its retained topics so no
 * desired state, key list, ack or stale report of it stays on the broker. */
static void clear_revoked(struct serve *s, const char *dev)
{
	static const char *const topics[] = {"down/desired", "down/keys", "down/ack", "up/state",
	                                     "up/status"};
	char topic[256];
	for (size_t i = 0; i < s->n_cleared; i++)
		if (!strcmp(s->cleared[i], dev))
			return;
	serve_chunks_drop_device(s, dev);
	for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
		if (serve_topic(topic, sizeof(topic), dev, topics[i]) != FLT_OK)
			return;
		if (flt_mqtt_publish(s->mq, topic, "", 0, 1, true, FLT_MQTT_PURPOSE_STATE, NULL) !=
		    FLT_OK) {
			flt_log_warn("device %s: retained %s not cleared; trying again", dev,
			             topics[i]);
			s->dirty = true;
			return;
		}
	}
	char(*nc)[FLT_IDENT_MAX + 1] = flt_realloc(s->cleared, (s->n_cleared + 1) * sizeof(*nc));
	if (!nc)
		return;
	s->cleared = nc;
	snprintf(s->cleared[s->n_cleared++], sizeof(*nc), "%s", dev);
	flt_log_info("device %s is revoked: its retained topics are cleared and it is ignored",
	             dev);
}

/* ---- desired state ------------------------------------------------------------- */

struct want {
	char kind[16], name[FLT_IDENT_MAX + 1], depid[FLT_IDENT_MAX + 1];
	int64_t version_id, probation_s, max_crashes;
	double max_error_rate;
	char *skip;
};

/* The envelope for version_id this device can take, signing one if needed.
 * why gets the reason when it cannot. */
static flt_err envelope_for(struct serve *s, int64_t version_id, uint64_t dev_packet, char **env,
                            int64_t *env_id, char *why, size_t cap)
{
	uint32_t chunk;
	uint64_t broker = flt_mqtt_publish_limit(s->mq);
	uint64_t lim = dev_packet;
	if (broker && (!lim || broker < lim))
		lim = broker;
	uint32_t mine = serve_chunk_size_for(lim, (uint32_t)s->conf.chunk_max);
	if (mine < s->conf.chunk_min) {
		snprintf(why, cap,
		         "TOO_LARGE: maximum packet size %llu leaves chunks of %u bytes, below "
		         "chunks.min_size %llu",
		         (unsigned long long)lim, mine, (unsigned long long)s->conf.chunk_min);
		return FLT_ELIMIT;
	}
	flt_err e = release_find(s->reg, version_id, now_s(), s->conf.resign_margin_s, mine, env_id,
	                         &chunk, env);
	if (e != FLT_ENOTFOUND)
		return e;
	/* Fix the chunk size for every device that wants this version now: the
	 * smallest packet limit among them that is still workable. */
	int64_t minpk = 0;
	uint32_t size = mine;
	uint64_t floor_packet = s->conf.chunk_min + 256;
	if (reg_query_int(s->reg, REG_Q_DESIRED_MIN_PACKET, &minpk, "ii", version_id,
	                  (int64_t)floor_packet) == FLT_OK &&
	    minpk > 0) {
		uint64_t l2 = (uint64_t)minpk;
		if (broker && broker < l2)
			l2 = broker;
		uint32_t c2 = serve_chunk_size_for(l2, (uint32_t)s->conf.chunk_max);
		if (c2 >= s->conf.chunk_min && c2 < size)
			size = c2;
	}
	if ((e = release_sign(s->reg, s->ks, version_id, size, now_s(), s->conf.release_validity_s,
	                      env_id)) != FLT_OK)
		return e;
	return release_find(s->reg, version_id, now_s(), s->conf.resign_margin_s, mine, env_id,
	                    &chunk, env);
}

static void set_skip(struct serve *s, const char *dev, const struct want *w, const char *why)
{
	serve_db_idle(s->reg);
	if (reg_exec(s->reg, REG_Q_DESIRED_SKIP, "tttT", dev, w->kind, w->name, why) == FLT_OK &&
	    why)
		flt_log_warn("device %s skipped for %s: %s", dev, w->name, why);
}

/* Builds, signs and publishes one device's desired state when it changed. */
static flt_err reconcile_device(struct serve *s, const char *dev, int64_t dev_packet,
                                const char *state_json, const char *old_hash)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	struct want w[FLT_MAX_DESIRED_ENTRIES];
	size_t nw = 0;
	struct flt_state *fs = NULL;
	struct flt_desired d;
	char *envs[FLT_MAX_DESIRED_ENTRIES] = {0};
	char *payload = NULL, *envtext = NULL;
	size_t plen = 0, elen = 0;
	flt_dsse *env = NULL;
	flt_sha256_ctx hc;
	uint8_t hash[FLT_SHA256_LEN];
	char hex[FLT_SHA256_HEX_LEN + 1], topic[256];
	flt_err e;
	memset(&d, 0, sizeof(d));
	memset(w, 0, sizeof(w));
	if (state_json && flt_state_parse(state_json, strlen(state_json), &fs, NULL) != FLT_OK)
		fs = NULL;
	if ((e = reg_stmt(s->reg, REG_Q_DESIRED_FOR_DEVICE, &st)) != FLT_OK ||
	    (e = reg_bind(s->reg, st, "t", dev)) != FLT_OK)
		goto out;
	while (!(e = reg_step(s->reg, st, &row)) && row && nw < FLT_MAX_DESIRED_ENTRIES) {
		struct want *x = &w[nw++];
		snprintf(x->kind, sizeof(x->kind), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(x->name, sizeof(x->name), "%s", (const char *)sqlite3_column_text(st, 1));
		x->version_id = sqlite3_column_int64(st, 2);
		snprintf(x->depid, sizeof(x->depid), "%s",
		         (const char *)sqlite3_column_text(st, 3));
		x->probation_s = sqlite3_column_int64(st, 4);
		x->max_error_rate = sqlite3_column_double(st, 5);
		x->max_crashes = sqlite3_column_int64(st, 6);
	}
	if (e)
		goto out;
	d.entries = flt_calloc(FLT_MAX_DESIRED_ENTRIES, sizeof(*d.entries));
	if (!d.entries) {
		e = FLT_ENOMEM;
		goto out;
	}
	flt_sha256_init(&hc);
	for (size_t i = 0; i < nw; i++) {
		char why[256] = "";
		int64_t env_id = 0;
		if (strcmp(w[i].kind, "model")) {
			set_skip(s, dev, &w[i],
			         "MODEL_INCOMPATIBLE: only model releases are served yet");
			continue;
		}
		if (!serve_device_can_run(s->reg, w[i].version_id, fs, why, sizeof(why))) {
			set_skip(s, dev, &w[i], why);
			continue;
		}
		e = envelope_for(s, w[i].version_id, (uint64_t)(dev_packet > 0 ? dev_packet : 0),
		                 &envs[i], &env_id, why, sizeof(why));
		if (e == FLT_ELIMIT) {
			set_skip(s, dev, &w[i], why);
			e = FLT_OK;
			continue;
		}
		if (e)
			goto out;
		set_skip(s, dev, &w[i], NULL);
		struct flt_desired_entry *de = &d.entries[d.n_entries++];
		de->kind = FLT_KIND_MODEL;
		snprintf(de->name, sizeof(de->name), "%s", w[i].name);
		snprintf(de->deployment_id, sizeof(de->deployment_id), "%s", w[i].depid);
		de->envelope = envs[i];
		de->envelope_len = strlen(envs[i]);
		de->probation.probation_s = (uint64_t)w[i].probation_s;
		de->probation.max_error_rate = w[i].max_error_rate;
		de->probation.max_crashes = (uint64_t)w[i].max_crashes;
		char line[512];
		int n = snprintf(line, sizeof(line), "%s|%s|%lld|%lld|%.17g|%lld\n", w[i].name,
		                 w[i].depid, (long long)env_id, (long long)w[i].probation_s,
		                 w[i].max_error_rate, (long long)w[i].max_crashes);
		flt_sha256_update(&hc, line, (size_t)n);
	}
	if ((e = flt_sha256_final(&hc, hash)) != FLT_OK)
		goto out;
	if ((e = flt_hex_encode(hash, sizeof(hash), hex, sizeof(hex))) != FLT_OK)
		goto out;
	if (old_hash && !strcmp(old_hash, hex))
		goto out; /* unchanged: the retained message still says it */
	int64_t serial = 0;
	serve_db_idle(s->reg);
	if ((e = flt_registry_counter_next(s->reg, "desired_state_serial", &serial)) != FLT_OK)
		goto out;
	snprintf(d.device_id, sizeof(d.device_id), "%s", dev);
	d.serial = (uint64_t)serial;
	d.issued_at = now_s();
	if ((e = flt_desired_encode(&d, &payload, &plen)) != FLT_OK)
		goto out;
	const flt_key *keys[1] = {flt_keystore_key(s->ks, FLT_KEYSTORE_DIRECTOR)};
	if ((e = flt_dsse_sign(FLT_PAYLOAD_DESIRED, (const uint8_t *)payload, plen, keys, 1, NULL,
	                       &env)) != FLT_OK ||
	    (e = flt_dsse_serialize(env, &envtext, &elen)) != FLT_OK)
		goto out;
	if ((e = serve_topic(topic, sizeof(topic), dev, "down/desired")) != FLT_OK)
		goto out;
	if (dev_packet > 0 &&
	    flt_mqtt_publish_packet_size(strlen(topic), elen, 1) > (uint64_t)dev_packet) {
		flt_log_err(
		    "device %s: desired state of %zu bytes exceeds the %lld-byte packets it "
		    "accepts; not sent",
		    dev, elen, (long long)dev_packet);
		e = FLT_ELIMIT;
		goto out;
	}
	e = flt_mqtt_publish(s->mq, topic, envtext, elen, 1, true, FLT_MQTT_PURPOSE_STATE, NULL);
	if (e) {
		flt_log_err("device %s: desired state not published: %s%s", dev, flt_strerror(e),
		            e == FLT_ELIMIT ? " (larger than the broker's maximum packet size)"
		                            : "");
		goto out;
	}
	serve_db_idle(s->reg);
	if ((e = reg_begin(s->reg)) != FLT_OK)
		goto out;
	if ((e = reg_exec(s->reg, REG_Q_DEV_SET_DESIRED, "titt", dev, serial, hex, envtext)) !=
	    FLT_OK) {
		reg_rollback(s->reg);
		goto out;
	}
	e = reg_commit(s->reg);
	flt_log_info("device %s: desired state serial %lld published (%zu entries)", dev,
	             (long long)serial, d.n_entries);
out:
	for (size_t i = 0; i < d.n_entries; i++)
		d.entries[i].envelope = NULL; /* owned by envs[] */
	for (size_t i = 0; i < FLT_MAX_DESIRED_ENTRIES; i++)
		flt_free(envs[i]);
	flt_free(d.entries);
	flt_free(payload);
	flt_free(envtext);
	flt_dsse_free(env);
	flt_state_free(fs);
	return e;
}

/* Every device: key list when its serial changed (or after a reconnect),
 * desired state when it changed (or its exact bytes again after a reconnect:
 * the broker may have lost retained messages), ack after a reconnect. */
static void reconcile_all(struct serve *s)
{
	sqlite3_stmt *st = NULL;
	int row = 0;
	struct devrow {
		char id[FLT_IDENT_MAX + 1];
		int64_t keys_serial, max_packet;
		char hash[FLT_SHA256_HEX_LEN + 1];
		char *envelope, *state;
	} *rows = NULL;
	size_t n = 0, cap = 0;
	bool republish = s->republish;
	const flt_keylist *kl = flt_keystore_keylist(s->ks);
	flt_err e;
	if (!s->connected)
		return;
	if (kl && kl->expires_at - now_s() < s->conf.keylist_margin_s) {
		e = flt_keystore_reissue_keylist(s->ks, s->reg, now_s(),
		                                 s->conf.keylist_validity_s);
		if (e)
			flt_log_err("cannot re-issue the key list before it expires: %s",
			            flt_strerror(e));
		kl = flt_keystore_keylist(s->ks);
	}
	if ((e = reg_stmt(s->reg, REG_Q_DEV_ALL_FOR_PUBLISH, &st)) != FLT_OK)
		return;
	while (!(e = reg_step(s->reg, st, &row)) && row) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct devrow *nr = flt_realloc(rows, nc * sizeof(*rows));
			if (!nr)
				break;
			rows = nr;
			cap = nc;
		}
		struct devrow *d = &rows[n];
		memset(d, 0, sizeof(*d));
		const char *id = (const char *)sqlite3_column_text(st, 0);
		if (!id || !flt_ident_device_valid(id))
			continue;
		snprintf(d->id, sizeof(d->id), "%s", id);
		const char *h = (const char *)sqlite3_column_text(st, 2);
		snprintf(d->hash, sizeof(d->hash), "%s", h ? h : "");
		const char *ev = (const char *)sqlite3_column_text(st, 3);
		d->envelope = ev ? flt_strdup(ev) : NULL;
		d->keys_serial = sqlite3_column_int64(st, 4);
		d->max_packet = sqlite3_column_int64(st, 5);
		const char *sj = (const char *)sqlite3_column_text(st, 6);
		d->state = sj ? flt_strdup(sj) : NULL;
		n++;
	}
	for (size_t i = 0; i < n && s->connected; i++) {
		struct devrow *d = &rows[i];
		char topic[256];
		serve_db_idle(s->reg);
		if (serve_device_revoked(s, d->id)) {
			clear_revoked(s, d->id);
			continue;
		}
		if (kl && (republish || (uint64_t)d->keys_serial != kl->serial)) {
			size_t klen = 0;
			const char *kj = flt_keystore_keylist_json(s->ks, &klen);
			if (!serve_topic(topic, sizeof(topic), d->id, "down/keys") &&
			    flt_mqtt_publish(s->mq, topic, kj, klen, 1, true,
			                     FLT_MQTT_PURPOSE_STATE, NULL) == FLT_OK &&
			    reg_exec(s->reg, REG_Q_DEV_SET_KEYS_SERIAL, "ti", d->id,
			             (int64_t)kl->serial) != FLT_OK)
				flt_log_warn("device %s: key list serial not recorded", d->id);
		}
		if (republish && d->envelope &&
		    !serve_topic(topic, sizeof(topic), d->id, "down/desired")) {
			if (flt_mqtt_publish(s->mq, topic, d->envelope, strlen(d->envelope), 1,
			                     true, FLT_MQTT_PURPOSE_STATE, NULL) != FLT_OK)
				flt_log_warn("device %s: desired state not re-published", d->id);
		}
		if (republish && serve_publish_ack(s, d->id) != FLT_OK)
			flt_log_warn("device %s: ack not re-published", d->id);
		e = reconcile_device(s, d->id, d->max_packet, d->state,
		                     d->hash[0] ? d->hash : NULL);
		if (e && e != FLT_ELIMIT)
			flt_log_warn("device %s: desired state not updated: %s", d->id,
			             flt_strerror(e));
	}
	for (size_t i = 0; i < n; i++) {
		flt_free(rows[i].envelope);
		flt_free(rows[i].state);
	}
	flt_free(rows);
	if (s->connected)
		s->republish = false;
}

/* ---- MQTT events ----------------------------------------------------------------- */

/* "flotilla/v1/dev/<id>/up/<what>" -> id and what; false for anything else. */
static bool split_topic(const char *topic, char *dev, const char **what)
{
	static const char pre[] = FLT_TOPIC_ROOT "/dev/";
	if (strncmp(topic, pre, sizeof(pre) - 1))
		return false;
	const char *id = topic + sizeof(pre) - 1;
	const char *slash = strchr(id, '/');
	if (!slash || (size_t)(slash - id) > FLT_IDENT_MAX || strncmp(slash, "/up/", 4))
		return false;
	memcpy(dev, id, (size_t)(slash - id));
	dev[slash - id] = '\0';
	*what = slash + 4;
	return flt_ident_device_valid(dev);
}

static enum flt_mqtt_purpose classify(void *arg, const char *topic)
{
	char dev[FLT_IDENT_MAX + 1];
	const char *what;
	(void)arg;
	if (!split_topic(topic, dev, &what))
		return FLT_MQTT_PURPOSE_OTHER;
	if (!strcmp(what, "fetch"))
		return FLT_MQTT_PURPOSE_CHUNKS;
	if (!strcmp(what, "telemetry") || !strcmp(what, "events"))
		return FLT_MQTT_PURPOSE_TELEMETRY;
	return FLT_MQTT_PURPOSE_STATE;
}

static void on_event(void *arg, struct flt_mqtt *c, const struct flt_mqtt_event *ev)
{
	struct serve *s = arg;
	char dev[FLT_IDENT_MAX + 1];
	const char *what;
	(void)c;
	serve_db_idle(s->reg);
	switch (ev->type) {
	case FLT_MQTT_EV_CONNECTED:
		flt_log_info("connected to the broker (maximum packet size %u)",
		             ev->broker_max_packet);
		s->connected = true;
		s->republish = true;
		s->dirty = true;
		break;
	case FLT_MQTT_EV_CONNECT_FAILED:
		flt_log_warn("cannot connect to the broker: %s%s%s", flt_strerror(ev->err),
		             ev->detail ? ": " : "", ev->detail ? ev->detail : "");
		break;
	case FLT_MQTT_EV_DISCONNECTED:
		flt_log_warn("lost the broker: %s; reconnecting", flt_strerror(ev->err));
		s->connected = false;
		serve_chunks_free(s); /* agents re-request what does not arrive */
		break;
	case FLT_MQTT_EV_MESSAGE:
		if (!split_topic(ev->topic, dev, &what))
			break;
		if (!strcmp(what, "state"))
			serve_on_state(s, dev, ev->payload, ev->len);
		else if (!strcmp(what, "status"))
			serve_on_status(s, dev, ev->payload, ev->len);
		else if (!strcmp(what, "events"))
			serve_queue_stream(s, dev, FLT_STREAM_EVENTS, ev->payload, ev->len);
		else if (!strcmp(what, "telemetry"))
			serve_queue_stream(s, dev, FLT_STREAM_TELEMETRY, ev->payload, ev->len);
		else if (!strcmp(what, "fetch"))
			serve_on_fetch(s, dev, ev->payload, ev->len);
		break;
	case FLT_MQTT_EV_PUBLISHED:
		if (ev->err == FLT_ELIMIT)
			flt_log_err("the broker refused a publish as too large (token %llu)",
			            (unsigned long long)ev->token);
		break;
	case FLT_MQTT_EV_SUBSCRIBE_FAILED:
		flt_log_err("the broker refused subscription %s: %s; check its ACL for the "
		            "controller identity",
		            ev->topic ? ev->topic : "?", flt_strerror(ev->err));
		break;
	}
}

static bool registry_changed(struct serve *s)
{
	int64_t v = 0;
	if (reg_query_int(s->reg, REG_Q_DATA_VERSION, &v, "") != FLT_OK)
		return true;
	bool changed = v != s->data_version;
	s->data_version = v;
	return changed;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run(struct serve *s)
{
	struct flt_mqtt_opts o;
	flt_err e;
	flt_mqtt_opts_init(&o);
	o.uri = s->conf.broker;
	o.client_id = FLT_CONTROLLER_IDENTITY;
	o.tls.ca_file = s->conf.ca_file;
	o.tls.cert_file = s->conf.cert_file;
	o.tls.key_file = s->conf.key_file;
	o.clean_start = false;
	o.session_expiry_s = 86400;
	o.broker_max_packet_fallback = (uint32_t)s->conf.broker_max_packet;
	o.classify = classify;
	o.backoff_min_ms = 200;
	o.backoff_max_ms = 5000;
	if ((e = flt_mqtt_new(&o, &s->mq)) != FLT_OK) {
		fprintf(stderr, "flotilla serve: cannot set up the MQTT client for %s: %s\n", o.uri,
		        flt_strerror(e));
		return cli_exit_code(e);
	}
	if ((e = flt_mqtt_subscribe(s->mq, FLT_TOPIC_ROOT "/dev/+/up/#", 0)) != FLT_OK ||
	    (e = flt_mqtt_connect(s->mq)) != FLT_OK) {
		fprintf(stderr, "flotilla serve: cannot start the MQTT session: %s\n",
		        flt_strerror(e));
		return cli_exit_code(e);
	}
	flt_log_info("serving %s from %s", s->conf.broker, s->data_dir);
	int64_t next_check = 0, next_retention = mono_ms() + 5000, next_full = 0;
	while (!stop_flag) {
		int64_t now = mono_ms();
		serve_db_idle(s->reg);
		if (reload_flag) {
			reload_flag = 0;
			reload_conf(s);
		}
		int wait = (int)(next_check > now ? next_check - now : 0);
		if (s->pending && wait > (int)s->conf.flush_ms)
			wait = (int)s->conf.flush_ms;
		if (s->jobs && s->connected)
			wait = 0;
		if (wait > (int)s->conf.poll_ms)
			wait = (int)s->conf.poll_ms;
		if (flt_mqtt_poll(s->mq, wait, on_event, s) != FLT_OK)
			break;
		now = mono_ms();
		if (s->pending &&
		    (s->n_pending >= 64 || reg_now_ms() - s->pending_since_ms >= s->conf.flush_ms))
			serve_flush_streams(s);
		serve_send_chunks(s);
		if (now >= next_check) {
			next_check = now + s->conf.poll_ms;
			bool ro_changed = false;
			if ((e = rollout_tick(s->reg, reg_now_ms(), &ro_changed)) != FLT_OK)
				flt_log_warn("rollout engine pass failed: %s", flt_strerror(e));
			if (ro_changed)
				s->dirty = true;
			/* A full pass every 60 s catches what no write announces (expiry). */
			reload_keys_if_changed(s);
			if (registry_changed(s) || s->dirty || s->republish || now >= next_full) {
				s->dirty = false;
				/* No second data_version read here: this connection's own
				 * writes never change it, and a read now would swallow a
				 * CLI write made while reconcile_all ran. */
				reconcile_all(s);
				if (now >= next_full)
					next_full = now + 60000;
			}
		}
		if (now >= next_retention) {
			next_retention = now + 60000;
			if ((e = serve_retention(s->reg, now_s(), s->conf.telemetry_keep_s,
			                         s->conf.events_keep_s)) != FLT_OK)
				flt_log_warn("retention pass failed: %s", flt_strerror(e));
		}
	}
	serve_flush_streams(s);
	flt_log_info("stopping");
	return CLI_OK;
}

static const struct cli_opt serve_cli_opts[] = {
    {"config", 'c', 1, "FILE", "config file (default /etc/flotilla/controller.conf if present)"},
    {"set", 0, 1, "KEY=VALUE", "override one config key (repeatable)"},
    {"help-config", 0, 0, NULL, "list the config keys"},
    {0},
};
static const struct cli_spec serve_spec = {
    "serve",
    "[--data-dir D] [-c FILE] [--set k=v...]",
    "Runs the controller daemon: signed desired state, chunk server, ingest.",
    serve_cli_opts,
    0,
    0,
};

int cmd_serve(int argc, char **argv)
{
	struct cli c;
	struct serve s;
	char err[512] = "";
	const char *sets[32];
	size_t nsets = 0;
	int rc;
	memset(&s, 0, sizeof(s));
	if ((rc = cli_start(&c, &serve_spec, argc, argv)) != CLI_CONTINUE)
		return cli_end(&c, rc);
	/* A daemon's log is its voice: info unless FLOTILLA_LOG says otherwise. */
	if (!getenv("FLOTILLA_LOG"))
		flt_log_set_level(FLT_LOG_INFO);
	if (cli_flag(&c, "help-config")) {
		flt_conf_print_help(&serve_schema, stdout);
		return cli_end(&c, CLI_OK);
	}
	for (int i = 0; i < cli_count(&c, "set") && nsets < 32; i++)
		sets[nsets++] = cli_nth(&c, "set", i);
	const char *path = cli_get(&c, "config");
	if (!path) {
		FILE *f = fopen("/etc/flotilla/controller.conf", "r");
		if (f) {
			fclose(f);
			path = "/etc/flotilla/controller.conf";
		}
	}
	flt_err e = flt_conf_load(&serve_schema, &s.conf, path, sets, nsets, err, sizeof(err));
	if (e)
		return cli_end(&c, cli_fail(&c, e, "bad configuration: %s", err));
	if ((rc = cli_registry(&c, 0)) != CLI_CONTINUE)
		goto out;
	s.reg = c.reg;
	s.data_dir = c.data_dir;
	e = flt_keystore_load(c.data_dir, &s.ks);
	if (e) {
		rc = cli_fail(&c, e,
		              "cannot load signing keys from %s/keys (%s); run 'flotilla keys "
		              "init' first",
		              c.data_dir, flt_strerror(e));
		goto out;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	conf_src.path = path;
	conf_src.sets = sets;
	conf_src.nsets = nsets;
	signal(SIGPIPE, SIG_IGN);
	s.pending_tail = &s.pending;
	s.data_version = -1;
	if (!keylist_stat(&s, &s.kl_ino, &s.kl_size, &s.kl_mtime_ns))
		s.kl_ino = -1;
	rc = run(&s);
out:
	serve_chunks_free(&s);
	flt_free(s.cleared);
	flt_mqtt_free(s.mq);
	flt_keystore_free(s.ks);
	flt_conf_free(&serve_schema, &s.conf);
	return cli_end(&c, rc);
}
