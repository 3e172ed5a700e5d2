/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of PCI discovery (appliance/pci_scan.c) on a sysfs tree made
 * here: only 1af4:107a devices with a PCI address for a name are
 * candidates, and binding to vfio-pci is a no-op when the device has it
 * already and an error naming the device when the kernel does not bind.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pci_scan.h"

static char root[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void dev(const char *name, const char *vendor, const char *device)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/devices/%s", root, name);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "devices/%s/vendor", name);
	put(path, vendor);
	snprintf(path, sizeof(path), "devices/%s/device", name);
	put(path, device);
	snprintf(path, sizeof(path), "devices/%s/driver_override", name);
	put(path, "");
}

static int setup(void **state)
{
	char path[128];

	(void)state;
	snprintf(root, sizeof(root), "/tmp/test-pci-scan.XXXXXX");
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/devices", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/drivers", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/drivers/vfio-pci", root);
	assert_int_equal(mkdir(path, 0755), 0);
	put("drivers_probe", "");
	dev("0000:00:03.0", "0x1af4\n", "0x107a\n");
	dev("0000:00:04.0", "0x1af4\n", "0x1041\n");	/* virtio-net */
	dev("0001:02:00.0", "0x1af4\n", "0x107a\n");
	dev("junk", "0x1af4\n", "0x107a\n");		/* not an address */
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_candidates(void **state)
{
	char out[8][VVU_BDF_LEN];
	unsigned int n;
	bool a = false, b = false;

	(void)state;
	n = pci_scan(root, out, 8);
	assert_int_equal(n, 2);
	for (unsigned int i = 0; i < n; i++) {
		a |= strcmp(out[i], "0000:00:03.0") == 0;
		b |= strcmp(out[i], "0001:02:00.0") == 0;
	}
	assert_true(a && b);
	assert_int_equal(pci_scan(root, out, 1), 1);	/* bounded by max */
	assert_int_equal(pci_scan("/nonexistent", out, 8), 0);
}

static void test_bind(void **state)
{
	char err[256] = "", link[256], target[256];

	(void)state;
	/* The kernel in this tree binds nothing: an error naming the device. */
	assert_int_equal(pci_bind_vfio(root, "0000:00:03.0", err, sizeof(err)), -ENODEV);
	assert_non_null(strstr(err, "0000:00:03.0"));
	assert_non_null(strstr(err, "vfio-pci"));
	/* driver_override was written on the way. */
	{
		char path[256], buf[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "%s/devices/0000:00:03.0/driver_override", root);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_non_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		assert_string_equal(buf, "vfio-pci");
	}
	/* Bound already: nothing to do. */
	snprintf(link, sizeof(link), "%s/devices/0001:02:00.0/driver", root);
	snprintf(target, sizeof(target), "%s/drivers/vfio-pci", root);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(pci_bind_vfio(root, "0001:02:00.0", err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_candidates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bind, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
