/* SPDX-License-Identifier: MIT */
/*
 * pci_scan: find virtio-vhost-user devices (1af4:107a) in sysfs and hand
 * one to vfio-pci.  Discovery only lists candidates; which of them the
 * switch drives is its port kind's decision (port_vvu.c).  The sysfs
 * root is a parameter so that tests can give a tree of their own.
 */
#ifndef VVU_PCI_SCAN_H
#define VVU_PCI_SCAN_H

#include <stddef.h>

#include "config.h"

#define PCI_SYSFS "/sys/bus/pci"

/*
 * The 1af4:107a devices under root/devices, their addresses normalised
 * (vvu_bdf_parse), at most max of them in out.  Returns how many.
 */
unsigned int pci_scan(const char *root, char (*out)[VVU_BDF_LEN],
		      unsigned int max);

/*
 * Give device bdf to vfio-pci, as the switch VM's /init does: set
 * driver_override, unbind the current driver, ask the kernel to probe.
 * 0 when it is bound to vfio-pci; -errno with err otherwise.
 */
int pci_bind_vfio(const char *root, const char *bdf, char *err, size_t errlen);

#endif
