/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config: the config parser on arbitrary text.  Trusts nothing of
 * the input; checks that a failed parse leaves the config unchanged and
 * that every error names a line.  The same text, one line of it, goes to
 * the --port / `port add` spec parser (its ",," unescaping included).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vvu_config c, before;
	char *text = malloc(size + 1);
	char err[256];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	vvu_config_default(&c);
	before = c;
	err[0] = '\0';
	if (vvu_config_parse(&c, text, "fuzz", err, sizeof(err)) != 0) {
		if (memcmp(&c, &before, sizeof(c)) != 0 ||
		    strncmp(err, "fuzz", 4) != 0)
			abort();	/* a finding, not peer input handling */
	}
	text[strcspn(text, "\n")] = '\0';
	{
		static struct vvu_port_cfg p;

		err[0] = '\0';
		if (vvu_port_spec_parse(&p, text, err, sizeof(err)) != 0 && !err[0])
			abort();	/* a refusal always says why */
	}
	free(text);
	return 0;
}
