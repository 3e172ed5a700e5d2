/* SPDX-License-Identifier: MIT */
/*
 * pci_scan: sysfs walking for virtio-vhost-user devices.  Sysfs is the
 * kernel's and trusted, but names are still parsed (vvu_bdf_parse) before
 * use and every read is bounded.
 */
#include "pci_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A sysfs attribute as a trimmed string.  0 or -errno. */
static int read_attr(const char *root, const char *bdf, const char *attr,
		     char *buf, size_t n)
{
	char path[384];
	FILE *f;
	size_t got;

	snprintf(path, sizeof(path), "%s/devices/%s/%s", root, bdf, attr);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	got = fread(buf, 1, n - 1, f);
	fclose(f);
	buf[got] = '\0';
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == ' '))
		buf[--got] = '\0';
	return 0;
}

unsigned int pci_scan(const char *root, char (*out)[VVU_BDF_LEN],
		      unsigned int max)
{
	char path[300];
	DIR *dir;
	struct dirent *e;
	unsigned int n = 0;

	snprintf(path, sizeof(path), "%s/devices", root);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((e = readdir(dir)) != NULL && n < max) {
		char bdf[VVU_BDF_LEN], v[16], dev[16];

		if (vvu_bdf_parse(e->d_name, bdf) ||
		    read_attr(root, e->d_name, "vendor", v, sizeof(v)) ||
		    read_attr(root, e->d_name, "device", dev, sizeof(dev)) ||
		    strcmp(v, "0x1af4") != 0 || strcmp(dev, "0x107a") != 0)
			continue;
		memcpy(out[n++], bdf, VVU_BDF_LEN);
	}
	closedir(dir);
	return n;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int rc = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n != (ssize_t)strlen(val))
		rc = n < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

/* The kernel driver bound to bdf ("" for none). */
static void bound_driver(const char *root, const char *bdf, char *drv, size_t n)
{
	char path[384], target[256];
	ssize_t l;
	const char *slash;

	snprintf(path, sizeof(path), "%s/devices/%s/driver", root, bdf);
	l = readlink(path, target, sizeof(target) - 1);
	drv[0] = '\0';
	if (l <= 0)
		return;
	target[l] = '\0';
	slash = strrchr(target, '/');
	snprintf(drv, n, "%.*s", (int)(n - 1), slash ? slash + 1 : target);
}

int pci_bind_vfio(const char *root, const char *bdf, char *err, size_t errlen)
{
	char drv[64], path[384];
	int rc;

	bound_driver(root, bdf, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci") == 0)
		return 0;
	snprintf(path, sizeof(path), "%s/devices/%s/driver_override", root, bdf);
	rc = write_file(path, "vfio-pci");
	if (rc == 0 && drv[0]) {
		snprintf(path, sizeof(path), "%s/devices/%s/driver/unbind", root, bdf);
		rc = write_file(path, bdf);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/drivers_probe", root);
		rc = write_file(path, bdf);
	}
	bound_driver(root, bdf, drv, sizeof(drv));
	if (rc == 0 && strcmp(drv, "vfio-pci") != 0)
		rc = -ENODEV;
	if (rc)
		snprintf(err, errlen, "cannot bind %s to vfio-pci (%s%s): %s", bdf,
			 drv[0] ? "bound to " : "no driver", drv, strerror(-rc));
	return rc;
}
