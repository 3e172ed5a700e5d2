/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the JSON string writer (sb_json_str, appliance/ctl.c):
 * well-formed UTF-8 (paths in any script) goes out unchanged, controls
 * are escaped, and every ill-formed sequence becomes one \ufffd per
 * maximal subpart, so the answer is valid JSON whatever bytes a port
 * name, a path or an error message holds.  Random byte strings are
 * checked with a decoder written here, independent of the writer's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl.h"

/* sb_json_str(in) must give exactly want (quotes included). */
static void expect(const char *in, const char *want)
{
	struct sbuf b = { 0 };

	sb_json_str(&b, in);
	assert_false(b.oom);
	assert_non_null(b.s);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.s, want, b.len);
	sb_free(&b);
}

static void test_ascii_and_escapes(void **state)
{
	(void)state;
	expect("", "\"\"");
	expect("/run/vvu-switch.sock", "\"/run/vvu-switch.sock\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("\n\t\r\x01\x1f", "\"\\u000a\\u0009\\u000d\\u0001\\u001f\"");
	expect("x\x7fy", "\"x\\u007fy\"");
	expect(" ~", "\" ~\"");
}

static void test_multibyte_kept(void **state)
{
	(void)state;
	/* Paths in several scripts, each character its own length. */
	expect("/srv/vm-\xc3\xbc" "ber/p0.sock", "\"/srv/vm-\xc3\xbc" "ber/p0.sock\"");
	expect("/tmp/\xe4\xba\xa4\xe6\x8d\xa2\xe6\x9c\xba/ctl",
	       "\"/tmp/\xe4\xba\xa4\xe6\x8d\xa2\xe6\x9c\xba/ctl\"");
	expect("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\"");
	expect("\xf0\x9f\x90\xa7\"", "\"\xf0\x9f\x90\xa7\\\"\"");
	/* The edges of each length and around the surrogates. */
	expect("\xc2\x80\xdf\xbf", "\"\xc2\x80\xdf\xbf\"");		/* U+0080 U+07FF */
	expect("\xe0\xa0\x80\xed\x9f\xbf", "\"\xe0\xa0\x80\xed\x9f\xbf\"");	/* U+0800 U+D7FF */
	expect("\xee\x80\x80\xef\xbf\xbf", "\"\xee\x80\x80\xef\xbf\xbf\"");	/* U+E000 U+FFFF */
	expect("\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
	       "\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");		/* U+10000 U+10FFFF */
	/* U+FFFD itself is a character like any other. */
	expect("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");
}

static void test_ill_formed_replaced(void **state)
{
	(void)state;
	/* Lone continuation bytes, bytes that never start anything. */
	expect("a\x80" "b", "\"a\\ufffdb\"");
	expect("\xbf\xc0\xc1\xf5\xff", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Latin-1 as it was written by a non-UTF-8 program. */
	expect("/tmp/caf\xe9/p", "\"/tmp/caf\\ufffd/p\"");
	/* Overlong forms: "/" as C0 AF and E0 80 AF. */
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	expect("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf0\x80\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* A surrogate (U+D800) and past U+10FFFF. */
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* Truncated: the maximal subpart is one U+FFFD, the next character kept. */
	expect("\xe2\x82", "\"\\ufffd\"");
	expect("\xe2\x82" "A", "\"\\ufffdA\"");
	expect("\xf0\x9f\x90" "\xc3\xa9", "\"\\ufffd\xc3\xa9\"");
	expect("\xf0\x9f" "\"", "\"\\ufffd\\\"\"");
	expect("\xc3\n", "\"\\ufffd\\u000a\"");
}

static void test_long_string(void **state)
{
	enum { N = 5000 };	/* longer than one internal chunk */
	char *in = malloc(2 * N + 2), *want = malloc(2 * N + 16);

	(void)state;
	assert_non_null(in);
	assert_non_null(want);
	for (int i = 0; i < N; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[2 * N] = '\x80';
	in[2 * N + 1] = '\0';
	want[0] = '"';
	memcpy(want + 1, in, 2 * N);
	memcpy(want + 1 + 2 * N, "\\ufffd\"", 8);
	expect(in, want);
	free(in);
	free(want);
}

/*
 * An independent check of the output: a JSON string literal (RFC 8259)
 * whose raw bytes are well-formed UTF-8 (decoded to a code point and
 * checked against its shortest form), with no raw control character.
 */
static int valid_json_string(const unsigned char *s, size_t len)
{
	size_t i = 1;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return 0;
	while (i < len - 1) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c == '"' || c < 0x20)
			return 0;
		if (c == '\\') {
			if (i + 1 >= len - 1)
				return 0;
			if (strchr("\"\\/bfnrt", s[i + 1]) && s[i + 1]) {
				i += 2;
				continue;
			}
			if (s[i + 1] != 'u' || i + 6 > len - 1)
				return 0;
			for (size_t k = 2; k < 6; k++)
				if (!strchr("0123456789abcdefABCDEF", s[i + k]) || !s[i + k])
					return 0;
			i += 6;
			continue;
		}
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n > len - 1)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

static void test_checker_refuses(void **state)
{
	static const char *const bad[] = {
		"\"\x80\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xe2\x82\"", "\"a\nb\"", "\"a\"b\"", "\"\\x\"", "\"\\u12\"", "\"",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(valid_json_string((const unsigned char *)bad[i],
					       strlen(bad[i])));
	assert_true(valid_json_string((const unsigned char *)"\"\xf4\x8f\xbf\xbf\"", 6));
}

/* Random strings, biased to bytes that make or break UTF-8. */
static void test_random_bytes_give_valid_json(void **state)
{
	static const unsigned char pick[] = {
		'a', '"', '\\', '\n', 0x01, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0,
		0xa0, 0xed, 0x9f, 0xef, 0xf0, 0x90, 0xf4, 0x8f, 0xf5, 0xff,
	};
	unsigned int seed = 12345;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		char in[24];
		size_t n = (size_t)(rand_r(&seed) % (int)(sizeof(in) - 1));
		struct sbuf b = { 0 };

		for (size_t i = 0; i < n; i++) {
			int r = rand_r(&seed);

			in[i] = (char)(r & 1 ? pick[(r >> 1) % (int)sizeof(pick)] :
				       1 + (r >> 1) % 255);
		}
		in[n] = '\0';
		sb_json_str(&b, in);
		assert_false(b.oom);
		if (!valid_json_string((const unsigned char *)b.s, b.len))
			fail_msg("invalid JSON for input of %zu bytes: %.*s", n,
				 (int)b.len, b.s);
		sb_free(&b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ascii_and_escapes),
		cmocka_unit_test(test_multibyte_kept),
		cmocka_unit_test(test_ill_formed_replaced),
		cmocka_unit_test(test_long_string),
		cmocka_unit_test(test_checker_refuses),
		cmocka_unit_test(test_random_bytes_give_valid_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
