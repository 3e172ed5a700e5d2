/* SPDX-License-Identifier: MIT */
/*
 * l2: the config's L2 settings (VLANs, port security, static MACs,
 * mirrors) given to the switch, and the control channel's FDB commands
 * (mac flush, mac add, mac del).  Ports are named in the config and the
 * requests; the switch knows them by id, which a port gets anew each time
 * it attaches, so settings are applied again on every attach.  Requests
 * are untrusted text: every word is checked before the switch sees it.
 */
#ifndef VVU_L2_H
#define VVU_L2_H

#include "config.h"
#include "ctl.h"
#include "sw.h"

/*
 * Give switch port id the settings of pc: VLANs, security, static MACs.
 * 0 or -errno (some setting refused; the rest is applied).
 */
int l2_port_apply(struct sw *sw, const struct vvu_port_cfg *pc, int id);

/* Port id (name) just joined the switch: its [port] settings, then the mirrors. */
void l2_port_attached(struct sw *sw, const struct vvu_config *cfg,
		      const char *name, int id);

/* Set the switch's mirrors from cfg's, by the ports attached now. */
void l2_mirrors_apply(struct sw *sw, const struct vvu_config *cfg);

/*
 * Log the MACs MAC-move dampening pinned since the last call, one line per
 * port that has new ones (the daemon calls it once a second).
 */
void l2_report_pins(const struct sw *sw);

/* "VLAN 10", "trunk 10,20 native 1", "-": a port's VLANs for reports. */
void l2_vlan_str(const struct sw *sw, int id, char *buf, size_t n);

/*
 * mac flush [PORT | vlan N], mac add MAC PORT [vlan N], mac del MAC
 * [vlan N]: req->arg holds the words after "mac".  0 (answer in o) or 1
 * (error in o).
 */
int l2_mac_cmd(struct sw *sw, const struct ctl_req *req, struct sbuf *o);

#endif
