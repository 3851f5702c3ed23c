/* libFuzzer target for reported state (up/state): strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/msg.h"
#include "roundtrip.h"

FLT_FUZZ_HEAP_CODEC(struct flt_state, flt_state_parse, flt_state_encode, flt_state_free)
