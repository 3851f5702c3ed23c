/* Pipeline steps 3 and 4: the whole-file hash of the assembled artifact, then
 * load it in the runtime, check its inputs/outputs against the manifest and
 * run the golden vectors within rtol/atol. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define FLT_LOG_MODULE "agent.test"
#include "agentd_int.h"
#include "flt/alloc.h"
#include "flt/failpoint.h"
#include "flt/fileio.h"
#include "flt/golden.h"
#include "flt/log.h"

flt_err test_file_hash(const char *path, const struct flt_manifest *man, enum flt_reason *reason)
{
	int fd = -1;
	uint8_t *buf = NULL;
	flt_sha256_ctx ctx;
	uint8_t got[FLT_SHA256_LEN], want[FLT_SHA256_LEN];
	uint64_t total = 0;
	*reason = FLT_REASON_IO_ERROR;
	flt_err e = flt_fio_open(path, O_RDONLY, 0, &fd, "install.hash.open");
	if (e)
		return e;
	if (!(buf = flt_malloc(1u << 16))) {
		e = FLT_ENOMEM;
		goto out;
	}
	flt_sha256_init(&ctx);
	for (;;) {
		size_t got_n = 0;
		if ((e = flt_fio_read(fd, buf, 1u << 16, &got_n, "install.hash"))) {
			if (flt_sha256_final(&ctx, got))
				flt_log_dbg("hash abandoned");
			goto out;
		}
		if (!got_n)
			break;
		/* only the artifact's own bytes: a preallocated tail would not count */
		size_t take = got_n;
		if (total + take > man->artifact_size)
			take = (size_t)(man->artifact_size - total);
		flt_sha256_update(&ctx, buf, take);
		total += take;
	}
	if ((e = flt_sha256_final(&ctx, got)) ||
	    (e = flt_hex_decode(man->artifact_sha256, 64, want, sizeof(want))))
		goto out;
	if (total != man->artifact_size || !flt_ct_equal(got, want, sizeof(got))) {
		*reason = FLT_REASON_FILE_HASH_MISMATCH;
		e = FLT_EVERIFY;
		goto out;
	}
	*reason = FLT_REASON_NONE;
out:
	flt_free(buf);
	(void)flt_fio_close(fd, NULL);
	return e;
}

static bool sig_matches(const struct flt_tensor_sig *want, const struct flt_rt_value_info *got)
{
	if (strcmp(want->name, got->name))
		return false;
	if (want->dtype && got->dtype && (int32_t)want->dtype != got->dtype)
		return false;
	if (want->rank >= 0 && got->rank >= 0 && want->rank != got->rank)
		return false;
	return true;
}

static bool close_enough(const struct flt_rt_tensor *got, const struct flt_rt_tensor *want,
                         double rtol, double atol, char *msg, size_t msglen)
{
	if (got->dtype != want->dtype || got->size != want->size) {
		snprintf(msg, msglen, "output of %s, %zu bytes; expected %s, %zu bytes",
		         flt_rt_dtype_name(got->dtype), got->size, flt_rt_dtype_name(want->dtype),
		         want->size);
		return false;
	}
	size_t es = flt_rt_dtype_size(got->dtype);
	if (!es)
		return false;
	size_t n = got->size / es;
	for (size_t i = 0; i < n; i++) {
		double g, w;
		if (got->dtype == FLT_RT_FLOAT) {
			float fg, fw;
			memcpy(&fg, (const uint8_t *)got->data + i * 4, 4);
			memcpy(&fw, (const uint8_t *)want->data + i * 4, 4);
			g = fg;
			w = fw;
		} else if (got->dtype == FLT_RT_INT64) {
			int64_t ig, iw;
			memcpy(&ig, (const uint8_t *)got->data + i * 8, 8);
			memcpy(&iw, (const uint8_t *)want->data + i * 8, 8);
			g = (double)ig;
			w = (double)iw;
		} else {
			if (memcmp((const uint8_t *)got->data + i * es,
			           (const uint8_t *)want->data + i * es, es)) {
				snprintf(msg, msglen, "output differs at [%zu]", i);
				return false;
			}
			continue;
		}
		if (!(fabs(g - w) <= atol + rtol * fabs(w))) {
			snprintf(msg, msglen, "output differs at [%zu]: %g vs %g", i, g, w);
			return false;
		}
	}
	return true;
}

static flt_err run_golden(struct flt_rt_model *model, const struct flt_manifest *man,
                          const uint8_t *buf, size_t len, enum flt_reason *reason, char *msg,
                          size_t msglen)
{
	struct flt_golden *g = NULL;
	struct flt_json_err jerr = {0};
	flt_err e = flt_golden_parse(buf, len, len, &g, &jerr);
	if (e) {
		*reason = FLT_REASON_GOLDEN_MISMATCH;
		snprintf(msg, msglen, "golden bundle: %s", jerr.msg);
		return FLT_EVERIFY;
	}
	double rtol = man->has_golden ? man->golden_rtol : g->rtol,
	       atol = man->has_golden ? man->golden_atol : g->atol;
	size_t nin = flt_rt_model_n_inputs(model), nout = flt_rt_model_n_outputs(model);
	for (size_t c = 0; c < g->n_cases && !e; c++) {
		const struct flt_golden_case *gc = &g->cases[c];
		struct flt_rt_tensor in[FLT_GOLDEN_MAX_TENSORS], want[FLT_GOLDEN_MAX_TENSORS],
		    out[FLT_GOLDEN_MAX_TENSORS];
		size_t ni = 0, nw = 0;
		memset(out, 0, sizeof(out));
		char err[160] = "";
		if (gc->n_inputs != nin || gc->n_outputs != nout) {
			snprintf(msg, msglen,
			         "golden case %zu has %zu inputs/%zu outputs, model %zu/%zu", c,
			         gc->n_inputs, gc->n_outputs, nin, nout);
			e = FLT_EVERIFY;
		}
		for (; !e && ni < gc->n_inputs; ni++)
			if ((e = flt_rt_tensor_decode(gc->inputs[ni].data, gc->inputs[ni].len,
			                              &in[ni], NULL, err, sizeof(err))))
				snprintf(msg, msglen, "golden input: %s", err);
		for (; !e && nw < gc->n_outputs; nw++)
			if ((e = flt_rt_tensor_decode(gc->outputs[nw].data, gc->outputs[nw].len,
			                              &want[nw], NULL, err, sizeof(err))))
				snprintf(msg, msglen, "golden output: %s", err);
		if (!e && (e = flt_rt_run(model, in, nin, out, nout, err, sizeof(err))))
			snprintf(msg, msglen, "golden run: %s", err);
		for (size_t k = 0; !e && k < nout; k++)
			if (!close_enough(&out[k], &want[k], rtol, atol, msg, msglen))
				e = FLT_EVERIFY;
		for (size_t k = 0; k < ni; k++)
			flt_rt_tensor_release(&in[k]);
		for (size_t k = 0; k < nw; k++)
			flt_rt_tensor_release(&want[k]);
		for (size_t k = 0; k < nout; k++)
			flt_free(out[k].data);
	}
	flt_golden_free(g);
	if (e) {
		*reason = FLT_REASON_GOLDEN_MISMATCH;
		return FLT_EVERIFY;
	}
	return FLT_OK;
}

/* The largest batch the golden cases use (dim 0 of their inputs), so the
 * model is planned for it; 1 without golden vectors. */
static uint32_t golden_batch(const uint8_t *golden, size_t len)
{
	struct flt_golden *g = NULL;
	uint32_t best = 1;
	if (!golden || flt_golden_parse(golden, len, len, &g, NULL))
		return 1;
	for (size_t c = 0; c < g->n_cases; c++)
		for (size_t i = 0; i < g->cases[c].n_inputs; i++) {
			struct flt_rt_tensor t;
			char err[64];
			if (flt_rt_tensor_decode(g->cases[c].inputs[i].data,
			                         g->cases[c].inputs[i].len, &t, NULL, err,
			                         sizeof(err)))
				continue;
			if (t.rank > 0 && t.dims[0] > (int64_t)best && t.dims[0] <= 1024)
				best = (uint32_t)t.dims[0];
			flt_rt_tensor_release(&t);
		}
	flt_golden_free(g);
	return best;
}

flt_err test_model(const char *path, const struct flt_manifest *man, const uint8_t *golden,
                   size_t golden_len, enum flt_reason *reason, char *msg, size_t msglen)
{
	struct flt_rt_model *model = NULL;
	char err[200] = "";
	flt_err e = FLT_FAILPOINT("install.test");
	if (e) {
		*reason = FLT_REASON_IO_ERROR;
		return e;
	}
	struct flt_rt_opts ro = {.max_batch = golden_batch(golden, golden_len)};
	if ((e = flt_rt_model_load_file(path, &ro, &model, err, sizeof(err)))) {
		*reason = FLT_REASON_LOAD_FAILED;
		snprintf(msg, msglen, "%s", err);
		return FLT_EVERIFY;
	}
	size_t nin = flt_rt_model_n_inputs(model), nout = flt_rt_model_n_outputs(model);
	/* A manifest without a signature (serve does not fill it yet) has nothing to
	 * compare; the golden vectors below still check the model. */
	bool ok = (man->n_inputs == 0 && man->n_outputs == 0) ||
	          (nin == man->n_inputs && nout == man->n_outputs);
	if (man->n_inputs == 0 && man->n_outputs == 0)
		nin = nout = 0;
	for (size_t i = 0; ok && i < nin; i++)
		ok = sig_matches(&man->inputs[i], flt_rt_model_input(model, i));
	for (size_t i = 0; ok && i < nout; i++)
		ok = sig_matches(&man->outputs[i], flt_rt_model_output(model, i));
	if (!ok) {
		*reason = FLT_REASON_SIGNATURE_MISMATCH;
		snprintf(msg, msglen, "model inputs/outputs differ from the manifest's signature");
		e = FLT_EVERIFY;
	} else if (golden) {
		e = run_golden(model, man, golden, golden_len, reason, msg, msglen);
	}
	flt_rt_model_free(model);
	return e;
}
