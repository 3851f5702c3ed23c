/* The fleet CA on disk (<data-dir>/keys/: ca.key, ca.pem, crl.pem and the
 * controller's client certificate) and the operations on it: creation with
 * `keys init`, device provisioning bundles, revocation (registry, CRL, the
 * broker folder's ACL and CRL copies). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/platform_util.h>

#define FLT_LOG_MODULE "pki"
#include "flt/alloc.h"
#include "flt/atomicfile.h"
#include "flt/crypto.h"
#include "flt/ident.h"
#include "flt/keystore.h"
#include "flt/log.h"
#include "flt/pki.h"
#include "pki_int.h"
#include "pki_store.h"
#include "registry_db.h"

#define PATH_MAX_ 4096
#define PEM_MAX   (64u * 1024u)
#define CRL_MAX   (16u * 1024u * 1024u)

flt_err pki_path(const char *data_dir, const char *file, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s/%s", data_dir, FLT_KEYSTORE_DIR, file);
	return (n < 0 || (size_t)n >= cap) ? FLT_EINVAL : FLT_OK;
}

flt_err pki_read(const char *data_dir, const char *file, char **out)
{
	char path[PATH_MAX_];
	uint8_t *buf = NULL;
	size_t len = 0;
	flt_err e = pki_path(data_dir, file, path, sizeof(path));
	if (e)
		return e;
	if ((e = flt_file_read_all(path, PEM_MAX, &buf, &len, NULL)) != FLT_OK)
		return e;
	*out = (char *)buf; /* NUL-terminated by flt_file_read_all */
	return FLT_OK;
}

void pki_wipe_free(char *s)
{
	if (s)
		mbedtls_platform_zeroize(s, strlen(s));
	flt_free(s);
}

static flt_err write_in(const char *dir, const char *file, const char *data, mode_t mode)
{
	char path[PATH_MAX_];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return FLT_EINVAL;
	return flt_file_write_atomic(path, data, strlen(data), mode, NULL);
}

static flt_err keys_dir(const char *data_dir, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", data_dir, FLT_KEYSTORE_DIR);
	return (n < 0 || (size_t)n >= cap) ? FLT_EINVAL : FLT_OK;
}

/* Records an issued certificate. */
static flt_err record_cert(struct flt_registry *reg, const char *pem, const char *kind)
{
	struct flt_cert_info ci;
	flt_err e = flt_pki_cert_info((const uint8_t *)pem, strlen(pem), &ci);
	if (e)
		return e;
	return reg_exec(reg, REG_Q_CERT_INSERT, "tttiii", ci.serial_hex, ci.cn, kind, ci.not_before,
	                ci.not_after, reg_now_ms());
}

flt_err pki_issue_with_ca(const char *data_dir, struct flt_registry *reg,
                          const struct flt_cert_spec *spec_in, const char *kind, char **key_out,
                          char **cert_out)
{
	char *cakey = NULL, *cacert = NULL, *key = NULL, *cert = NULL;
	struct flt_cert_spec spec = *spec_in;
	size_t len;
	flt_err e;
	if ((e = pki_read(data_dir, FLT_PKI_CA_KEY, &cakey)) != FLT_OK ||
	    (e = pki_read(data_dir, FLT_PKI_CA_CERT, &cacert)) != FLT_OK)
		goto out;
	if ((e = flt_pki_serial_new(spec.serial)) != FLT_OK ||
	    (e = flt_pki_key_new(&key, &len)) != FLT_OK ||
	    (e = flt_pki_cert_issue(cakey, cacert, key, &spec, &cert, &len)) != FLT_OK)
		goto out;
	if ((e = record_cert(reg, cert, kind)) != FLT_OK)
		goto out;
	*key_out = key;
	*cert_out = cert;
	key = cert = NULL;
out:
	pki_wipe_free(cakey);
	pki_wipe_free(key);
	flt_free(cacert);
	flt_free(cert);
	return e;
}

flt_err pki_crl_current(const char *data_dir, struct flt_registry *reg, int64_t now, char **pem)
{
	char *cakey = NULL, *cacert = NULL;
	struct flt_crl_entry *ents = NULL;
	size_t n = 0, cap = 0, len = 0;
	int64_t number = 0;
	sqlite3_stmt *st = NULL;
	int row = 0;
	flt_err e;
	if ((e = reg_stmt(reg, REG_Q_CERT_REVOKED_ALL, &st)) != FLT_OK)
		return e;
	while ((e = reg_step(reg, st, &row)) == FLT_OK && row) {
		const char *hex = (const char *)sqlite3_column_text(st, 0);
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct flt_crl_entry *ne = flt_realloc(ents, nc * sizeof(*ents));
			if (!ne) {
				e = FLT_ENOMEM;
				goto out;
			}
			ents = ne;
			cap = nc;
		}
		if (!hex || strlen(hex) != FLT_PKI_SERIAL_HEX ||
		    flt_hex_decode(hex, FLT_PKI_SERIAL_HEX, ents[n].serial, FLT_PKI_SERIAL_LEN)) {
			flt_log_warn("certificate serial '%s' is not ours; left out of the CRL",
			             hex ? hex : "");
			continue;
		}
		ents[n].revoked_at = sqlite3_column_int64(st, 1) / 1000;
		n++;
	}
	sqlite3_reset(st);
	if (e)
		goto out;
	if ((e = flt_registry_counter_next(reg, "crl_number", &number)) != FLT_OK)
		goto out;
	if ((e = pki_read(data_dir, FLT_PKI_CA_KEY, &cakey)) != FLT_OK ||
	    (e = pki_read(data_dir, FLT_PKI_CA_CERT, &cacert)) != FLT_OK)
		goto out;
	e = flt_pki_crl_build(cakey, cacert, (uint64_t)number, now, FLT_PKI_CRL_NEXT_UPDATE, ents,
	                      n, pem, &len);
out:
	pki_wipe_free(cakey);
	flt_free(cacert);
	flt_free(ents);
	return e;
}

flt_err flt_pki_ca_init(const char *data_dir, struct flt_registry *reg, int64_t now)
{
	char dir[PATH_MAX_], path[PATH_MAX_];
	char *cakey = NULL, *cacert = NULL, *ckey = NULL, *ccert = NULL, *crl = NULL;
	size_t len;
	struct stat sb;
	flt_err e;
	if (!data_dir || !reg)
		return FLT_EINVAL;
	if ((e = keys_dir(data_dir, dir, sizeof(dir))) != FLT_OK ||
	    (e = pki_path(data_dir, FLT_PKI_CA_KEY, path, sizeof(path))) != FLT_OK)
		return e;
	if (stat(path, &sb) == 0)
		return FLT_ECONFLICT;
	struct flt_cert_spec ca = {.kind = FLT_CERT_CA,
	                           .cn = "flotilla fleet CA",
	                           .not_before = now - 300,
	                           .not_after = now + FLT_PKI_CA_VALIDITY_S};
	if ((e = flt_pki_serial_new(ca.serial)) != FLT_OK ||
	    (e = flt_pki_key_new(&cakey, &len)) != FLT_OK ||
	    (e = flt_pki_cert_issue(cakey, NULL, cakey, &ca, &cacert, &len)) != FLT_OK)
		goto out;
	if ((e = record_cert(reg, cacert, "ca")) != FLT_OK)
		goto out;
	/* The certificate first, the key last: the key is what marks a CA as
	 * present, so a crash in between lets `keys init` start over. */
	if ((e = write_in(dir, FLT_PKI_CA_CERT, cacert, 0644)) != FLT_OK ||
	    (e = write_in(dir, FLT_PKI_CA_KEY, cakey, 0600)) != FLT_OK)
		goto out;
	struct flt_cert_spec cs = {.kind = FLT_CERT_CLIENT,
	                           .cn = FLT_CONTROLLER_IDENTITY,
	                           .not_before = now - 300,
	                           .not_after = now + FLT_PKI_CA_VALIDITY_S};
	if ((e = pki_issue_with_ca(data_dir, reg, &cs, "controller", &ckey, &ccert)) != FLT_OK)
		goto out;
	if ((e = write_in(dir, FLT_PKI_CTRL_CERT, ccert, 0644)) != FLT_OK ||
	    (e = write_in(dir, FLT_PKI_CTRL_KEY, ckey, 0600)) != FLT_OK)
		goto out;
	if ((e = pki_crl_current(data_dir, reg, now, &crl)) != FLT_OK)
		goto out;
	e = write_in(dir, FLT_PKI_CRL, crl, 0644);
out:
	if (e)
		flt_log_err("creating the fleet CA in %s failed: %s", dir, flt_strerror(e));
	pki_wipe_free(cakey);
	pki_wipe_free(ckey);
	flt_free(cacert);
	flt_free(ccert);
	flt_free(crl);
	return e;
}

flt_err flt_pki_device_revoked(struct flt_registry *reg, const char *device_id, bool *out)
{
	int64_t ms = 0;
	flt_err e = reg_query_int(reg, REG_Q_DEVICE_REVOKED_GET, &ms, "t", device_id);
	if (e == FLT_ENOTFOUND) {
		*out = false;
		return FLT_OK;
	}
	if (e)
		return e;
	*out = true;
	return FLT_OK;
}

flt_err pki_table_exists(struct flt_registry *reg, const char *table, bool *out)
{
	int64_t one = 0;
	flt_err e = reg_query_int(reg, REG_Q_TABLE_EXISTS, &one, "t", table);
	if (e == FLT_ENOTFOUND) {
		*out = false;
		return FLT_OK;
	}
	if (e)
		return e;
	*out = true;
	return FLT_OK;
}

/* The device row and group membership in serve's tables, when they exist
 * (they arrive with serve's migration). */
static flt_err register_device(struct flt_registry *reg, const char *id, const char *group)
{
	bool have = false;
	flt_err e = pki_table_exists(reg, "devices", &have);
	if (e || !have)
		return e;
	int64_t now = reg_now_ms();
	if ((e = reg_exec(reg, REG_Q_PKI_DEVICE_INSERT, "ti", id, now)) != FLT_OK)
		return e;
	if (!group)
		return FLT_OK;
	if ((e = reg_exec(reg, REG_Q_PKI_GROUP_ENSURE, "ti", group, now)) != FLT_OK)
		return e;
	return reg_exec(reg, REG_Q_PKI_GROUP_ADD, "tt", group, id);
}

static flt_err agent_conf(const struct flt_provision_opts *o, char **out)
{
	const char *dir = o->conf_dir ? o->conf_dir : "/etc/flotilla";
	const char *broker = o->broker_uri ? o->broker_uri : "ssl://localhost:8883";
	size_t cap = 2048 + 4 * strlen(dir) + strlen(broker);
	char *s = flt_malloc(cap);
	if (!s)
		return FLT_ENOMEM;
	int n =
	    snprintf(s, cap,
	             "# flotilla-agent configuration written by `flotilla device provision`.\n"
	             "[device]\nid = %s\n\n"
	             "[mqtt]\nbroker = %s\n"
	             "ca_file = %s/ca.pem\ncert_file = %s/device.pem\nkey_file = %s/device.key\n\n"
	             "[trust]\nroot_keys = %s/root-keys.pem\n",
	             o->device_id, broker, dir, dir, dir, dir);
	if (n < 0 || (size_t)n >= cap) {
		flt_free(s);
		return FLT_EINVAL;
	}
	*out = s;
	return FLT_OK;
}

flt_err flt_pki_provision(const char *data_dir, struct flt_registry *reg,
                          const struct flt_provision_opts *o, int64_t now, char *serial_hex)
{
	char *key = NULL, *cert = NULL, *cacert = NULL, *root = NULL, *conf = NULL;
	int64_t count = 0;
	bool revoked = false;
	flt_err e;
	if (!data_dir || !reg || !o || !o->out_dir || !flt_ident_device_valid(o->device_id) ||
	    (o->group && !flt_ident_valid(o->group)) || o->validity_s < 0)
		return FLT_EINVAL;
	if (o->broker_uri && (strchr(o->broker_uri, '\n') || strchr(o->broker_uri, '"')))
		return FLT_EINVAL;
	if ((e = pki_read(data_dir, FLT_PKI_CA_CERT, &cacert)) != FLT_OK ||
	    (e = pki_read(data_dir, FLT_KEYSTORE_ROOT_PUB, &root)) != FLT_OK)
		goto out;
	if ((e = reg_begin(reg)) != FLT_OK)
		goto out;
	if ((e = flt_pki_device_revoked(reg, o->device_id, &revoked)) != FLT_OK)
		goto rollback;
	if (revoked) {
		e = FLT_ECONFLICT;
		goto rollback;
	}
	if ((e = reg_query_int(reg, REG_Q_CERT_COUNT_IDENTITY, &count, "tt", o->device_id,
	                       "device")) != FLT_OK)
		goto rollback;
	if (count > 0 && !o->renew) {
		e = FLT_ECONFLICT;
		goto rollback;
	}
	if (count == 0 && o->renew) {
		e = FLT_ENOTFOUND;
		goto rollback;
	}
	struct flt_cert_spec spec = {
	    .kind = FLT_CERT_CLIENT,
	    .cn = o->device_id,
	    .not_before = now - 300,
	    .not_after = now + (o->validity_s ? o->validity_s : FLT_PKI_DEVICE_VALIDITY_S)};
	if ((e = pki_issue_with_ca(data_dir, reg, &spec, "device", &key, &cert)) != FLT_OK)
		goto rollback;
	if ((e = register_device(reg, o->device_id, o->group)) != FLT_OK)
		goto rollback;
	if ((e = agent_conf(o, &conf)) != FLT_OK)
		goto rollback;
	/* Files before the commit: a bundle that failed to write leaves no
	 * certificate on record, so provisioning can simply be repeated. */
	if ((e = flt_file_mkdirs(o->out_dir, 0700, NULL)) != FLT_OK ||
	    (e = write_in(o->out_dir, "ca.pem", cacert, 0644)) != FLT_OK ||
	    (e = write_in(o->out_dir, "root-keys.pem", root, 0644)) != FLT_OK ||
	    (e = write_in(o->out_dir, "device.pem", cert, 0644)) != FLT_OK ||
	    (e = write_in(o->out_dir, "device.key", key, 0600)) != FLT_OK ||
	    (e = write_in(o->out_dir, "agent.conf", conf, 0644)) != FLT_OK)
		goto rollback;
	if ((e = reg_commit(reg)) != FLT_OK)
		goto out;
	if (serial_hex) {
		struct flt_cert_info ci;
		serial_hex[0] = '\0';
		if (flt_pki_cert_info((const uint8_t *)cert, strlen(cert), &ci) == FLT_OK &&
		    strlen(ci.serial_hex) <= FLT_PKI_SERIAL_HEX)
			memcpy(serial_hex, ci.serial_hex, strlen(ci.serial_hex) + 1);
	}
	goto out;
rollback:
	reg_rollback(reg);
out:
	pki_wipe_free(key);
	flt_free(cert);
	flt_free(cacert);
	flt_free(root);
	flt_free(conf);
	return e;
}

flt_err flt_pki_revoke_device(const char *data_dir, struct flt_registry *reg, const char *device_id,
                              int64_t now, size_t *ncerts)
{
	char dir[PATH_MAX_], bdir[PATH_MAX_];
	char *crl = NULL, *acl = NULL;
	int64_t count = 0;
	size_t acllen = 0;
	flt_err e;
	if (!data_dir || !reg || !flt_ident_device_valid(device_id))
		return FLT_EINVAL;
	if ((e = keys_dir(data_dir, dir, sizeof(dir))) != FLT_OK)
		return e;
	if ((e = reg_begin(reg)) != FLT_OK)
		return e;
	if ((e = reg_query_int(reg, REG_Q_CERT_COUNT_IDENTITY, &count, "tt", device_id,
	                       "device")) != FLT_OK)
		goto rollback;
	if (count == 0) {
		e = FLT_ENOTFOUND;
		goto rollback;
	}
	if ((e = reg_exec(reg, REG_Q_CERT_REVOKE_IDENTITY, "ti", device_id, now * 1000)) != FLT_OK)
		goto rollback;
	size_t changed = (size_t)sqlite3_changes(reg->db);
	if ((e = reg_exec(reg, REG_Q_DEVICE_REVOKED_INSERT, "ti", device_id, now * 1000)) != FLT_OK)
		goto rollback;
	if ((e = reg_commit(reg)) != FLT_OK)
		goto out;
	/* The registry is the truth; the files are rebuilt from it, so a failure
	 * below is repaired by running the revocation again. */
	if ((e = pki_crl_current(data_dir, reg, now, &crl)) != FLT_OK ||
	    (e = write_in(dir, FLT_PKI_CRL, crl, 0644)) != FLT_OK)
		goto out;
	if ((e = pki_broker_dir(reg, bdir, sizeof(bdir))) == FLT_OK) {
		if ((e = flt_broker_acl_text(reg, &acl, &acllen)) != FLT_OK ||
		    (e = broker_write_file(bdir, "crl.pem", crl, 0640)) != FLT_OK ||
		    (e = broker_write_file(bdir, "acl", acl, 0640)) != FLT_OK)
			goto out;
	} else if (e == FLT_ENOTFOUND) {
		e = FLT_OK;
	} else {
		goto out;
	}
	if (ncerts)
		*ncerts = changed;
	goto out;
rollback:
	reg_rollback(reg);
out:
	flt_free(crl);
	flt_free(acl);
	return e;
}
