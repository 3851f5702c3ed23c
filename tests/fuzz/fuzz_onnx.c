/* libFuzzer target for the ONNX reader, analysis and planner: any bytes must
 * analyse or fail cleanly; models that load with a small arena also run once
 * on zeroed inputs, so kernels see hostile shapes and attributes too. */
#include <stdint.h>
#include <string.h>

#include "flt/alloc.h"
#include "flt/runtime.h"

#define SMALL (1u << 16) /* keeps one run of hostile shapes well under the timeout */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flt_rt_analysis *a = NULL;
	struct flt_rt_model *m = NULL;
	struct flt_rt_opts opts = {.max_batch = 1, .max_concurrency = 1, .max_arena_bytes = SMALL};
	char err[256];

	if (flt_rt_analyze(data, size, &a) == FLT_OK)
		flt_rt_analysis_free(a);
	if (flt_rt_model_load(data, size, &opts, &m, err, sizeof(err)) != FLT_OK)
		return 0;
	size_t ni = flt_rt_model_n_inputs(m), no = flt_rt_model_n_outputs(m);
	struct flt_rt_tensor in[8], out[8];
	if (ni > 8 || no > 8 || flt_rt_model_is_dynamic(m))
		goto out;
	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	size_t total = 0;
	for (size_t i = 0; i < ni; i++) {
		const struct flt_rt_value_info *vi = flt_rt_model_input(m, i);
		size_t n = flt_rt_dtype_size(vi->dtype);
		for (int32_t d = 0; d < vi->rank && n; d++) {
			if ((uint64_t)vi->dims[d] > SMALL || n > SMALL / ((size_t)vi->dims[d] + 1))
				n = SMALL + 1;
			else
				n *= (size_t)vi->dims[d];
		}
		total += n;
		if (total > SMALL)
			goto out;
		in[i].dtype = vi->dtype;
		in[i].rank = vi->rank;
		memcpy(in[i].dims, vi->dims, sizeof(in[i].dims));
		in[i].size = n;
	}
	static uint8_t zeros[SMALL];
	for (size_t i = 0; i < ni; i++)
		in[i].data = zeros; /* inputs are read-only */
	if (flt_rt_run(m, in, ni, out, no, err, sizeof(err)) == FLT_OK)
		for (size_t i = 0; i < no; i++)
			flt_free(out[i].data);
out:
	flt_rt_model_free(m);
	return 0;
}
