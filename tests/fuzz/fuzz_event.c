/* libFuzzer target for event batches (up/events): strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/msg.h"
#include "roundtrip.h"

FLT_FUZZ_HEAP_CODEC(struct flt_event_batch, flt_events_parse, flt_events_encode, flt_events_free)
