/* SPDX-License-Identifier: MIT */
/*
 * vvu_probe: DPDK PCI driver registration for programs that use vvu_port
 * directly instead of the net_vvu ethdev (the switch daemon).  The owner
 * gets a callback per virtio-vhost-user device DPDK probes, including
 * devices hot-added later through rte_dev_probe(), and opens a vvu_port on
 * it.  Nothing here reads device or peer data.
 */
#ifndef VVU_PROBE_H
#define VVU_PROBE_H

struct rte_pci_device;

struct vvu_probe_hooks {
	/* A device appeared: open a port on it (vvu_port_open).  0 or -errno. */
	int (*probe)(void *arg, struct rte_pci_device *pdev);
	/* It is going away: close the port (vvu_port_close) first. */
	void (*remove)(void *arg, struct rte_pci_device *pdev);
	void *arg;
};

/*
 * Register the driver for 1af4:107a with DPDK's PCI bus.  Call once,
 * before rte_eal_init() probes the bus.  Also checks that the running DPDK
 * is the version the driver SDK headers came from.  0 or -errno.
 */
int vvu_probe_register(const struct vvu_probe_hooks *hooks);

#endif
