/* The identifier rule shared by device ids and model names. Because the first
 * character must be [a-z0-9], "." and ".." and hidden names cannot pass. */
#include <string.h>

#include "flt/ident.h"

bool flt_ident_valid(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (i >= FLT_IDENT_MAX)
			return false;
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	/* Redundant with the first-character rule; kept so the guarantee the
	 * header promises does not hinge on that rule staying as it is. */
	return i > 0 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

bool flt_ident_device_valid(const char *s)
{
	return flt_ident_valid(s) && strcmp(s, FLT_CONTROLLER_IDENTITY) != 0;
}
