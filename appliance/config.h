/* SPDX-License-Identifier: MIT */
/*
 * config: the daemon's settings, from an INI-style file, from text (the
 * appliance gets it through QEMU fw_cfg) and from command-line port specs.
 * Input is untrusted text: every error names its origin and line, and a
 * failed parse leaves the caller's defaults as they were.
 */
#ifndef VVU_CONFIG_H
#define VVU_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sw.h"
#include "vlog.h"

#define VVU_NAME_MAX 32
#define VVU_PATH_MAX 108
#define VVU_BDF_LEN 13		/* "dddd:bb:dd.f" and a NUL */
#define VVU_EAL_ARGS_MAX 256
#define VVU_UUID_LEN 37		/* 8-4-4-4-12 hex digits and a NUL */
#define VVU_IFNAME_LEN 16	/* IFNAMSIZ: an interface name and a NUL */
#define VVU_DEVARGS_LEN 128	/* DPDK devargs: "0000:00:07.0[,key=value...]" */
#define VVU_VXLAN_ADDR_LEN 24	/* "255.255.255.255:65535" and a NUL */
#define VVU_VXLAN_REMOTES_LEN 272 /* 16 IPv4 addresses, separated */
#define VVU_STATIC_MACS_MAX 16	/* static-macs per port */
#define VVU_VXLAN_VLANS_MAX 32	/* vxlan-vlans: VLAN -> VNI pairs per port */

struct vvu_port_cfg {
	char name[VVU_NAME_MAX];
	char socket[VVU_PATH_MAX];	/* a vhost-user UNIX socket port, or */
	char pci[VVU_BDF_LEN];		/* a virtio-vhost-user device port, or */
	char uuid[VVU_UUID_LEN];	/* the device with this uuid (lower case) */
	char afxdp[VVU_IFNAME_LEN];	/* an AF_XDP uplink on this interface, or */
	unsigned int queue;		/* afxdp: the interface's queue */
	char ethdev[VVU_DEVARGS_LEN];	/* a DPDK ethdev uplink (switch VM), or */
	bool vxlan;			/* a VXLAN port (RFC 7348): */
	unsigned int vni;		/*   its VNI, */
	char vxlan_local[VVU_VXLAN_ADDR_LEN];	/*   "IPv4[:UDP port]" to bind, */
	char vxlan_remotes[VVU_VXLAN_REMOTES_LEN]; /*   the remote VTEPs, IPv4 list */
	unsigned int nvxlan_vlans;	/*   vxlan-vlans: VLAN vid travels in VNI vni */
	struct vvu_vxlan_vlan {
		uint16_t vid;
		uint32_t vni;
	} vxlan_vlans[VVU_VXLAN_VLANS_MAX];
	bool client;			/* connect (and reconnect) instead of listen */
	unsigned int queues;		/* queue pairs offered, 1..8 */
	unsigned int reconnect_ms;	/* client retry interval */

	/* L2 (switch/sw.h), for any port kind: VLANs, security, static MACs */
	unsigned int vlan;		/* access port: its VLAN; 0: not one */
	unsigned int native_vlan;	/* trunk: untagged frames' VLAN; 0: none */
	bool has_trunks;
	uint64_t trunks[SW_VLAN_WORDS];	/* trunk: VLANs carried tagged */
	bool lock_first;		/* lock-mac = first */
	unsigned int nallowed;		/* allowed-macs, or lock-mac = MAC */
	uint8_t allowed[SW_SEC_MACS_MAX][SW_ETH_ALEN];
	unsigned int nstatic;		/* static-macs */
	struct vvu_static_mac {
		uint8_t mac[SW_ETH_ALEN];
		uint16_t vlan;
	} statics[VVU_STATIC_MACS_MAX];
};

/* [mirror NAME]: copies of what from's ports send and get, to port to */
struct vvu_mirror_cfg {
	char name[VVU_NAME_MAX];
	unsigned int nfrom;
	char from[SW_MAX_PORTS][VVU_NAME_MAX];
	char to[VVU_NAME_MAX];
};

struct vvu_config {
	struct sw_config sw;
	enum vlog_level log_level;
	char control[VVU_PATH_MAX];	/* control socket path, "" for none */
	char control_stream[VVU_PATH_MAX]; /* control over a char device, "" for none */
	int idle_poll_us;		/* spin this long idle before sleeping; -1 never sleep */
	unsigned int nports;
	struct vvu_port_cfg ports[SW_MAX_PORTS];
	unsigned int nmirrors;
	struct vvu_mirror_cfg mirrors[SW_MIRRORS_MAX];

	/* virtio-vhost-user devices (inside a switch VM). */
	enum vvu_mode { VVU_MODE_NONE, VVU_MODE_AUTO, VVU_MODE_LIST } vvu_mode;
	unsigned int nvvu;		/* VVU_MODE_LIST: the devices */
	char vvu[SW_MAX_PORTS][VVU_BDF_LEN];
	char huge_dir[VVU_PATH_MAX];	/* hugetlbfs for DPDK; "" or "none": --in-memory */
	char eal_args[VVU_EAL_ARGS_MAX]; /* extra EAL arguments, space separated */
};

void vvu_config_default(struct vvu_config *c);
void vvu_port_cfg_default(struct vvu_port_cfg *p);

/*
 * Parse text (NUL-terminated) over c.  origin names the source in errors
 * ("file.conf", "fw_cfg").  A section ([switch], [port NAME]) may appear
 * once in a text and a key once in a section; a repeat is an error naming
 * both lines.  On error returns -EINVAL with err holding "origin:line:
 * what", and c is unchanged.
 */
int vvu_config_parse(struct vvu_config *c, const char *text,
		     const char *origin, char *err, size_t errlen);

/* Read and parse a file; errors as above (and -errno if unreadable). */
int vvu_config_load(struct vvu_config *c, const char *path, char *err,
		    size_t errlen);

/*
 * Add a port from "name=p0,socket=/path[,mode=server|client][,queues=N]
 * [,reconnect-ms=N]".  -EINVAL with err on a bad spec; c unchanged.
 */
int vvu_config_add_port_spec(struct vvu_config *c, const char *spec,
			     char *err, size_t errlen);

/*
 * Parse one port from "key=value,..." (the --port keys, name included)
 * into p.  The port's own rules hold (one of socket and pci, mode only
 * for a socket); names of other ports are not checked.  0, or -EINVAL
 * with err saying what is wrong (without the spec).
 */
int vvu_port_spec_parse(struct vvu_port_cfg *p, const char *spec, char *err,
			size_t errlen);

/*
 * Set the vvu devices from "auto", "none" or a comma list of PCI
 * addresses ("00:03.0" or "0000:00:03.0").  -EINVAL with err (the spec
 * and what is wrong) on bad input; c unchanged then.
 */
int vvu_config_set_vvu(struct vvu_config *c, const char *spec, char *err,
		       size_t errlen);

/*
 * Normalise a PCI address to "dddd:bb:dd.f" (lower case) in out
 * (VVU_BDF_LEN bytes).  0 or -EINVAL.
 */
int vvu_bdf_parse(const char *s, char *out);

/*
 * The name of the port on device bdf (normalised): the [port] with that
 * pci key, else "vvu-bb:dd.f" (domain 0) or "vvu-dddd:bb:dd.f".
 */
void vvu_config_vvu_name(const struct vvu_config *c, const char *bdf,
			 char *name, size_t n);

/*
 * True when bdf (normalised) may be a device this config drives: named by
 * address, or listed, or any device at all when vvu = auto or a port
 * names its device by uuid (which only the opened device can tell).
 */
bool vvu_config_wants(const struct vvu_config *c, const char *bdf);

/* The [port] that names its device by uuid (lower case), or NULL. */
const struct vvu_port_cfg *vvu_config_uuid_port(const struct vvu_config *c,
						const char *uuid);

/* Normalise a UUID (8-4-4-4-12 hex digits) to lower case in out.  0 or -EINVAL. */
int vvu_uuid_parse(const char *s, char *out);

/* True when the config has any vvu device or ethdev port (EAL is needed). */
bool vvu_config_has_vvu(const struct vvu_config *c);

/* The [port] named name, or NULL. */
const struct vvu_port_cfg *vvu_config_port(const struct vvu_config *c,
					   const char *name);

/* One key the config file takes, for documentation and its tests. */
struct vvu_config_key_info {
	const char *section;	/* "switch", "port" or "mirror" */
	const char *name;
	char values[64];	/* what it takes: "16..4194304", "server, client" */
	char def[VVU_PATH_MAX];	/* its default as the file would say it; "" none */
};

/* Describe the i-th key (0, 1, ...).  0, or -ENOENT past the last. */
int vvu_config_key_info(unsigned int i, struct vvu_config_key_info *out);

#endif
