/* flt_runtime: a small ONNX runtime in C11 (reader, planner, kernels).
 * The agent links it to serve models; the controller to analyse them. */
#ifndef FLT_RUNTIME_H
#define FLT_RUNTIME_H

/* Returns the runtime's version string (static). */
const char *flt_runtime_version(void);

#endif
