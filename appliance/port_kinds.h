/* SPDX-License-Identifier: MIT */
/*
 * port_kinds: the port kinds the daemon knows, one file each.  Adding a
 * kind is a new file with its struct port_class and one line in
 * port_kinds[] (daemon.c); nothing else changes.
 */
#ifndef VVU_PORT_KINDS_H
#define VVU_PORT_KINDS_H

#include "ports.h"

extern const struct port_class port_unix_class;	/* port_unix.c */
extern const struct port_class port_vvu_class;	/* port_vvu.c */
extern const struct port_class port_afxdp_class;	/* port_afxdp.c */
extern const struct port_class port_ethdev_class;	/* port_ethdev.c */
extern const struct port_class port_vxlan_class;	/* port_vxlan.c */

#endif
