/* SPDX-License-Identifier: MIT */
/*
 * vvu-switchd: the switch daemon's command line.  Builds a config from a
 * file, --port specs and --vvu, reports a bad one with its line, and runs.
 * Every exit path frees what it allocated (the ASan build checks).
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
		"                   [--control-stream DEVICE] [--vvu auto|none|BDF,...]\n"
		"                   [--log-level err|warn|info|debug] [--idle-poll-us N]\n"
		"                   [--defaults-on-error]\n"
		"  SPEC: name=NAME,socket=PATH[,mode=server|client][,queues=N][,reconnect-ms=N]\n"
		"        or name=NAME,pci=BDF[,queues=N] (a virtio-vhost-user device)\n"
		"  --control-stream: serve control requests on a character device, e.g.\n"
		"                    /dev/virtio-ports/org.vvu-switch.ctl\n"
		"  --vvu: drive virtio-vhost-user PCI devices (1af4:107a) through DPDK;\n"
		"         auto = every one there is or is hot-added later\n"
		"  --defaults-on-error: if the config file is bad, report it and run\n"
		"                       with defaults (and the --port ports) instead of exiting\n");
}

static int set_path(char *dst, const char *v, const char *opt)
{
	if (!*v || strlen(v) >= VVU_PATH_MAX) {
		fprintf(stderr, "vvu-switchd: %s path empty or too long\n", opt);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 's' },
		{ "control-stream", required_argument, NULL, 'S' },
		{ "vvu", required_argument, NULL, 'V' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "idle-poll-us", required_argument, NULL, 'i' },
		{ "defaults-on-error", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *control = NULL, *level = NULL, *idle = NULL;
	const char *stream = NULL, *vvu = NULL;
	char *specs[64];
	unsigned int nspecs = 0;
	bool defaults_on_error = false;
	struct vvu_config *cfg = malloc(sizeof(*cfg));
	char err[256], cfg_err[256] = "";
	int c, rc;

	if (!cfg)
		return 1;
	vvu_config_default(cfg);
	while ((c = getopt_long(argc, argv, "c:p:s:S:V:l:i:Dh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'p':
			if (nspecs == 64) {
				fprintf(stderr, "vvu-switchd: too many --port\n");
				goto bad;
			}
			specs[nspecs++] = optarg;
			break;
		case 's': control = optarg; break;
		case 'S': stream = optarg; break;
		case 'V': vvu = optarg; break;
		case 'l': level = optarg; break;
		case 'i': idle = optarg; break;
		case 'D': defaults_on_error = true; break;
		case 'h': usage(stdout); free(cfg); return 0;
		default: usage(stderr); goto bad;
		}
	}
	if (optind != argc) {
		usage(stderr);
		goto bad;
	}
	if (config && vvu_config_load(cfg, config, err, sizeof(err))) {
		fprintf(stderr, "vvu-switchd: bad config: %s\n", err);
		if (!defaults_on_error)
			goto bad;
		snprintf(cfg_err, sizeof(cfg_err), "%s", err);
		vvu_config_default(cfg);
	}
	for (unsigned int i = 0; i < nspecs; i++) {
		if (vvu_config_add_port_spec(cfg, specs[i], err, sizeof(err))) {
			fprintf(stderr, "vvu-switchd: %s\n", err);
			goto bad;
		}
	}
	if (control && set_path(cfg->control, control, "--control"))
		goto bad;
	if (stream && set_path(cfg->control_stream, stream, "--control-stream"))
		goto bad;
	if (vvu && vvu_config_set_vvu(cfg, vvu, err, sizeof(err))) {
		fprintf(stderr, "vvu-switchd: %s\n", err);
		goto bad;
	}
	if (level && vlog_parse_level(level, &cfg->log_level)) {
		fprintf(stderr, "vvu-switchd: --log-level: err, warn, info or debug\n");
		goto bad;
	}
	if (idle) {
		char *end;
		long v = strtol(idle, &end, 10);

		if (!*idle || *end || v < -1 || v > 10000000) {
			fprintf(stderr, "vvu-switchd: --idle-poll-us: -1..10000000\n");
			goto bad;
		}
		cfg->idle_poll_us = (int)v;
	}
	if (cfg->nports == 0 && !vvu_config_has_vvu(cfg)) {
		fprintf(stderr, "vvu-switchd: no ports (use --port, --vvu or a config file)\n");
		goto bad;
	}
	rc = vvu_daemon_run(cfg, cfg_err[0] ? cfg_err : NULL);
	free(cfg);
	if (rc) {
		fprintf(stderr, "vvu-switchd: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
bad:
	free(cfg);
	return 2;
}
