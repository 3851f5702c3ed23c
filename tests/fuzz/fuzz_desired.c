/* libFuzzer target for the desired-state payload: strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/desired.h"
#include "roundtrip.h"

FLT_FUZZ_HEAP_CODEC(struct flt_desired, flt_desired_parse, flt_desired_encode, flt_desired_free)
