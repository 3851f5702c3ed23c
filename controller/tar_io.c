/* Minimal ustar writer/reader: enough for bundles we write ourselves, strict
 * on what it reads (checksum, octal fields, names without .. or leading /). */
#include <string.h>

#include "tar_io.h"

#define TAR_MAX_SIZE 077777777777ULL

static void octal(char *dst, size_t width, uint64_t v)
{
	/* width-1 digits and a NUL, zero-padded. */
	dst[width - 1] = '\0';
	for (size_t i = width - 1; i-- > 0;) {
		dst[i] = (char)('0' + (v & 7));
		v >>= 3;
	}
}

static flt_err header(FILE *f, const char *name, uint64_t len, unsigned mode)
{
	unsigned char h[512];
	size_t nlen = strlen(name);
	memset(h, 0, sizeof(h));
	if (len > TAR_MAX_SIZE)
		return FLT_ELIMIT;
	if (nlen <= 100) {
		memcpy(h, name, nlen);
	} else {
		/* Split at a '/' so the prefix fits 155 bytes and the rest 100. */
		const char *cut = NULL;
		for (const char *p = name; *p; p++)
			if (*p == '/' && (size_t)(p - name) <= 155 && strlen(p + 1) <= 100 && p[1])
				cut = p;
		if (!cut)
			return FLT_EINVAL;
		memcpy(h + 345, name, (size_t)(cut - name));
		memcpy(h, cut + 1, strlen(cut + 1));
	}
	octal((char *)h + 100, 8, mode & 07777);
	octal((char *)h + 108, 8, 0);
	octal((char *)h + 116, 8, 0);
	octal((char *)h + 124, 12, len);
	octal((char *)h + 136, 12, 0);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	octal((char *)h + 148, 7, sum);
	h[155] = ' ';
	return fwrite(h, 1, 512, f) == 512 ? FLT_OK : FLT_EIO;
}

static flt_err pad(FILE *f, uint64_t len)
{
	static const unsigned char zero[512];
	size_t p = (size_t)((512 - (len % 512)) % 512);
	return (p == 0 || fwrite(zero, 1, p, f) == p) ? FLT_OK : FLT_EIO;
}

flt_err tar_write_member(FILE *f, const char *name, const void *data, uint64_t len, unsigned mode)
{
	flt_err e = header(f, name, len, mode);
	if (e)
		return e;
	if (len && fwrite(data, 1, (size_t)len, f) != (size_t)len)
		return FLT_EIO;
	return pad(f, len);
}

flt_err tar_write_file(FILE *f, const char *name, FILE *src, uint64_t len, unsigned mode)
{
	unsigned char buf[65536];
	uint64_t left = len;
	flt_err e = header(f, name, len, mode);
	if (e)
		return e;
	while (left) {
		size_t want = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
		if (fread(buf, 1, want, src) != want || fwrite(buf, 1, want, f) != want)
			return FLT_EIO;
		left -= want;
	}
	return pad(f, len);
}

flt_err tar_write_end(FILE *f)
{
	static const unsigned char zero[1024];
	return fwrite(zero, 1, sizeof(zero), f) == sizeof(zero) ? FLT_OK : FLT_EIO;
}

static int parse_octal(const unsigned char *p, size_t width, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < width && p[i] == ' ')
		i++;
	size_t digits = 0;
	for (; i < width && p[i] >= '0' && p[i] <= '7'; i++, digits++) {
		if (v > (UINT64_MAX >> 3))
			return -1;
		v = (v << 3) | (uint64_t)(p[i] - '0');
	}
	for (; i < width; i++)
		if (p[i] != ' ' && p[i] != '\0')
			return -1;
	if (!digits)
		return -1;
	*out = v;
	return 0;
}

flt_err tar_read_header(FILE *f, char name[257], uint64_t *len, int *end)
{
	unsigned char h[512];
	if (fread(h, 1, 512, f) != 512)
		return ferror(f) ? FLT_EIO : FLT_EPARSE;
	int zero = 1;
	for (size_t i = 0; i < 512 && zero; i++)
		zero = h[i] == 0;
	if (zero) {
		*end = 1;
		return FLT_OK;
	}
	uint64_t sum_field, size;
	if (parse_octal(h + 148, 8, &sum_field) || parse_octal(h + 124, 12, &size))
		return FLT_EPARSE;
	unsigned sum = 0;
	for (size_t i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : h[i];
	if (sum != sum_field || memcmp(h + 257, "ustar", 5) != 0)
		return FLT_EPARSE;
	if (h[156] != '0' && h[156] != '\0')
		return FLT_EPARSE;
	size_t plen = strnlen((const char *)h + 345, 155), nlen = strnlen((const char *)h, 100);
	if (nlen == 0)
		return FLT_EPARSE;
	size_t off = 0;
	if (plen) {
		memcpy(name, h + 345, plen);
		name[plen] = '/';
		off = plen + 1;
	}
	memcpy(name + off, h, nlen);
	name[off + nlen] = '\0';
	if (name[0] == '/' || strstr(name, "..") || strstr(name, "//"))
		return FLT_EPARSE;
	*len = size;
	*end = 0;
	return FLT_OK;
}

flt_err tar_read_data(FILE *f, uint64_t len, int (*sink)(void *arg, const void *p, size_t n),
                      void *arg)
{
	unsigned char buf[65536];
	uint64_t left = len + (512 - (len % 512)) % 512, data = len;
	while (left) {
		size_t want = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
		if (fread(buf, 1, want, f) != want)
			return ferror(f) ? FLT_EIO : FLT_EPARSE;
		size_t use = data > want ? want : (size_t)data;
		if (use && sink && sink(arg, buf, use))
			return FLT_EIO;
		data -= use;
		left -= want;
	}
	return FLT_OK;
}
