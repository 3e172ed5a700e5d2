/* SPDX-License-Identifier: MIT */
/*
 * daemon: run the switch with the ports of a config until SIGTERM/SIGINT.
 */
#ifndef VVU_DAEMON_H
#define VVU_DAEMON_H

#include "config.h"

/*
 * Run until told to stop.  config_error, when not NULL, is reported by the
 * status command (the config was refused and defaults are in use).
 * Returns 0 after a clean stop, -errno if setup failed.
 */
int vvu_daemon_run(const struct vvu_config *cfg, const char *config_error);

#endif
