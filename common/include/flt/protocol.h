/* Constants of the wire protocol both sides must agree on: protocol version,
 * topic root, DSSE payloadType strings and message size limits. The full
 * protocol is in docs/protocol.md; change both together. */
#ifndef FLT_PROTOCOL_H
#define FLT_PROTOCOL_H

/* Value of the "v" member every JSON payload carries. A decoder refuses any
 * other value with UNSUPPORTED_PROTOCOL. Bumped only for incompatible changes;
 * the topic root carries the same number. */
#define FLT_PROTOCOL_VERSION 1
#define FLT_TOPIC_ROOT       "flotilla/v1"

/* DSSE payloadType of each signed document. */
#define FLT_PAYLOAD_RELEASE "application/vnd.flotilla.release+json"
#define FLT_PAYLOAD_DESIRED "application/vnd.flotilla.desired+json"
#define FLT_PAYLOAD_KEYLIST "application/vnd.flotilla.keylist+json"

/* Largest payload each decoder accepts, in bytes (checked before parsing). */
#define FLT_MAX_MANIFEST_BYTES (64u * 1024u)
#define FLT_MAX_ENVELOPE_BYTES                                                                     \
	(96u * 1024u) /* a release envelope: base64 manifest + signatures                          \
	               */
#define FLT_MAX_DESIRED_BYTES                                                                      \
	(2u * 1024u * 1024u) /* up to FLT_MAX_DESIRED_ENTRIES envelopes, base64'd again */
#define FLT_MAX_STATE_BYTES     (256u * 1024u)
#define FLT_MAX_STATUS_BYTES    256u
#define FLT_MAX_EVENT_BYTES     (4u * 1024u)   /* one stored event item */
#define FLT_MAX_EVENTS_BYTES    (256u * 1024u) /* a batch of events on up/events */
#define FLT_MAX_TELEMETRY_BYTES (256u * 1024u)
#define FLT_MAX_ACK_BYTES       512u
#define FLT_MAX_FETCH_BYTES     (8u * 1024u)

/* Counts. */
#define FLT_MAX_DESIRED_ENTRIES   16
#define FLT_MAX_FETCH_RANGES      64
#define FLT_MAX_FETCH_CHUNKS      4096 /* chunks one request may ask for in total */
#define FLT_MAX_TELEMETRY_SAMPLES 256
#define FLT_MAX_CHUNKS            (1u << 24) /* chunks in one artifact */

/* Free-text lengths in bytes (UTF-8). */
#define FLT_MAX_LABEL   128
#define FLT_MAX_MESSAGE 256

#endif
