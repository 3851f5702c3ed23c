#!/bin/sh
# Fails if a C file in the tree calls a banned function (use snprintf, bounded
# copies and strtol with checks instead).
cd "$(dirname "$0")/../.."
hits=$(git ls-files -co --exclude-standard '*.c' '*.h' | grep -v '^build/' |
	xargs -r grep -nE '\b(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|gets)[[:space:]]*\(' /dev/null)
if [ -n "$hits" ]; then
	echo "banned calls found (use snprintf, memcpy with bounds, strtol with checks):" >&2
	echo "$hits" >&2
	exit 1
fi
