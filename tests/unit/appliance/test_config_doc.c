/* SPDX-License-Identifier: MIT */
/*
 * The documentation against the parser, so the two cannot drift:
 * docs/config.md's key table and the CONFIGURATION FILE section of
 * docs/man/vvu-switchd.8 list exactly the keys of the parser's table
 * (vvu_config_key_info) with the same values and defaults, and every
 * config example in the docs (an indented block opening with [switch] or
 * [port ...]) parses, with any "lo..hi" in a comment equal to that key's
 * range.  Reads the source tree (VVU_SRC_ROOT, from meson).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define MAX_KEYS 64

static char *slurp(const char *rel)
{
	char path[512];
	FILE *f;
	char *buf;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", VVU_SRC_ROOT, rel);
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s", path, strerror(errno));
	buf = malloc(1 << 20);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Trim blanks and one pair of backticks, in place. */
static char *cell(char *s)
{
	char *e;

	while (*s == ' ')
		s++;
	e = s + strlen(s);
	while (e > s && e[-1] == ' ')
		*--e = '\0';
	if (e - s >= 2 && s[0] == '`' && e[-1] == '`') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

static void test_key_table_matches(void **state)
{
	struct vvu_config_key_info keys[MAX_KEYS];
	bool documented[MAX_KEYS] = { false };
	unsigned int nkeys = 0, rows = 0;
	char *doc = slurp("docs/config.md");
	char *save = NULL;

	(void)state;
	while (nkeys < MAX_KEYS && vvu_config_key_info(nkeys, &keys[nkeys]) == 0)
		nkeys++;
	assert_true(nkeys > 10 && nkeys < MAX_KEYS);
	for (char *line = strtok_r(doc, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c[6], *rest = line, *sec, *key, *values, *def;
		unsigned int i, n = 0;

		if (strncmp(line, "| `[", 4) != 0)
			continue;
		rows++;
		while (n < 6 && rest) {
			char *bar = strchr(rest, '|');

			if (bar)
				*bar = '\0';
			c[n++] = rest;
			rest = bar ? bar + 1 : NULL;
		}
		/* "", section, key, values, default, meaning... */
		if (n < 6)
			fail_msg("docs/config.md: short row '%s'", line);
		sec = cell(c[1]);
		key = cell(c[2]);
		values = cell(c[3]);
		def = cell(c[4]);
		if (strcmp(sec, "[switch]") == 0)
			sec = "switch";
		else if (strcmp(sec, "[port NAME]") == 0)
			sec = "port";
		else if (strcmp(sec, "[mirror NAME]") == 0)
			sec = "mirror";
		else
			fail_msg("docs/config.md: unknown section %s", sec);
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i].section, sec) == 0 &&
			    strcmp(keys[i].name, key) == 0)
				break;
		if (i == nkeys)
			fail_msg("docs/config.md: [%s] %s is not a key the parser takes",
				 sec, key);
		if (documented[i])
			fail_msg("docs/config.md: [%s] %s listed twice", sec, keys[i].name);
		documented[i] = true;
		if (strcmp(values, keys[i].values) != 0)
			fail_msg("docs/config.md: %s takes '%s', the parser '%s'",
				 keys[i].name, values, keys[i].values);
		if (strcmp(def, keys[i].def[0] ? keys[i].def : "-") != 0)
			fail_msg("docs/config.md: %s defaults to '%s', the parser to '%s'",
				 keys[i].name, def, keys[i].def);
	}
	for (unsigned int i = 0; i < nkeys; i++)
		if (!documented[i])
			fail_msg("docs/config.md lacks [%s] %s", keys[i].section,
				 keys[i].name);
	assert_int_equal(rows, nkeys);
	free(doc);
}

/* roff to text: "\-" is "-"; nothing else is escaped in those lines. */
static void unroff(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] == '-')
			s++;
		*w++ = *s;
	}
	*w = '\0';
}

/*
 * In the man page each key is ".TP", ".B key", then "VALUES, default DEF."
 * or "VALUES, no default." ("Keys of [switch]" then "Keys of [port]").
 */
static void test_man_page_matches(void **state)
{
	struct vvu_config_key_info keys[MAX_KEYS];
	bool documented[MAX_KEYS] = { false };
	unsigned int nkeys = 0, found = 0;
	char *man = slurp("docs/man/vvu-switchd.8");
	char *sec_start = strstr(man, "\n.SH CONFIGURATION FILE\n");
	char *sec_end = sec_start ? strstr(sec_start + 1, "\n.SH ") : NULL;
	const char *section = NULL;
	char *save = NULL;

	(void)state;
	assert_non_null(sec_end);
	*sec_end = '\0';
	while (nkeys < MAX_KEYS && vvu_config_key_info(nkeys, &keys[nkeys]) == 0)
		nkeys++;
	for (char *l = strtok_r(sec_start, "\n", &save), *prev = NULL; l;
	     prev = l, l = strtok_r(NULL, "\n", &save)) {
		char want[256], *key, *text;
		unsigned int i;

		if (strncmp(l, "Keys of", 7) == 0) {
			section = NULL;
			continue;
		}
		if (!section && strcmp(l, ".BR [switch] :") == 0)
			section = "switch";
		if (!section && strncmp(l, ".BI \"[port \" NAME ]", 19) == 0)
			section = "port";
		if (!section && strncmp(l, ".BI \"[mirror \" NAME ]", 21) == 0)
			section = "mirror";
		if (!prev || strcmp(prev, ".TP") != 0 || strncmp(l, ".B ", 3) != 0)
			continue;
		key = l + 3;
		unroff(key);
		text = strtok_r(NULL, "\n", &save);
		assert_non_null(text);
		unroff(text);
		if (!section)
			fail_msg("vvu-switchd.8: key %s outside the key lists", key);
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i].section, section) == 0 &&
			    strcmp(keys[i].name, key) == 0)
				break;
		if (i == nkeys)
			fail_msg("vvu-switchd.8: [%s] %s is not a key the parser takes",
				 section, key);
		if (documented[i])
			fail_msg("vvu-switchd.8: [%s] %s listed twice", section, key);
		documented[i] = true;
		found++;
		if (keys[i].def[0])
			snprintf(want, sizeof(want), "%s, default %s.", keys[i].values,
				 keys[i].def);
		else
			snprintf(want, sizeof(want), "%s, no default.", keys[i].values);
		if (strncmp(text, want, strlen(want)) != 0)
			fail_msg("vvu-switchd.8: %s says '%s', the parser '%s'", key, text,
				 want);
		prev = NULL;
		l = text;
	}
	for (unsigned int i = 0; i < nkeys; i++)
		if (!documented[i])
			fail_msg("vvu-switchd.8 lacks [%s] %s", keys[i].section,
				 keys[i].name);
	assert_int_equal(found, nkeys);
	free(man);
}

/* The range a key takes, if it is a number.  0 or -1. */
static int key_range(const char *name, long *lo, long *hi)
{
	struct vvu_config_key_info k;

	for (unsigned int i = 0; vvu_config_key_info(i, &k) == 0; i++)
		if (strcmp(k.name, name) == 0)
			return sscanf(k.values, "%ld..%ld", lo, hi) == 2 ? 0 : -1;
	return -1;
}

/*
 * Every "A..B" in the comment of an example line "key = value # ..." must
 * be that key's range.  Returns how many were checked.
 */
static unsigned int check_ranges(const char *file, const char *line)
{
	const char *hash = strchr(line, '#'), *eq = strchr(line, '=');
	char key[64];
	unsigned int checked = 0;
	long lo, hi;

	if (!hash || !eq || eq > hash || sscanf(line, " %63[a-z-] =", key) != 1 ||
	    key_range(key, &lo, &hi))
		return 0;
	for (const char *d = strstr(hash, ".."); d; d = strstr(d + 2, "..")) {
		const char *s = d;
		char *end;
		long a, b;

		while (s > hash && ((s[-1] >= '0' && s[-1] <= '9') || s[-1] == '-'))
			s--;
		if (s == d)
			continue;
		a = strtol(s, NULL, 10);
		b = strtol(d + 2, &end, 10);
		if (end == d + 2)
			continue;
		if (a != lo || b != hi)
			fail_msg("%s: '%s' says %ld..%ld, the parser takes %ld..%ld", file,
				 line, a, b, lo, hi);
		checked++;
	}
	return checked;
}

static const char *const docs[] = {
	"README.md", "docs/config.md", "docs/daemon.md", "docs/appliance.md",
	"docs/limits.md", "image/vvu-switch.conf",
};

/* Indented blocks that open with a section: the examples a reader copies. */
static void test_examples_parse(void **state)
{
	unsigned int examples = 0, ranges = 0;

	(void)state;
	for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
		char *text = slurp(docs[d]);
		bool conf = strstr(docs[d], ".conf") != NULL;
		const char *p = text;

		while (*p) {
			char block[8192];
			size_t used = 0;
			const char *q = p;
			struct vvu_config c;
			char err[256];

			/* A run of lines indented 4 (or blank): one block. */
			while (*q && (conf || strncmp(q, "    ", 4) == 0 || *q == '\n')) {
				const char *eol = strchr(q, '\n');
				size_t len = eol ? (size_t)(eol - q) + 1 : strlen(q);
				size_t skip = !conf && *q != '\n' ? 4 : 0;

				if (used + len < sizeof(block)) {
					memcpy(block + used, q + skip, len - skip);
					used += len - skip;
				}
				q += len;
			}
			block[used] = '\0';
			if (q == p) {
				const char *eol = strchr(p, '\n');

				p = eol ? eol + 1 : p + strlen(p);
				continue;
			}
			p = q;
			const char *first = block + strspn(block, "\n");

			if (!conf && strncmp(first, "[switch]", 8) != 0 &&
			    strncmp(first, "[port ", 6) != 0)
				continue;
			examples++;
			vvu_config_default(&c);
			if (vvu_config_parse(&c, block, docs[d], err, sizeof(err)))
				fail_msg("an example in %s does not parse: %s\n%s", docs[d],
					 err, block);
			for (char *l = block, *nl; l && *l; l = nl ? nl + 1 : NULL) {
				nl = strchr(l, '\n');
				if (nl)
					*nl = '\0';
				ranges += check_ranges(docs[d], l);
			}
		}
		free(text);
	}
	/* README, config.md (one), appliance.md, the image's file. */
	assert_true(examples >= 4);
	print_message("%u examples, %u ranges in comments checked\n", examples, ranges);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_table_matches),
		cmocka_unit_test(test_man_page_matches),
		cmocka_unit_test(test_examples_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
