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

#include "sw.h"
#include "vlog.h"

#define VVU_NAME_MAX 32
#define VVU_PATH_MAX 108

struct vvu_port_cfg {
	char name[VVU_NAME_MAX];
	char socket[VVU_PATH_MAX];
	bool client;			/* connect (and reconnect) instead of listen */
	unsigned int queues;		/* queue pairs offered, 1..8 */
	unsigned int reconnect_ms;	/* client retry interval */
};

struct vvu_config {
	struct sw_config sw;
	enum vlog_level log_level;
	char control[VVU_PATH_MAX];	/* control socket path, "" for none */
	int idle_poll_us;		/* spin this long idle before sleeping; -1 never sleep */
	unsigned int nports;
	struct vvu_port_cfg ports[SW_MAX_PORTS];
};

void vvu_config_default(struct vvu_config *c);

/*
 * Parse text (NUL-terminated) over c.  origin names the source in errors
 * ("file.conf", "fw_cfg").  On error returns -EINVAL with err holding
 * "origin:line: what", and c is unchanged.
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

#endif
