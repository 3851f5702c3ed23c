/* libFuzzer target for the release manifest: strict decoding of hostile bytes, and a
 * canonical round trip of everything accepted (see roundtrip.h). */
#include "flt/manifest.h"
#include "roundtrip.h"

FLT_FUZZ_HEAP_CODEC(struct flt_manifest, flt_manifest_parse, flt_manifest_encode, flt_manifest_free)
