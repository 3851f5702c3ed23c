/* libFuzzer target for chunk requests (up/fetch): strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/msg.h"
#include "roundtrip.h"

FLT_FUZZ_VALUE_CODEC(struct flt_fetch, flt_fetch_parse, flt_fetch_encode)
