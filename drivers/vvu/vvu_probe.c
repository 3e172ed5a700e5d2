/* SPDX-License-Identifier: MIT */
/*
 * vvu_probe: a PCI driver for the virtio-vhost-user device that hands each
 * device to its owner's hooks, for programs that drive vvu_port without
 * ethdev.  It trusts its caller; device contents are vvu_pci's business.
 */
#include "vvu_probe.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_pci.h>
#include <rte_version.h>
#include <bus_pci_driver.h>

#include "vlog.h"
#include "vvu_pci.h"

static struct vvu_probe_hooks hooks;

static int drv_probe(struct rte_pci_driver *drv, struct rte_pci_device *pdev)
{
	(void)drv;
	return hooks.probe ? hooks.probe(hooks.arg, pdev) : -ENODEV;
}

static int drv_remove(struct rte_pci_device *pdev)
{
	if (hooks.remove)
		hooks.remove(hooks.arg, pdev);
	return 0;
}

static const struct rte_pci_id ids[] = {
	{ RTE_PCI_DEVICE(VVU_PCI_VENDOR, VVU_PCI_DEVICE) },
	{ .vendor_id = 0 },
};

static struct rte_pci_driver drv = {
	.driver = { .name = "vvu_port" },
	.id_table = ids,
	.drv_flags = RTE_PCI_DRV_NEED_MAPPING,
	.probe = drv_probe,
	.remove = drv_remove,
};

int vvu_probe_register(const struct vvu_probe_hooks *h)
{
	char want[64];

	snprintf(want, sizeof(want), "DPDK %s", VVU_SDK_VERSION);
	if (strcmp(rte_version(), want) != 0) {
		vlog_err("vvu: built with %s headers, running on %s", want,
			 rte_version());
		return -ENOTSUP;
	}
	if (hooks.probe)
		return -EALREADY;
	hooks = *h;
	rte_pci_register(&drv);
	return 0;
}
