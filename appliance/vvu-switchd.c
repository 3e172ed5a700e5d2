/* SPDX-License-Identifier: MIT */
/*
 * vvu-switchd: the switch daemon's command line.  Builds a config from a
 * file, --port specs and --vvu, reports a bad one with its line, and runs
 * (or, with --check-config, only says whether it would).  The exit codes
 * are the table in usage() and docs/daemon.md.  Every exit path frees what
 * it allocated (the ASan build checks).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "vlog.h"

/* Exit codes (docs/daemon.md). */
enum {
	EXIT_OK = 0,		/* stopped cleanly; --check-config: valid */
	EXIT_RUNTIME = 1,	/* could not start, or failed while running */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_CONFIG = 3,	/* the config file is unreadable or refused */
};

#define MAX_SPECS SW_MAX_PORTS

static void usage(void)
{
	printf(
		"usage: vvu-switchd [--config FILE] [--port SPEC]... [--control PATH]\n"
		"                   [--control-stream DEVICE] [--vvu auto|none|BDF,...]\n"
		"                   [--log-level err|warn|info|debug] [--idle-poll-us N]\n"
		"                   [--defaults-on-error]\n"
		"       vvu-switchd --check-config FILE [options as above]\n"
		"       vvu-switchd --help | --version\n"
		"Run the vvu-switch L2 switch until SIGTERM or SIGINT.\n"
		"  -c, --config FILE     read settings and ports from FILE (docs/config.md)\n"
		"  -p, --port SPEC       add a port: name=NAME,socket=PATH[,mode=server|client]\n"
		"                        [,queues=N][,reconnect-ms=N], or name=NAME,pci=BDF\n"
		"                        [,queues=N] (a virtio-vhost-user device)\n"
		"  -s, --control PATH    serve the control protocol on a UNIX socket\n"
		"  -S, --control-stream DEVICE\n"
		"                        serve control requests on a character device, e.g.\n"
		"                        /dev/virtio-ports/org.vvu-switch.ctl\n"
		"  -V, --vvu SPEC        drive virtio-vhost-user PCI devices (1af4:107a)\n"
		"                        through DPDK; auto = every one there is or is\n"
		"                        hot-added later; none; or a comma list of addresses\n"
		"  -l, --log-level LEVEL err, warn, info or debug\n"
		"  -i, --idle-poll-us N  spin N us idle before sleeping (-1: never sleep)\n"
		"  -D, --defaults-on-error\n"
		"                        if the config file is bad, report it and run with\n"
		"                        defaults (and the --port ports) instead of exiting\n"
		"  -t, --check-config FILE\n"
		"                        check FILE and the other options, print FILE: OK or\n"
		"                        FILE:LINE: what is wrong, and exit; opens nothing\n"
		"  -h, --help            this text\n"
		"      --version         the version\n"
		"Options override the file's values; each --port adds a port.\n"
		"Exit status:\n"
		"  0  stopped cleanly (--check-config: the configuration is valid)\n"
		"  1  could not start, or failed while running\n"
		"  2  usage: a bad option, option value or argument\n"
		"  3  config: FILE unreadable or refused (FILE:LINE: what), or no ports in it\n");
}

static void version(void)
{
	printf("vvu-switchd %s\n", VVU_VERSION);
#ifdef VVU_HAVE_DPDK
	printf("virtio-vhost-user devices: yes (DPDK %s)\n", VVU_SDK_VERSION);
#elif defined(VVU_NO_DPDK_REASON)
	printf("virtio-vhost-user devices: no (%s)\n", VVU_NO_DPDK_REASON);
#endif
}

static int bad_usage(void)
{
	fprintf(stderr, "usage: vvu-switchd [--config FILE] [--port SPEC]... [options]\n"
		"Try 'vvu-switchd --help'.\n");
	return EXIT_USAGE;
}

struct opts {
	const char *config, *control, *stream, *vvu, *level, *idle;
	const char *specs[MAX_SPECS];
	unsigned int nspecs;
	bool defaults_on_error;
	bool check;		/* --check-config: validate, print, exit */
};

/* Fill o from argv.  -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_VERSION = 256 };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 's' },
		{ "control-stream", required_argument, NULL, 'S' },
		{ "vvu", required_argument, NULL, 'V' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "idle-poll-us", required_argument, NULL, 'i' },
		{ "defaults-on-error", no_argument, NULL, 'D' },
		{ "check-config", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:p:s:S:V:l:i:Dt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
		case 't':
			if (o->config && strcmp(o->config, optarg) != 0) {
				fprintf(stderr, "vvu-switchd: one config file, please "
					"(--config or --check-config)\n");
				return EXIT_USAGE;
			}
			o->config = optarg;
			o->check |= c == 't';
			break;
		case 'p':
			if (o->nspecs == MAX_SPECS) {
				fprintf(stderr, "vvu-switchd: too many --port (at most %d)\n",
					MAX_SPECS);
				return EXIT_USAGE;
			}
			o->specs[o->nspecs++] = optarg;
			break;
		case 's': o->control = optarg; break;
		case 'S': o->stream = optarg; break;
		case 'V': o->vvu = optarg; break;
		case 'l': o->level = optarg; break;
		case 'i': o->idle = optarg; break;
		case 'D': o->defaults_on_error = true; break;
		case 'h': usage(); return EXIT_OK;
		case OPT_VERSION: version(); return EXIT_OK;
		default: return bad_usage();
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vvu-switchd: unexpected argument '%s'\n", argv[optind]);
		return bad_usage();
	}
	return -1;
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

/* The command line's values over the file's.  0 or EXIT_USAGE. */
static int apply_options(struct vvu_config *cfg, const struct opts *o)
{
	char err[256];

	for (unsigned int i = 0; i < o->nspecs; i++) {
		if (vvu_config_add_port_spec(cfg, o->specs[i], err, sizeof(err))) {
			fprintf(stderr, "vvu-switchd: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (o->control && set_path(cfg->control, o->control, "--control"))
		return EXIT_USAGE;
	if (o->stream && set_path(cfg->control_stream, o->stream, "--control-stream"))
		return EXIT_USAGE;
	if (o->vvu && vvu_config_set_vvu(cfg, o->vvu, err, sizeof(err))) {
		fprintf(stderr, "vvu-switchd: %s\n", err);
		return EXIT_USAGE;
	}
	if (o->level && vlog_parse_level(o->level, &cfg->log_level)) {
		fprintf(stderr, "vvu-switchd: --log-level: err, warn, info or debug\n");
		return EXIT_USAGE;
	}
	if (o->idle) {
		char *end;
		long v;

		errno = 0;
		v = strtol(o->idle, &end, 10);
		if (errno || !*o->idle || *end || v < -1 || v > 10000000) {
			fprintf(stderr, "vvu-switchd: --idle-poll-us: -1..10000000\n");
			return EXIT_USAGE;
		}
		cfg->idle_poll_us = (int)v;
	}
	return 0;
}

/*
 * The config the daemon would run: the file, then the options.  0, or the
 * exit code after saying what is wrong.  cfg_err gets a refused file's
 * error when --defaults-on-error runs on defaults instead.
 */
static int build_config(struct vvu_config *cfg, const struct opts *o,
			char *cfg_err, size_t errlen)
{
	char err[256];
	int rc;

	vvu_config_default(cfg);
	if (o->config && vvu_config_load(cfg, o->config, err, sizeof(err))) {
		if (o->check) {
			fprintf(stderr, "%s\n", err);
			return EXIT_CONFIG;
		}
		fprintf(stderr, "vvu-switchd: bad config: %s\n", err);
		if (!o->defaults_on_error)
			return EXIT_CONFIG;
		snprintf(cfg_err, errlen, "%s", err);
		vvu_config_default(cfg);
	}
	rc = apply_options(cfg, o);
	if (rc)
		return rc;
	if (cfg->nports == 0 && !vvu_config_has_vvu(cfg)) {
		if (o->config) {
			fprintf(stderr, "%s%s: no ports ([port NAME] sections or vvu =)%s "
				"and no --port or --vvu\n", o->check ? "" : "vvu-switchd: ",
				o->config, cfg_err[0] ? " (it was refused)" : "");
			return EXIT_CONFIG;
		}
		fprintf(stderr, "vvu-switchd: no ports (use --port, --vvu or a config file)\n");
		return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct vvu_config *cfg;
	char cfg_err[256] = "";
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	cfg = malloc(sizeof(*cfg));
	if (!cfg) {
		fprintf(stderr, "vvu-switchd: out of memory\n");
		return EXIT_RUNTIME;
	}
	rc = build_config(cfg, &o, cfg_err, sizeof(cfg_err));
	if (rc == 0 && o.check) {
		printf("%s: OK (%u port%s, vvu %s)\n", o.config, cfg->nports,
		       cfg->nports == 1 ? "" : "s",
		       cfg->vvu_mode == VVU_MODE_AUTO ? "auto" :
		       cfg->vvu_mode == VVU_MODE_LIST ? "list" : "none");
	} else if (rc == 0) {
		rc = vvu_daemon_run(cfg, cfg_err[0] ? cfg_err : NULL);
		if (rc) {
			fprintf(stderr, "vvu-switchd: %s\n", strerror(-rc));
			rc = EXIT_RUNTIME;
		}
	}
	free(cfg);
	return rc;
}
