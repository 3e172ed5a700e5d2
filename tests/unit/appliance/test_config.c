/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the daemon's config parser (appliance/config.c): a good
 * file, every kind of error with the "origin:line" it must name, the
 * caller's config left untouched on error, files read from disk (NUL
 * bytes, size limit), --port specs, and the vvu keys (--vvu specs, PCI
 * addresses, default port names).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct vvu_config C, before;
static char err[256];

static int setup(void **state)
{
	(void)state;
	vvu_config_default(&C);
	memset(err, 0, sizeof(err));
	return 0;
}

static void test_good(void **state)
{
	const char *text =
		"# the switch\n"
		"[switch]\n"
		"mac-max = 4096   # global\n"
		"mac-max-per-port=512\n"
		"  ageing-s = 60\n"
		"port-budget = 64\n"
		"idle-poll-us = -1\n"
		"log-level = debug\n"
		"control = /run/vvu/ctl.sock\n"
		"\n"
		"[ port p0 ]\r\n"
		"socket = /tmp/p0.sock\r\n"
		"[port vm-1.eth_0]\n"
		"socket=/tmp/p1.sock\n"
		"mode = client\n"
		"queues = 8\n"
		"reconnect-ms = 250";	/* no final newline */

	(void)state;
	assert_int_equal(vvu_config_parse(&C, text, "t.conf", err, sizeof(err)), 0);
	assert_int_equal(C.sw.mac_max, 4096);
	assert_int_equal(C.sw.mac_max_per_port, 512);
	assert_int_equal(C.sw.ageing_s, 60);
	assert_int_equal(C.sw.port_budget, 64);
	assert_int_equal(C.idle_poll_us, -1);
	assert_int_equal(C.log_level, VLOG_DEBUG);
	assert_string_equal(C.control, "/run/vvu/ctl.sock");
	assert_int_equal(C.nports, 2);
	assert_string_equal(C.ports[0].name, "p0");
	assert_string_equal(C.ports[0].socket, "/tmp/p0.sock");
	assert_false(C.ports[0].client);
	assert_int_equal(C.ports[0].queues, 1);
	assert_int_equal(C.ports[0].reconnect_ms, 1000);
	assert_string_equal(C.ports[1].name, "vm-1.eth_0");
	assert_true(C.ports[1].client);
	assert_int_equal(C.ports[1].queues, 8);
	assert_int_equal(C.ports[1].reconnect_ms, 250);
	/* Empty text changes nothing and is fine. */
	before = C;
	assert_int_equal(vvu_config_parse(&C, "", "e", err, sizeof(err)), 0);
	assert_memory_equal(&C, &before, sizeof(C));
}

struct bad {
	const char *text;
	const char *want;	/* the error must start with this */
	const char *what;	/* and contain this */
};

static const struct bad bads[] = {
	{ "[switch]\nfoo = 1\n", "o.conf:2: ", "unknown switch key 'foo'" },
	{ "[port a]\nsocket=/x\nfrob = 1\n", "o.conf:3: ", "unknown port key" },
	{ "[switch]\n\n\nmac-max = 12ab\n", "o.conf:4: ", "mac-max" },
	{ "[switch]\nmac-max = \n", "o.conf:2: ", "mac-max" },
	{ "[switch]\nmac-max = +100\n", "o.conf:2: ", "mac-max" },
	{ "[switch]\nmac-max = 0x100\n", "o.conf:2: ", "mac-max" },
	{ "[switch]\nmac-max = 15\n", "o.conf:2: ", "16..4194304" },
	{ "[switch]\nmac-max = 4194305\n", "o.conf:2: ", "16..4194304" },
	{ "[switch]\nmac-max = 99999999999999999999999\n", "o.conf:2: ", "mac-max" },
	{ "[switch]\nidle-poll-us = -2\n", "o.conf:2: ", "idle-poll-us" },
	{ "[switch]\nlog-level = loud\n", "o.conf:2: ", "log-level" },
	{ "[port a]\nsocket=/x\nqueues = 9\n", "o.conf:3: ", "queues must be 1..8" },
	{ "[port a]\nsocket=/x\nqueues = 0\n", "o.conf:3: ", "queues must be 1..8" },
	{ "[port a]\nsocket=/x\nreconnect-ms = 9\n", "o.conf:3: ", "reconnect-ms" },
	{ "[port a]\nsocket=/x\nmode = both\n", "o.conf:3: ", "mode" },
	{ "[port a]\nsocket=/x\n[port b]\nsocket=/y\n[port a]\n", "o.conf:5: ",
	  "section [port a] repeats line 1" },
	/* A repeat is an error naming both lines, never "the last one wins". */
	{ "[switch]\nageing-s = 60\n[port a]\nsocket=/x\n[switch]\nageing-s = 61\n",
	  "o.conf:5: ", "section [switch] repeats line 1" },
	{ "\n[ switch ]\n[switch]\n", "o.conf:3: ", "section [switch] repeats line 2" },
	{ "[switch]\nmac-max = 4096\nageing-s = 9\nmac-max=4096\n", "o.conf:4: ",
	  "key 'mac-max' repeats line 2" },
	{ "[switch]\nvvu = auto\n\nvvu = none\n", "o.conf:4: ",
	  "key 'vvu' repeats line 2" },
	{ "[switch]\ncontrol = /a\ncontrol = /a\n", "o.conf:3: ",
	  "key 'control' repeats line 2" },
	{ "[port a]\nsocket=/x\nqueues = 2\nmode = client\nqueues = 4\n", "o.conf:5: ",
	  "key 'queues' repeats line 3" },
	{ "[port a]\nsocket=/x\nsocket=/y\n", "o.conf:3: ",
	  "key 'socket' repeats line 2" },
	/* The same key in another section, or in another port, is no repeat:
	 * only a real repeat may fail (the rest of this text is fine). */
	{ "[port a]\nsocket=/x\nqueues=2\n[port b]\nsocket=/y\nqueues=2\n"
	  "[port c]\nqueues=1\nqueues=1\n", "o.conf:9: ", "key 'queues' repeats line 8" },
	{ "[port a]\nsocket=/x\n\n[port b]\nqueues=2\n[port c]\nsocket=/z\n",
	  "o.conf:4: ", "port b has no socket" },
	{ "[port a]\nsocket=/x\n[port b]\nsocket=/x\n", "o.conf:3: ",
	  "port b uses the socket of another port" },
	{ "[switch]\n[switch\n", "o.conf:2: ", "malformed section header" },
	{ "[switch] x\n", "o.conf:1: ", "malformed section header" },
	{ "\n\n[bridge]\n", "o.conf:3: ", "unknown section" },
	{ "[port]\n", "o.conf:1: ", "unknown section" },
	{ "[port a/b]\nsocket=/x\n", "o.conf:1: ", "port name" },
	{ "[port ]\n", "o.conf:1: ", "" },
	{ "# hi\nmac-max = 100\n", "o.conf:2: ", "key 'mac-max' outside any section" },
	{ "[switch]\njust words\n", "o.conf:2: ", "expected key = value" },
	{ "[switch]\nmac-max = 16\nmac-max-per-port = 17\n", "o.conf:3: ",
	  "mac-max-per-port is larger than mac-max" },
	{ "[switch]\nmac-max-per-port = 17\n\nmac-max = 16\n[port a]\nsocket=/a\n",
	  "o.conf:4: ", "mac-max-per-port is larger than mac-max" },
	/* vvu devices and the control stream */
	{ "[switch]\n\nvvu = sometimes\n", "o.conf:3: ", "vvu must be auto, none" },
	{ "[switch]\nvvu =\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:03.0,\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:03.0,,00:04.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:03.0,0000:00:03.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:20.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:03.8\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 0:3.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00:03.0 x\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = -0:03.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\nvvu = 00000:00:03.0\n", "o.conf:2: ", "vvu must be" },
	{ "[switch]\ncontrol-stream =\n", "o.conf:2: ", "control-stream" },
	{ "[switch]\nhuge-dir =\n", "o.conf:2: ", "huge-dir" },
	{ "[switch]\neal-args = -l\t0\n", "o.conf:2: ", "control character" },
	{ "[port a]\npci = 00:3.0\n", "o.conf:2: ", "pci must be a PCI address" },
	{ "[port a]\npci = 00:03.0\nsocket = /x\n", "o.conf:1: ",
	  "port a has both a socket and a pci device" },
	{ "[port a]\npci = 00:03.0\n[port b]\npci = 0000:00:03.0\n", "o.conf:3: ",
	  "port b uses the pci device of another port" },
	{ "[port a]\npci = 00:03.0\nmode = client\n", "o.conf:1: ",
	  "mode does not apply" },
	/* A device named by its uuid. */
	{ "[port a]\nuuid = 6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e1\n", "o.conf:2: ",
	  "uuid must be a UUID" },
	{ "[port a]\nuuid = 6b1e0c3a_52f4-4d0e-9a51-0c2f6d2a7e10\n", "o.conf:2: ",
	  "uuid must be a UUID" },
	{ "[port a]\nuuid = 6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e1g\n", "o.conf:2: ",
	  "uuid must be a UUID" },
	{ "[port a]\nuuid = 6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10\npci = 00:03.0\n",
	  "o.conf:1: ", "port a has a uuid and a socket or pci device" },
	{ "[port a]\nuuid = 6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10\nmode = client\n",
	  "o.conf:1: ", "mode does not apply" },
	{ "[port a]\nuuid = 6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10\n[port b]\n"
	  "uuid = 6B1E0C3A-52F4-4D0E-9A51-0C2F6D2A7E10\n", "o.conf:3: ",
	  "port b uses the uuid of another port" },
};

static void test_errors_name_origin_line(void **state)
{
	(void)state;
	/* Start from a config with something in it: it must survive. */
	assert_int_equal(vvu_config_parse(&C, "[port keep]\nsocket=/keep\n", "k",
					  err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		before = C;
		err[0] = '\0';
		if (vvu_config_parse(&C, bads[i].text, "o.conf", err, sizeof(err)) != -EINVAL)
			fail_msg("case %zu accepted: %s", i, bads[i].text);
		if (strncmp(err, bads[i].want, strlen(bads[i].want)) != 0 ||
		    !strstr(err, bads[i].what))
			fail_msg("case %zu: error '%s', want '%s...%s'", i, err,
				 bads[i].want, bads[i].what);
		assert_memory_equal(&C, &before, sizeof(C));
	}
}

static void test_line_too_long(void **state)
{
	char text[2048];

	(void)state;
	/* 512 bytes is the longest line; 513 is refused with its line number. */
	snprintf(text, sizeof(text), "[switch]\n# %0510d\n", 0);
	assert_int_equal(strlen(text), 9 + 512 + 1);
	assert_int_equal(vvu_config_parse(&C, text, "o", err, sizeof(err)), 0);
	snprintf(text, sizeof(text), "[switch]\n\n# %0511d\n", 0);
	before = C;
	assert_int_equal(vvu_config_parse(&C, text, "o", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "o:3: line longer"));
	/* Also as the last line, without a newline. */
	snprintf(text, sizeof(text), "[switch]\n# %0600d", 0);
	assert_int_equal(vvu_config_parse(&C, text, "o", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "o:2: line longer"));
	assert_memory_equal(&C, &before, sizeof(C));
}

/* Ports from another origin (a --port, fw_cfg) clash by name and socket. */
static void test_clash_with_existing(void **state)
{
	(void)state;
	assert_int_equal(vvu_config_add_port_spec(&C, "name=a,socket=/a", err,
						  sizeof(err)), 0);
	before = C;
	assert_int_equal(vvu_config_parse(&C, "\n[port a]\nsocket=/b\n", "f", err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "f:2: port a defined twice"));
	assert_int_equal(vvu_config_parse(&C, "[port b]\n\nsocket=/a\n", "f", err,
					  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "f:1: port b uses the socket"));
	assert_memory_equal(&C, &before, sizeof(C));
}

static void test_too_many_ports(void **state)
{
	char *text = malloc(64 * (SW_MAX_PORTS + 2));
	size_t off = 0;

	(void)state;
	for (int i = 0; i <= SW_MAX_PORTS; i++)
		off += (size_t)sprintf(text + off, "[port p%d]\nsocket=/s%d\n", i, i);
	assert_int_equal(vvu_config_parse(&C, text, "m", err, sizeof(err)), -EINVAL);
	char want[32];

	snprintf(want, sizeof(want), "m:%d: more than", 2 * SW_MAX_PORTS + 1);
	assert_non_null(strstr(err, want));
	assert_int_equal(C.nports, 0);
	free(text);
}

static char *write_file(const void *data, size_t len)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/vvu-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

static void test_load(void **state)
{
	const char good[] = "[port a]\nsocket = /a\n";
	const char nul[] = "[port a]\nsocket = /a\n# x\0y\n";
	char *path, want[128];

	(void)state;
	path = write_file(good, sizeof(good) - 1);
	assert_int_equal(vvu_config_load(&C, path, err, sizeof(err)), 0);
	assert_int_equal(C.nports, 1);
	unlink(path);

	/* A NUL byte names the file and its line. */
	before = C;
	path = write_file(nul, sizeof(nul) - 1);
	assert_int_equal(vvu_config_load(&C, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: ", path);
	if (strncmp(err, want, strlen(want)) != 0 || !strstr(err, "NUL"))
		fail_msg("NUL byte error '%s', want '%s... NUL'", err, want);
	assert_memory_equal(&C, &before, sizeof(C));
	unlink(path);

	/* An error inside a file names the file. */
	path = write_file("[port b]\nsocket=/b\nqueues=99\n", 29);
	assert_int_equal(vvu_config_load(&C, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:3: queues", path);
	assert_non_null(strstr(err, want));
	unlink(path);

	/* A directory: the read error, not a size complaint. */
	assert_int_equal(vvu_config_load(&C, "/tmp", err, sizeof(err)), -EISDIR);
	if (!strstr(err, "/tmp") || !strstr(err, strerror(EISDIR)))
		fail_msg("directory error '%s'", err);

	/* Missing file: -errno, named. */
	assert_int_equal(vvu_config_load(&C, "/nonexistent/vvu.conf", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/vvu.conf"));
	assert_memory_equal(&C, &before, sizeof(C));
}

/* The size limit: 1 MiB - 1 bytes loads, 1 MiB does not. */
static void test_load_size_limit(void **state)
{
	size_t max = (1u << 20) - 1;
	char *big = malloc(max + 2);
	char *path;

	(void)state;
	for (size_t i = 0; i < max + 1; i++)
		big[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '#' : 'x');
	path = write_file(big, max);
	if (vvu_config_load(&C, path, err, sizeof(err)) != 0)
		fail_msg("%zu-byte file refused: %s", max, err);
	unlink(path);
	path = write_file(big, max + 1);
	assert_int_equal(vvu_config_load(&C, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "larger than 1 MiB"));
	unlink(path);
	free(big);
}

static void test_port_spec(void **state)
{
	static const char *const bad_specs[] = {
		"", ",,,", "name=a", "socket", "name=a,socket=/a,queues=9",
		"name=a,socket=/a,queues=x", "name=a,socket=/a,mode=peer",
		"name=a,socket=/a,reconnect-ms=5", "name=a,socket=/a,colour=red",
		"name=a b,socket=/a", "name=,socket=/a", "name=a,socket=",
		"name=a,socket=/b",	/* name taken */
		"name=c,socket=/a",	/* socket taken */
		"name=d,socket=/d,queues=2,queues=2",	/* a key twice */
		"name=d,name=e,socket=/d",
		"name=d,socket=/d,socket=/e",
	};
	char longspec[700];

	(void)state;
	assert_int_equal(vvu_config_add_port_spec(&C, "name=a,socket=/a", err,
						  sizeof(err)), 0);
	assert_int_equal(vvu_config_add_port_spec(&C,
		"socket=/b,mode=client,queues=4,reconnect-ms=10", err, sizeof(err)), 0);
	assert_int_equal(C.nports, 2);
	assert_string_equal(C.ports[1].name, "p1");
	assert_true(C.ports[1].client);
	assert_int_equal(C.ports[1].queues, 4);
	assert_int_equal(C.ports[1].reconnect_ms, 10);
	for (size_t i = 0; i < sizeof(bad_specs) / sizeof(bad_specs[0]); i++) {
		before = C;
		if (vvu_config_add_port_spec(&C, bad_specs[i], err, sizeof(err)) != -EINVAL)
			fail_msg("spec '%s' accepted", bad_specs[i]);
		assert_non_null(strstr(err, "--port"));
		assert_memory_equal(&C, &before, sizeof(C));
	}
	memset(longspec, 'a', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	memcpy(longspec, "socket=/", 8);
	assert_int_equal(vvu_config_add_port_spec(&C, longspec, err, sizeof(err)), -EINVAL);
	longspec[200] = '\0';
	assert_int_equal(vvu_config_add_port_spec(&C, longspec, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "socket"));
	assert_int_equal(vvu_config_add_port_spec(&C, "name=d,socket=/d,mode=client,"
						  "mode=server", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "key 'mode' given twice"));
}

/*
 * The key table (vvu_config_key_info) agrees with the parser: every key
 * it lists is accepted in its section with its default value, refused in
 * the other section, and a number is accepted at both ends of its range
 * and refused one past each.  docs/config.md is checked against the same
 * table by test_config_doc.
 */
/* afxdp = IFNAME[,queue=N], also as a --port spec; exclusive with the others. */
static void test_afxdp_port(void **state)
{
	struct vvu_port_cfg p;

	(void)state;
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, "[port up]\nafxdp = veth0,queue=3\n",
					  "k", err, sizeof(err)), 0);
	assert_int_equal(C.nports, 1);
	assert_string_equal(C.ports[0].afxdp, "veth0");
	assert_int_equal(C.ports[0].queue, 3);
	assert_int_equal(vvu_port_spec_parse(&p, "name=u,afxdp=eth1,queue=2", err,
					     sizeof(err)), 0);
	assert_string_equal(p.afxdp, "eth1");
	assert_int_equal(p.queue, 2);
	assert_int_equal(vvu_port_spec_parse(&p, "name=u,ethdev=0000:00:07.0", err,
					     sizeof(err)), 0);
	assert_string_equal(p.ethdev, "0000:00:07.0");
	/* ",," is a ',' in a value (DPDK devargs); empty items are skipped. */
	assert_int_equal(vvu_port_spec_parse(&p, ",name=u,ethdev=net_af_xdp0,,iface=eth1,,,"
					     "queues=2,", err, sizeof(err)), 0);
	assert_string_equal(p.name, "u");
	assert_string_equal(p.ethdev, "net_af_xdp0,iface=eth1,");
	assert_int_equal(p.queues, 2);
	assert_int_equal(vvu_port_spec_parse(&p, "name=u,ethdev=a,,b=c,mtu", err,
					     sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'mtu' is not key=value"));
	assert_int_equal(vvu_port_spec_parse(&p, "name=v,vxlan=42,vxlan-local=1.2.3.4,"
					     "vxlan-remotes=1.2.3.5+1.2.3.6", err,
					     sizeof(err)), 0);
	assert_true(p.vxlan);
	assert_int_equal(p.vni, 42);
	assert_string_equal(p.vxlan_remotes, "1.2.3.5+1.2.3.6");
	static const char *const bad[] = {
		"[port u]\nafxdp = veth0,queue=x\n",
		"[port u]\nafxdp = veth0,queue=256\n",
		"[port u]\nafxdp = veth0,q=1\n",
		"[port u]\nafxdp = 0123456789abcdef\n",
		"[port u]\nafxdp = a/b\n",
		"[port u]\nafxdp = ,queue=1\n",
		"[port u]\nafxdp = veth0\nsocket = /s\n",
		"[port u]\nafxdp = veth0\nmode = client\n",
		"[port u]\nafxdp = veth0\n[port v]\nafxdp = veth0,queue=0\n",
		"[port u]\nethdev = 00:07.0\nafxdp = veth0\n",
		"[port u]\nethdev = 00:07.0\n[port v]\nethdev = 00:07.0\n",
		"[port u]\nethdev = a b\n",
		"[port u]\nvxlan = 16777216\nvxlan-local = 1.2.3.4\nvxlan-remotes = 1.2.3.5\n",
		"[port u]\nvxlan = 1\nvxlan-remotes = 1.2.3.5\n",
		"[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4\n",
		"[port u]\nvxlan = 1\nvxlan-local = 1.2.3\nvxlan-remotes = 1.2.3.5\n",
		"[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4:0\nvxlan-remotes = 1.2.3.5\n",
		"[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4\nvxlan-remotes = 1.2.3.5,\n",
		"[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4\nvxlan-remotes = 1.2.3.5:9\n",
		("[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4\nvxlan-remotes = 1.2.3.5\n"
		 "socket = /s\n"),
#define VX "[port u]\nvxlan = 1\nvxlan-local = 1.2.3.4\nvxlan-remotes = 1.2.3.5\n"
		VX "vxlan-vlans = 10\n",
		VX "vxlan-vlans = 10:\n",
		VX "vxlan-vlans = 0:1010\n",
		VX "vxlan-vlans = 4095:1010\n",
		VX "vxlan-vlans = 10:16777216\n",
		VX "vxlan-vlans = 10:1010,10:1020\n",	/* a VLAN twice */
		VX "vxlan-vlans = 10:1010,20:1010\n",	/* a VNI twice */
		VX "vxlan-vlans = 10:1\n",		/* the untagged frames' VNI */
		VX "vxlan-vlans = 10:1010\ntrunks = 10,20\n",	/* 20 has no VNI */
		VX "vxlan-vlans = 10:1010\nvlan = 10\n",
		"[port u]\nsocket = /s\nvxlan-vlans = 10:1010\n",
#undef VX
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vvu_config_default(&C);
		if (vvu_config_parse(&C, bad[i], "k", err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, "[port u]\nafxdp = veth0\n[port v]\n"
					  "afxdp = veth0,queue=1\n", "k", err,
					  sizeof(err)), 0);
	/* VLAN -> VNI: the VLANs become the port's trunks, native-vlan may stay */
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, "[port u]\nvxlan = 1000\nvxlan-local = 1.2.3.4\n"
					  "vxlan-remotes = 1.2.3.5\nvxlan-vlans = 10:1010, 20:1020\n"
					  "native-vlan = 5\n", "k", err, sizeof(err)), 0);
	assert_int_equal(C.ports[0].nvxlan_vlans, 2);
	assert_int_equal(C.ports[0].vxlan_vlans[1].vid, 20);
	assert_int_equal(C.ports[0].vxlan_vlans[1].vni, 1020);
	assert_true(C.ports[0].has_trunks);
	assert_true(sw_vlan_test(C.ports[0].trunks, 10) && sw_vlan_test(C.ports[0].trunks, 20));
	assert_false(sw_vlan_test(C.ports[0].trunks, 5));
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, "[port u]\nvxlan = 1000\nvxlan-local = 1.2.3.4\n"
					  "vxlan-remotes = 1.2.3.5\ntrunks = 10,20\n"
					  "vxlan-vlans = 20:1020,10:1010\n", "k", err,
					  sizeof(err)), 0);
	assert_int_equal(vvu_port_spec_parse(&p, "name=v,vxlan=42,vxlan-local=1.2.3.4,"
					     "vxlan-remotes=1.2.3.5,vxlan-vlans=10:1010+20:1020",
					     err, sizeof(err)), 0);
	assert_int_equal(p.nvxlan_vlans, 2);
	assert_int_equal(p.vxlan_vlans[0].vni, 1010);
	assert_int_not_equal(vvu_port_spec_parse(&p, "name=v,vxlan=42,vxlan-local=1.2.3.4,"
						 "vxlan-remotes=1.2.3.5,vxlan-vlans=10:42",
						 err, sizeof(err)), 0);
}

/* A value for a key without a default, and what must come with it. */
static const char *sample(const char *name, const char **also)
{
	static const struct { const char *key, *value, *also; } s[] = {
		{ "pci", "00:03.0", "" },
		{ "uuid", "6B1E0C3A-52f4-4d0e-9a51-0c2f6d2a7e10", "" },
		{ "socket", "/tmp/t.sock", "" },
		{ "vlan", "10", "socket=/t\n" },
		{ "trunks", "10,20-30", "socket=/t\n" },
		{ "native-vlan", "5", "socket=/t\ntrunks=10\n" },
		{ "allowed-macs", "02:00:00:00:00:01,02:00:00:00:00:02", "socket=/t\n" },
		{ "lock-mac", "02:00:00:00:00:01", "socket=/t\n" },
		{ "static-macs", "02:00:00:00:00:01,02:00:00:00:00:02@1", "socket=/t\n" },
		{ "afxdp", "veth0,queue=1", "" },
		{ "ethdev", "0000:00:07.0", "" },
		{ "vxlan", "42", "vxlan-local=10.0.0.1\nvxlan-remotes=10.0.0.2\n" },
		{ "vxlan-local", "10.0.0.1:4790", "socket=/t\n" },
		{ "vxlan-remotes", "10.0.0.2, 10.0.0.3", "socket=/t\n" },
		{ "vxlan-vlans", "10:1010,20:1020",
		  "vxlan=42\nvxlan-local=10.0.0.1\nvxlan-remotes=10.0.0.2\n" },
		{ "from", "a,b", "to = c\n" },
		{ "to", "c", "from = a\n" },
	};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		if (strcmp(s[i].key, name) == 0) {
			*also = s[i].also;
			return s[i].value;
		}
	}
	*also = "socket=/t\n";
	return "/tmp/t.sock";
}

static void test_key_table(void **state)
{
	struct vvu_config_key_info k;
	unsigned int i, nswitch = 0, nport = 0, nmirror = 0;

	(void)state;
	for (i = 0; vvu_config_key_info(i, &k) == 0; i++) {
		bool sw = strcmp(k.section, "switch") == 0;
		bool mir = strcmp(k.section, "mirror") == 0;
		const char *also, *val = sample(k.name, &also);
		char text[512];
		long lo, hi;

		assert_true(sw || mir || strcmp(k.section, "port") == 0);
		nswitch += sw;
		nmirror += mir;
		nport += !sw && !mir;
		/* The default parses (a key without one gets a sample value). */
		snprintf(text, sizeof(text), "%s\n%s = %s\n%s",
			 sw ? "[switch]" : mir ? "[mirror m]" : "[port t]", k.name,
			 k.def[0] ? k.def : val,
			 sw ? "[port t]\nsocket=/t\n" : k.def[0] ? "socket=/t\n" : also);
		vvu_config_default(&C);
		if (vvu_config_parse(&C, text, "k", err, sizeof(err)))
			fail_msg("%s %s: its default refused: %s", k.section, k.name, err);
		/* The other section does not know it. */
		snprintf(text, sizeof(text), "%s\n%s = %s\n", sw ? "[port t]" : "[switch]",
			 k.name, k.def);
		vvu_config_default(&C);
		assert_int_equal(vvu_config_parse(&C, text, "k", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "unknown"));
		if (sscanf(k.values, "%ld..%ld", &lo, &hi) != 2)
			continue;
		for (int d = -1; d <= 0; d++) {
			long v[2] = { lo - 1 - d, hi + 1 + d };	/* d = 0: one past */

			for (int e = 0; e < 2; e++) {
				/* mac-max-per-port <= mac-max: keep the other apart */
				snprintf(text, sizeof(text), "[switch]\n%s\n%s\n%s = %ld\n",
					 strcmp(k.name, "mac-max") == 0 ?
					 "mac-max-per-port = 1" : "mac-max = 4194304",
					 sw ? "" : strcmp(k.name, "native-vlan") == 0 ?
					 "[port t]\nsocket=/t\ntrunks=9" : "[port t]\nsocket=/t",
					 k.name, v[e]);
				vvu_config_default(&C);
				if ((vvu_config_parse(&C, text, "k", err, sizeof(err)) == 0) !=
				    (d == -1))
					fail_msg("%s = %ld: %s", k.name, v[e],
						 d ? "refused" : "accepted");
			}
		}
	}
	assert_int_equal(nswitch, 14);
	assert_int_equal(nport, 19);
	assert_int_equal(nmirror, 2);
	assert_int_equal(vvu_config_key_info(i + 1, &k), -ENOENT);
}

/* VLANs, port security, static MACs and mirrors, and their checks. */
static void test_l2_keys(void **state)
{
	static const char *const bad[] = {
		"[port a]\nsocket=/a\nvlan = 10\ntrunks = 20\n",
		"[port a]\nsocket=/a\nnative-vlan = 10\n",
		"[port a]\nsocket=/a\ntrunks = 0\n",
		"[port a]\nsocket=/a\ntrunks = 30-20\n",
		"[port a]\nsocket=/a\ntrunks = 10,,4095\n",
		"[port a]\nsocket=/a\nvlan = 10\nstatic-macs = 02:00:00:00:00:01@11\n",
		"[port a]\nsocket=/a\nallowed-macs = 02:00:00:00:00:01\nlock-mac = first\n",
		"[port a]\nsocket=/a\nlock-mac = 03:00:00:00:00:01\n",
		"[port a]\nsocket=/a\nallowed-macs = 02:00:00:00:00:01 02:00:00:00:00:02 "
		"02:00:00:00:00:03 02:00:00:00:00:04 02:00:00:00:00:05 02:00:00:00:00:06 "
		"02:00:00:00:00:07 02:00:00:00:00:08 02:00:00:00:00:09\n",
		"[switch]\nforward-reserved = 0x2\n",
		"[switch]\nforward-reserved = 0x10000\n",
		"[mirror m]\nfrom = a\n",
		"[mirror m]\nfrom = a, b\nto = b\n",
		"[mirror m]\nto = b\n[mirror m]\nto = c\n",
	};
	const char *good =
		"[switch]\nforward-reserved = 0x4001\nmac-move-max = 3\n"
		"[port a]\nsocket=/a\nvlan = 10\nlock-mac = first\n"
		"[port b]\nsocket=/b\ntrunks = 10, 20-22\nnative-vlan = 1\n"
		"static-macs = 02:00:00:00:00:0a@21, 02:00:00:00:00:0b\n"
		"[port c]\nsocket=/c\nallowed-macs = 02:00:00:00:00:01;02:00:00:00:00:02\n"
		"[mirror m]\nfrom = a, b\nto = c\n";
	const struct vvu_port_cfg *b;
	struct vvu_port_cfg p;

	(void)state;
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, good, "g", err, sizeof(err)), 0);
	assert_int_equal(C.sw.forward_reserved, 0x4001);
	assert_int_equal(C.sw.mac_move_max, 3);
	assert_int_equal(C.ports[0].vlan, 10);
	assert_true(C.ports[0].lock_first);
	b = vvu_config_port(&C, "b");
	assert_non_null(b);
	assert_true(b->has_trunks);
	assert_true(sw_vlan_test(b->trunks, 10) && sw_vlan_test(b->trunks, 22));
	assert_false(sw_vlan_test(b->trunks, 11) || sw_vlan_test(b->trunks, 23));
	assert_int_equal(b->native_vlan, 1);
	assert_int_equal(b->nstatic, 2);
	assert_int_equal(b->statics[0].vlan, 21);
	assert_int_equal(b->statics[0].mac[5], 0x0a);
	assert_int_equal(b->statics[1].vlan, 0);
	assert_int_equal(C.ports[2].nallowed, 2);
	assert_int_equal(C.nmirrors, 1);
	assert_int_equal(C.mirrors[0].nfrom, 2);
	assert_string_equal(C.mirrors[0].from[1], "b");
	assert_string_equal(C.mirrors[0].to, "c");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vvu_config_default(&C);
		if (vvu_config_parse(&C, bad[i], "b", err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	}
	/* a --port spec: lists with ';' */
	assert_int_equal(vvu_port_spec_parse(&p, "name=x,socket=/x,trunks=10;20,"
					     "native-vlan=5", err, sizeof(err)), 0);
	assert_true(sw_vlan_test(p.trunks, 20));
	assert_int_equal(p.native_vlan, 5);
}

static void test_uuid_port(void **state)
{
	const char *text = "[port tenant]\nuuid = 6B1E0C3A-52f4-4d0e-9a51-0c2f6d2a7e10\n"
			   "queues = 2\n";

	(void)state;
	vvu_config_default(&C);
	assert_int_equal(vvu_config_parse(&C, text, "u", err, sizeof(err)), 0);
	assert_string_equal(C.ports[0].uuid, "6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10");
	assert_true(vvu_config_has_vvu(&C));
	/* Which device has it, only the device can say: every one may. */
	assert_true(vvu_config_wants(&C, "0000:00:07.0"));
	assert_ptr_equal(vvu_config_uuid_port(&C, "6b1e0c3a-52f4-4d0e-9a51-0c2f6d2a7e10"),
			 &C.ports[0]);
	assert_null(vvu_config_uuid_port(&C, "00000000-0000-0000-0000-000000000000"));
	assert_null(vvu_config_uuid_port(&C, ""));
	assert_int_equal(vvu_config_add_port_spec(&C, "name=t2,uuid=00000000-0000-0000-"
						  "0000-000000000001", err, sizeof(err)), 0);
	assert_string_equal(C.ports[1].uuid, "00000000-0000-0000-0000-000000000001");
}

static void test_vvu_keys(void **state)
{
	const char *text =
		"[switch]\n"
		"control-stream = /dev/virtio-ports/org.vvu-switch.ctl\n"
		"vvu = 00:03.0, 0000:00:04.0 ,0001:0A:1f.7\n"
		"huge-dir = /dev/hugepages\n"
		"eal-args = --log-level=lib.eal:debug  -n 2\n"
		"[port uplink]\n"
		"pci = 00:05.0\n"
		"queues = 2\n";
	char name[VVU_NAME_MAX];

	(void)state;
	assert_int_equal(C.vvu_mode, VVU_MODE_NONE);
	assert_string_equal(C.huge_dir, "/mnt/huge");
	assert_false(vvu_config_has_vvu(&C));
	assert_int_equal(vvu_config_parse(&C, text, "v.conf", err, sizeof(err)), 0);
	assert_string_equal(C.control_stream, "/dev/virtio-ports/org.vvu-switch.ctl");
	assert_int_equal(C.vvu_mode, VVU_MODE_LIST);
	assert_int_equal(C.nvvu, 3);
	assert_string_equal(C.vvu[0], "0000:00:03.0");
	assert_string_equal(C.vvu[1], "0000:00:04.0");
	assert_string_equal(C.vvu[2], "0001:0a:1f.7");
	assert_string_equal(C.huge_dir, "/dev/hugepages");
	assert_string_equal(C.eal_args, "--log-level=lib.eal:debug  -n 2");
	assert_int_equal(C.nports, 1);
	assert_string_equal(C.ports[0].pci, "0000:00:05.0");
	assert_string_equal(C.ports[0].socket, "");
	assert_int_equal(C.ports[0].queues, 2);
	assert_true(vvu_config_has_vvu(&C));
	/* Listed and named devices are wanted; others are not. */
	assert_true(vvu_config_wants(&C, "0000:00:04.0"));
	assert_true(vvu_config_wants(&C, "0000:00:05.0"));
	assert_false(vvu_config_wants(&C, "0000:00:06.0"));
	/* Names: the [port] that names the device, else vvu-BDF. */
	vvu_config_vvu_name(&C, "0000:00:05.0", name, sizeof(name));
	assert_string_equal(name, "uplink");
	vvu_config_vvu_name(&C, "0000:00:03.0", name, sizeof(name));
	assert_string_equal(name, "vvu-00:03.0");
	vvu_config_vvu_name(&C, "0001:0a:1f.7", name, sizeof(name));
	assert_string_equal(name, "vvu-0001:0a:1f.7");
	/* auto wants everything; none forgets the list. */
	assert_int_equal(vvu_config_parse(&C, "[switch]\nvvu = auto\n", "a", err,
					  sizeof(err)), 0);
	assert_int_equal(C.vvu_mode, VVU_MODE_AUTO);
	assert_true(vvu_config_wants(&C, "0000:00:09.0"));
	assert_int_equal(vvu_config_set_vvu(&C, "none", err, sizeof(err)), 0);
	assert_int_equal(C.vvu_mode, VVU_MODE_NONE);
	assert_int_equal(C.nvvu, 0);
	assert_false(vvu_config_wants(&C, "0000:00:09.0"));
	assert_true(vvu_config_wants(&C, "0000:00:05.0"));	/* still named */
}

static void test_vvu_spec(void **state)
{
	static const char *const bad[] = {
		"", "auto,00:03.0", "00:03.0;00:04.0", "00:03", "00:03.0.1",
		"zz:03.0", "00:03.0,", ",00:03.0", "0000:00:03.0,00:03.0",
		"0000:00:03", "00:0g.0", "AUTO",
	};
	char bdf[VVU_BDF_LEN];

	(void)state;
	assert_int_equal(vvu_config_set_vvu(&C, "00:03.0,00:04.0", err, sizeof(err)), 0);
	assert_int_equal(C.nvvu, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		before = C;
		err[0] = '\0';
		if (vvu_config_set_vvu(&C, bad[i], err, sizeof(err)) != -EINVAL)
			fail_msg("--vvu '%s' accepted", bad[i]);
		assert_non_null(strstr(err, "--vvu"));
		assert_memory_equal(&C, &before, sizeof(C));
	}
	assert_int_equal(vvu_bdf_parse("FF:1F.7", bdf), 0);
	assert_string_equal(bdf, "0000:ff:1f.7");
	assert_int_equal(vvu_bdf_parse("ffff:ff:1f.7", bdf), 0);
	assert_string_equal(bdf, "ffff:ff:1f.7");
	assert_int_equal(vvu_bdf_parse(" 00:03.0", bdf), -EINVAL);
	assert_int_equal(vvu_bdf_parse("00:03.0\n", bdf), -EINVAL);
	/* A port spec with pci, and clashes. */
	assert_int_equal(vvu_config_add_port_spec(&C, "name=up,pci=00:07.0,queues=2",
						  err, sizeof(err)), 0);
	assert_string_equal(C.ports[C.nports - 1].pci, "0000:00:07.0");
	assert_int_equal(vvu_config_add_port_spec(&C, "name=up2,pci=0000:00:07.0",
						  err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "in use by up"));
	assert_int_equal(vvu_config_add_port_spec(&C, "name=x,pci=00:08.0,socket=/s",
						  err, sizeof(err)), -EINVAL);
	assert_int_equal(vvu_config_add_port_spec(&C, "name=y,pci=junk", err,
						  sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "pci must be"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_good, setup),
		cmocka_unit_test_setup(test_errors_name_origin_line, setup),
		cmocka_unit_test_setup(test_line_too_long, setup),
		cmocka_unit_test_setup(test_clash_with_existing, setup),
		cmocka_unit_test_setup(test_too_many_ports, setup),
		cmocka_unit_test_setup(test_load, setup),
		cmocka_unit_test_setup(test_load_size_limit, setup),
		cmocka_unit_test_setup(test_port_spec, setup),
		cmocka_unit_test_setup(test_vvu_keys, setup),
		cmocka_unit_test_setup(test_vvu_spec, setup),
		cmocka_unit_test_setup(test_key_table, setup),
		cmocka_unit_test_setup(test_afxdp_port, setup),
		cmocka_unit_test_setup(test_uuid_port, setup),
		cmocka_unit_test_setup(test_l2_keys, setup),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
