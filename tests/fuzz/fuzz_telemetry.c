/* libFuzzer target for telemetry batches (up/telemetry): strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/msg.h"
#include "roundtrip.h"

FLT_FUZZ_HEAP_CODEC(struct flt_telemetry_batch, flt_telemetry_parse, flt_telemetry_encode,
                    flt_telemetry_free)
