/* SPDX-License-Identifier: MIT */
/*
 * vvu-switchd: the switch daemon's command line.  Builds a config from a
 * file and/or --port specs, reports a bad one with its line, and runs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "vlog.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vvu-switchd [--config FILE] [--port SPEC]... [--control PATH]\n"
		"                   [--log-level err|warn|info|debug] [--idle-poll-us N]\n"
		"                   [--defaults-on-error]\n"
		"  SPEC: name=NAME,socket=PATH[,mode=server|client][,queues=N][,reconnect-ms=N]\n"
		"  --defaults-on-error: if the config file is bad, report it and run\n"
		"                       with defaults (and the --port ports) instead of exiting\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 's' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "idle-poll-us", required_argument, NULL, 'i' },
		{ "defaults-on-error", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *control = NULL, *level = NULL, *idle = NULL;
	char *specs[64];
	unsigned int nspecs = 0;
	bool defaults_on_error = false;
	struct vvu_config *cfg = malloc(sizeof(*cfg));
	char err[256], cfg_err[256] = "";
	int c, rc;

	if (!cfg)
		return 1;
	vvu_config_default(cfg);
	while ((c = getopt_long(argc, argv, "c:p:s:l:i:Dh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p':
			if (nspecs == 64) {
				fprintf(stderr, "vvu-switchd: too many --port\n");
				return 2;
			}
			specs[nspecs++] = optarg;
			break;
		case 's': control = optarg; break;
		case 'l': level = optarg; break;
		case 'i': idle = optarg; break;
		case 'D': defaults_on_error = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (config && vvu_config_load(cfg, config, err, sizeof(err))) {
		fprintf(stderr, "vvu-switchd: bad config: %s\n", err);
		if (!defaults_on_error)
			return 2;
		snprintf(cfg_err, sizeof(cfg_err), "%s", err);
		vvu_config_default(cfg);
	}
	for (unsigned int i = 0; i < nspecs; i++) {
		if (vvu_config_add_port_spec(cfg, specs[i], err, sizeof(err))) {
			fprintf(stderr, "vvu-switchd: %s\n", err);
			return 2;
		}
	}
	if (control) {
		if (strlen(control) >= sizeof(cfg->control)) {
			fprintf(stderr, "vvu-switchd: --control path too long\n");
			return 2;
		}
		memcpy(cfg->control, control, strlen(control) + 1);
	}
	if (level && vlog_parse_level(level, &cfg->log_level)) {
		fprintf(stderr, "vvu-switchd: --log-level: err, warn, info or debug\n");
		return 2;
	}
	if (idle) {
		char *end;
		long v = strtol(idle, &end, 10);

		if (*end || v < -1 || v > 10000000) {
			fprintf(stderr, "vvu-switchd: --idle-poll-us: -1..10000000\n");
			return 2;
		}
		cfg->idle_poll_us = (int)v;
	}
	if (cfg->nports == 0) {
		fprintf(stderr, "vvu-switchd: no ports (use --port or a config file)\n");
		return 2;
	}
	rc = vvu_daemon_run(cfg, cfg_err[0] ? cfg_err : NULL);
	free(cfg);
	if (rc) {
		fprintf(stderr, "vvu-switchd: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
