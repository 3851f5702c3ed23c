/* Identifiers that become MQTT topic levels, certificate names and folder
 * names: device ids, model names, release names. One rule for all of them,
 * checked by every codec and command. */
#ifndef FLT_IDENT_H
#define FLT_IDENT_H

#include <stdbool.h>
#include <stddef.h>

/* Longest identifier in bytes (the rule is [a-z0-9][a-z0-9._-]{0,63}). */
#define FLT_IDENT_MAX 64

/* The controller's MQTT client id and certificate identity. No device may take
 * it, or a device certificate could pass for the controller at the broker. */
#define FLT_CONTROLLER_IDENTITY "flotilla-controller"

/* True if s matches [a-z0-9][a-z0-9._-]{0,63} (so never "." or ".."). NULL is invalid. */
bool flt_ident_valid(const char *s);

/* True if s is a valid identifier and not the reserved controller identity. */
bool flt_ident_device_valid(const char *s);

#endif
