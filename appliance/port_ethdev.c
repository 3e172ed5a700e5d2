/* SPDX-License-Identifier: MIT */
/*
 * port_ethdev: the port kind "ethdev", an uplink on any DPDK ethdev, for
 * the switch VM where EAL runs anyway (started for the virtio-vhost-user
 * devices, daemon_vvu.c): typically a virtio-net NIC QEMU gives the VM,
 * driven by DPDK's net_virtio over vfio-pci.  `ethdev = DEVARGS`; a PCI
 * address is first given to vfio-pci (pci_scan.c), then probed with
 * rte_dev_probe.  One rx and one tx queue, serviced from the poll loop
 * (rte_eth_rx_burst/tx_burst never block); link state is read every
 * CHECK_NS without waiting (rte_eth_link_get_nowait).  net_af_xdp reports
 * its link up whenever it is started, so for it the kernel interface its
 * devargs name (`iface=`) is looked at instead: down or without carrier
 * makes the port down; gone, the ethdev is removed and probed again (every
 * second) until an interface of that name is back.
 *
 * Trust: frames are wire input, handed to the switch as the mbufs' segments
 * with the Ethernet header copied once; their lengths come from the PMD.
 * Built without DPDK, the kind says why and makes no ports.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port_kinds.h"
#include "off.h"
#include "vlog.h"

#ifdef VVU_HAVE_DPDK
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "daemon_vvu.h"
#include "pci_scan.h"

#define CHECK_NS 200000000ull		/* link state: every 200 ms */
#define RETRY_NS 1000000000ull		/* a failed set-up: again every second */
#define NB_MBUF 4095u
#define NB_DESC 512u
#define TX_BURST 64u

struct port_ethdev {
	struct port base;	/* first: a struct port * is a struct port_ethdev * */
	struct vvu_port_cfg cfg;
	struct rte_mempool *pool;
	uint16_t pid;
	bool started;		/* configured and started: the datapath runs */
	bool link;
	bool dirty;
	uint64_t next_check_ns, next_try_ns;
	unsigned int mtu;
	char driver[32];
	char kif[IF_NAMESIZE];	/* net_af_xdp: its kernel interface, else "" */
	char why[192];		/* why the port is down, "" when it is up */
	/* datapath */
	struct rte_mbuf *rx[SW_BURST];
	unsigned int nrx;
	struct rte_mbuf *tx[TX_BURST];
	unsigned int ntx;
	uint64_t tx_no_room, tx_no_mbuf, tx_too_big, rx_too_many_segs;
	struct off_stats ost;	/* offload work finished here */
	struct off_buf obuf;	/* its scratch frame */
};

static struct port_ethdev *pe(const struct port *p)
{
	return (struct port_ethdev *)(uintptr_t)p;
}

/* ---- the datapath: struct sw_port_ops ---- */

static unsigned int eth_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct port_ethdev *e = ctx;
	unsigned int got, out = 0;

	e->nrx = 0;
	if (!e->started)
		return 0;
	got = rte_eth_rx_burst(e->pid, 0, e->rx, (uint16_t)(n < SW_BURST ? n : SW_BURST));
	for (unsigned int i = 0; i < got; i++) {
		struct sw_frame *fr = &f[out];
		const struct rte_mbuf *m = e->rx[i];
		uint32_t len = 0, eth = 0;
		uint16_t s = 0;

		for (; m && s < SW_FRAME_MAX_SEGS; m = m->next, s++) {
			const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
			uint32_t l = m->data_len;

			fr->seg[s].base = p;
			fr->seg[s].len = l;
			for (uint32_t k = 0; k < l && eth < SW_ETH_HLEN; k++)
				fr->eth[eth++] = p[k];
			len += l;
		}
		if (m) {
			e->rx_too_many_segs++;
			continue;
		}
		memset(fr->eth + eth, 0, SW_ETH_HLEN - eth);
		memset(&fr->off, 0, sizeof(fr->off));
		fr->nseg = s;
		fr->len = len;
		out++;
	}
	e->nrx = got;
	return out;
}

static void eth_recv_done(void *ctx)
{
	struct port_ethdev *e = ctx;

	if (e->nrx)
		rte_pktmbuf_free_bulk(e->rx, e->nrx);
	e->nrx = 0;
}

static void tx_push(struct port_ethdev *e)
{
	uint16_t sent;

	if (!e->ntx)
		return;
	sent = rte_eth_tx_burst(e->pid, 0, e->tx, (uint16_t)e->ntx);
	if (sent < e->ntx) {
		e->tx_no_room += e->ntx - sent;
		rte_pktmbuf_free_bulk(e->tx + sent, e->ntx - sent);
	}
	e->ntx = 0;
}

static int eth_send_one(void *ctx, const struct sw_frame *f)
{
	struct port_ethdev *e = ctx;
	struct rte_mbuf *m;
	uint8_t *p;

	if (!e->started)
		return -EIO;
	m = rte_pktmbuf_alloc(e->pool);
	if (!m) {
		e->tx_no_mbuf++;
		return -ENOBUFS;
	}
	if (f->len > rte_pktmbuf_tailroom(m)) {
		rte_pktmbuf_free(m);
		e->tx_too_big++;
		return -EMSGSIZE;
	}
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)f->len);
	for (unsigned int s = 0; s < f->nseg; s++) {
		memcpy(p, f->seg[s].base, f->seg[s].len);
		p += f->seg[s].len;
	}
	e->tx[e->ntx++] = m;
	if (e->ntx == TX_BURST)
		tx_push(e);
	return 0;
}

/* A peer's checksum or segmentation work is finished before it leaves. */
static int eth_send(void *ctx, const struct sw_frame *f)
{
	struct port_ethdev *x = ctx;

	if (sw_off_any(&f->off))
		return off_finish(f, &x->obuf, eth_send_one, x, &x->ost);
	return eth_send_one(ctx, f);
}

static void eth_flush(void *ctx)
{
	struct port_ethdev *e = ctx;

	if (e->started)
		tx_push(e);
}

static const struct sw_port_ops ethdev_port_ops = {
	.recv = eth_recv,
	.recv_done = eth_recv_done,
	.send = eth_send,
	.flush = eth_flush,
};

/* ---- set-up and link ---- */

static void set_down(struct port_ethdev *e, const char *why)
{
	if (strcmp(e->why, why) != 0)
		vlog_warn("%s: down: %s", e->base.name, why);
	snprintf(e->why, sizeof(e->why), "%s", why);
	if (e->link)
		e->dirty = true;
	e->link = false;
}

/*
 * Find or probe the device, give it one rx and one tx queue and start it.
 * 0, or -errno with why.  A PCI address (the devargs' name) goes to
 * vfio-pci first.
 */
static int bring_up(struct port_ethdev *e, char *why, size_t n)
{
	char name[VVU_DEVARGS_LEN], bdf[VVU_BDF_LEN];
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = NB_DESC, ntx = NB_DESC;
	int rc, sock;

	snprintf(name, sizeof(name), "%s", e->cfg.ethdev);
	name[strcspn(name, ",")] = '\0';
	if (vvu_bdf_parse(name, bdf) == 0) {
		snprintf(name, sizeof(name), "%s", bdf);
		rc = pci_bind_vfio(PCI_SYSFS, bdf, why, n);
		if (rc)
			return rc;
	}
	if (rte_eth_dev_get_port_by_name(name, &e->pid) != 0) {
		rc = rte_dev_probe(e->cfg.ethdev);
		if (rc < 0 && rc != -EEXIST) {
			snprintf(why, n, "cannot probe %.100s: %.40s", e->cfg.ethdev, strerror(-rc));
			return rc;
		}
		if (rte_eth_dev_get_port_by_name(name, &e->pid) != 0) {
			snprintf(why, n, "%.60s probed, but no ethdev is named %.60s",
				 e->cfg.ethdev, name);
			return -ENODEV;
		}
	}
	rc = rte_eth_dev_info_get(e->pid, &info);
	if (rc == 0)
		snprintf(e->driver, sizeof(e->driver), "%s", info.driver_name);
	sock = rte_eth_dev_socket_id(e->pid);
	if (!e->pool) {
		char pname[RTE_MEMPOOL_NAMESIZE];

		snprintf(pname, sizeof(pname), "up-%u", e->pid);
		e->pool = rte_pktmbuf_pool_create(pname, NB_MBUF, 64, 0,
						  RTE_MBUF_DEFAULT_BUF_SIZE,
						  sock < 0 ? 0 : sock);
		if (!e->pool) {
			snprintf(why, n, "no mbuf pool: %.100s", rte_strerror(rte_errno));
			return -ENOMEM;
		}
	}
	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_configure(e->pid, 1, 1, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(e->pid, &nrx, &ntx);
	if (rc == 0)
		rc = rte_eth_rx_queue_setup(e->pid, 0, nrx, (unsigned int)(sock < 0 ? 0 : sock),
					    NULL, e->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(e->pid, 0, ntx, (unsigned int)(sock < 0 ? 0 : sock),
					    NULL);
	if (rc == 0)
		rc = rte_eth_dev_start(e->pid);
	if (rc) {
		snprintf(why, n, "cannot start %.60s (%.31s): %.40s", name, e->driver,
			 strerror(rc < 0 ? -rc : rc));
		return rc < 0 ? rc : -rc;
	}
	/* An uplink carries every MAC behind it. */
	if (rte_eth_promiscuous_enable(e->pid) != 0)
		vlog_warn("%s: %s cannot be made promiscuous", e->base.name, name);
	e->started = true;
	vlog_info("%s: ethdev %s (port %u, %s) started", e->base.name, name, e->pid,
		  e->driver);
	return 0;
}

/*
 * net_af_xdp's kernel interface: 0 when it is up with carrier, else -errno
 * and why.  Two cheap system calls.
 */
static int kif_state(const char *kif, char *why, size_t n)
{
	struct ifreq ifr;
	int fd, rc;

	if (if_nametoindex(kif) == 0) {
		snprintf(why, n, "%s does not exist", kif);
		return -ENODEV;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, n, "cannot read %s's flags: %s", kif, strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", kif);
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ? -errno : 0;
	close(fd);
	if (rc) {
		snprintf(why, n, "cannot read %s's flags: %s", kif, strerror(-rc));
		return rc;
	}
	if (!(ifr.ifr_flags & IFF_UP) || !(ifr.ifr_flags & IFF_RUNNING)) {
		snprintf(why, n, "%s is %s", kif, (ifr.ifr_flags & IFF_UP) ?
			 "up without carrier" : "administratively down");
		return -ENETDOWN;
	}
	return 0;
}

/*
 * Remove the device, not only close its ethdev, so that the next bring_up
 * (or a port added again with the same devargs) probes it anew; free the
 * pool too (net_af_xdp made its UMEM of it, and the PMD keeps the mbufs of
 * its fill ring).  For a net_af_xdp port whose kernel interface is gone
 * (its socket is dead), and for a port deleted.
 */
static void drop_dev(struct port_ethdev *e)
{
	struct rte_eth_dev_info info;

	e->started = false;
	memset(&info, 0, sizeof(info));
	if (rte_eth_dev_info_get(e->pid, &info) == 0 && info.device) {
		rte_eth_dev_stop(e->pid);
		if (rte_dev_remove(info.device) != 0)
			rte_eth_dev_close(e->pid);
	}
	if (e->pool)
		rte_mempool_free(e->pool);
	e->pool = NULL;
}

static void check(struct port_ethdev *e, uint64_t now)
{
	struct rte_eth_link link;
	uint16_t mtu = 0;
	char why[160];

	if (!e->started) {
		if (now < e->next_try_ns)
			return;
		e->next_try_ns = now + RETRY_NS;
		if (e->kif[0] && kif_state(e->kif, why, sizeof(why)) == -ENODEV) {
			if (!strstr(e->why, "vanished"))	/* say what happened */
				set_down(e, why);
			return;
		}
		if (bring_up(e, why, sizeof(why))) {
			set_down(e, why);
			return;
		}
	}
	if (!rte_eth_dev_is_valid_port(e->pid)) {
		e->started = false;
		set_down(e, "the device is gone");
		return;
	}
	if (rte_eth_dev_get_mtu(e->pid, &mtu) == 0)
		e->mtu = mtu;
	memset(&link, 0, sizeof(link));
	if (rte_eth_link_get_nowait(e->pid, &link) != 0 ||
	    link.link_status != RTE_ETH_LINK_UP) {
		set_down(e, "no link");
		return;
	}
	if (e->kif[0]) {
		int rc = kif_state(e->kif, why, sizeof(why));

		if (rc == -ENODEV) {
			drop_dev(e);
			e->next_try_ns = now + RETRY_NS;
			snprintf(why, sizeof(why), "%s vanished", e->kif);
		}
		if (rc) {
			set_down(e, why);
			return;
		}
	}
	if (!e->link) {
		e->link = true;
		e->dirty = true;
		e->why[0] = '\0';
	}
}

static bool ethdev_takes(const struct vvu_port_cfg *c)
{
	return c->ethdev[0] != '\0';
}

static int ethdev_create(struct port_env *env, const struct vvu_port_cfg *c,
			 struct port **out, char *err, size_t errlen)
{
	struct port_ethdev *e;
	int rc;

	if (!dvvu_started()) {
		snprintf(err, errlen, "%s: ethdev ports need DPDK's EAL, which runs "
			 "with virtio-vhost-user devices (the switch VM)", c->name);
		return -ENOTSUP;
	}
	for (unsigned int i = 0; i < env->reg->n; i++) {
		const struct port *o = env->reg->p[i];

		if (o->cls == &port_ethdev_class && strcmp(pe(o)->cfg.ethdev, c->ethdev) == 0) {
			snprintf(err, errlen, "ethdev %s is in use by port %s", c->ethdev,
				 o->name);
			return -EADDRINUSE;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	port_init(&e->base, &port_ethdev_class, env, c->name, 1);
	e->cfg = *c;
	if (strncmp(c->ethdev, "net_af_xdp", 10) == 0) {
		const char *k = strstr(c->ethdev, ",iface=");

		if (k)
			snprintf(e->kif, sizeof(e->kif), "%.*s", (int)strcspn(k + 7, ","), k + 7);
	}
	snprintf(e->why, sizeof(e->why), "not started yet");
	rc = port_reg_add(env->reg, &e->base);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "port %s exists" :
			 "port %s: no room for another port", c->name);
		free(e);
		return rc;
	}
	rc = port_attach_ops(&e->base, &ethdev_port_ops, e);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->name, strerror(-rc));
		port_destroy(&e->base);
		return rc;
	}
	check(e, ev_now_ns());
	e->next_check_ns = ev_now_ns() + CHECK_NS;
	*out = &e->base;
	return 0;
}

static void ethdev_tick(struct port *p, uint64_t now_ns)
{
	struct port_ethdev *e = pe(p);

	if (now_ns < e->next_check_ns)
		return;
	e->next_check_ns = now_ns + CHECK_NS;
	check(e, now_ns);
}

static bool ethdev_sync(struct port *p, bool *up)
{
	struct port_ethdev *e = pe(p);

	if (!e->dirty)
		return false;
	e->dirty = false;
	*up = e->link;
	return true;
}

static void ethdev_describe(const struct port *p, struct port_snap *s)
{
	struct port_ethdev *e = pe(p);
	struct rte_eth_stats st;

	snprintf(s->mode, sizeof(s->mode), "%s", "ethdev");
	s->where_key = "ethdev";
	snprintf(s->where, sizeof(s->where), "%.107s", e->cfg.ethdev);
	snprintf(s->connection, sizeof(s->connection), "%s",
		 e->started ? "started" : "stopped");
	snprintf(s->features, sizeof(s->features), "%s", e->driver);
	snprintf(s->last_error, sizeof(s->last_error), "%s", e->why);
	s->mtu = e->mtu;
	s->live_rx = s->live_tx = e->started ? 1 : 0;
	s->rx_no_buffer = e->tx_no_room + e->tx_no_mbuf;
	s->rx_too_big = e->tx_too_big;
	memset(&st, 0, sizeof(st));
	if (e->started)
		rte_eth_stats_get(e->pid, &st);
	s->extra[s->nextra].key = "eth_ipackets";
	s->extra[s->nextra++].v = st.ipackets;
	s->extra[s->nextra].key = "eth_opackets";
	s->extra[s->nextra++].v = st.opackets;
	s->extra[s->nextra].key = "eth_imissed";
	s->extra[s->nextra++].v = st.imissed;
	s->extra[s->nextra].key = "eth_ierrors";
	s->extra[s->nextra++].v = st.ierrors;
	s->extra[s->nextra].key = "eth_oerrors";
	s->extra[s->nextra++].v = st.oerrors;
	s->extra[s->nextra].key = "eth_rx_nombuf";
	s->extra[s->nextra++].v = st.rx_nombuf;
	s->extra[s->nextra].key = "rx_too_many_segs";
	s->extra[s->nextra++].v = e->rx_too_many_segs;
	port_snap_offload(s, &e->ost);
}

/* clear-stats: the port's counters (the device's are the PMD's). */
static void ethdev_clear_stats(struct port *p)
{
	struct port_ethdev *e = pe(p);

	e->tx_no_room = e->tx_no_mbuf = e->tx_too_big = e->rx_too_many_segs = 0;
	memset(&e->ost, 0, sizeof(e->ost));
}

static void ethdev_close(struct port *p)
{
	struct port_ethdev *e = pe(p);

	if (e->started) {
		tx_push(e);
		drop_dev(e);
	}
	if (e->pool)
		rte_mempool_free(e->pool);
	free(e);
}

static bool ethdev_deletable(const struct port *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return true;
}

#else /* !VVU_HAVE_DPDK */

static bool ethdev_takes(const struct vvu_port_cfg *c)
{
	return c->ethdev[0] != '\0';
}

static int ethdev_create(struct port_env *env, const struct vvu_port_cfg *c,
			 struct port **out, char *err, size_t errlen)
{
	(void)env;
	(void)out;
	snprintf(err, errlen, "%s: ethdev ports: %s", c->name, VVU_NO_DPDK_REASON);
	return -ENOTSUP;
}

static void ethdev_tick(struct port *p, uint64_t now_ns)
{
	(void)p;
	(void)now_ns;
}

static bool ethdev_sync(struct port *p, bool *up)
{
	(void)p;
	(void)up;
	return false;
}

static void ethdev_describe(const struct port *p, struct port_snap *s)
{
	(void)p;
	(void)s;
}

static void ethdev_close(struct port *p)
{
	(void)p;
}

#define ethdev_deletable NULL
#define ethdev_clear_stats NULL

#endif

static int ethdev_start(struct port_env *env)
{
	for (unsigned int i = 0; i < env->cfg->nports; i++) {
		struct port *p;
		char err[256];
		int rc;

		if (!ethdev_takes(&env->cfg->ports[i]))
			continue;
		rc = ethdev_create(env, &env->cfg->ports[i], &p, err, sizeof(err));
		if (rc) {
			vlog_err("%s", err);
			return rc;
		}
	}
	return 0;
}

/* Up, or "down" (the reason is the port's last error). */
static const char *ethdev_state(const struct port *p)
{
	return p->up ? NULL : "down";
}

const struct port_class port_ethdev_class = {
	.kind = "ethdev",
	.start = ethdev_start,
	.takes = ethdev_takes,
	.create = ethdev_create,
	.deletable = ethdev_deletable,
	.state = ethdev_state,
	.describe = ethdev_describe,
	.clear_stats = ethdev_clear_stats,
	.tick = ethdev_tick,
	.sync = ethdev_sync,
	.close = ethdev_close,
};
