/* libFuzzer harness for the ustar reader `flotilla restore` runs over backup
 * files: headers (checksum, octal fields, names) and member data framing. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../controller/tar_io.h"

static int sink(void *arg, const void *p, size_t n)
{
	uint64_t *total = arg;
	(void)p;
	*total += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	for (int i = 0; i < 256; i++) {
		char name[257];
		uint64_t len = 0, total = 0;
		int end = 0;
		if (tar_read_header(f, name, &len, &end) != FLT_OK || end)
			break;
		/* names the reader accepts are relative and free of ".." */
		if (name[0] == '/' || strstr(name, ".."))
			__builtin_trap();
		if (tar_read_data(f, len, sink, &total) != FLT_OK)
			break;
		if (total != len)
			__builtin_trap();
	}
	fclose(f);
	return 0;
}
