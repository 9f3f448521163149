/*
 * fuzz_b64url.c - libFuzzer target: clr_b64url_decode / clr_b64url_encode.
 *
 * Properties: (1) decode is strict, so whatever it accepts is canonical and
 * re-encodes to exactly the input (a lenient decoder would let two token
 * texts carry the same signature); (2) the decoded length is exactly
 * len * 3 / 4 rounded down; (3) any bytes encode and decode back to
 * themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clearance/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *dec = NULL, *back = NULL;
	char *enc = NULL;
	size_t dlen = 0, blen = 0;

	if (clr_b64url_decode((const char *)data, size, &dec, &dlen) == CLR_OK) {
		if (dlen != size * 3 / 4)
			abort();
		if (clr_b64url_encode(dec, dlen, &enc) != CLR_OK)
			abort();
		if (strlen(enc) != size || memcmp(enc, data, size) != 0)
			abort();
		free(enc);
		enc = NULL;
	} else if (dec != NULL) {
		abort();
	}
	if (clr_b64url_encode(data, size, &enc) != CLR_OK)
		abort();
	if (clr_b64url_decode(enc, strlen(enc), &back, &blen) != CLR_OK || blen != size ||
	    (size > 0 && memcmp(back, data, size) != 0))
		abort();
	free(enc);
	free(back);
	free(dec);
	return 0;
}
