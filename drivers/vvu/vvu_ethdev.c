/* SPDX-License-Identifier: MIT */
/*
 * vvu_ethdev: the virtio-vhost-user device as a DPDK PCI driver and ethdev
 * port (net_vvu), so any DPDK application, dpdk-testpmd for one, can
 * forward between peers.  rx_burst copies the peer's transmitted frames
 * into mbufs; tx_burst copies mbufs into the peer's receive buffers.
 *
 * Security model: the peer's rings and messages are validated by vu_dev,
 * vq and vnet; this file only copies frames that vnet has bounded and
 * takes a per-port lock so the control thread and the datapath never see
 * the memory table change under them.  Built against DPDK's driver SDK
 * headers of exactly the installed version, checked again at probe.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <rte_bus_pci.h>
#include <rte_devargs.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>
#include <rte_version.h>
#include <bus_pci_driver.h>
#include <ethdev_driver.h>
#include <ethdev_pci.h>

#include "vlog.h"
#include "vvu_port.h"

#define VVU_BURST 32
#define CTRL_BUDGET 32

struct vvu_eth;

struct vvu_queue {
	struct vvu_eth *e;
	struct rte_mempool *mp;		/* rx queues only */
};

struct vvu_eth {
	struct vvu_port port;
	rte_spinlock_t lock;		/* port state vs datapath */
	pthread_t ctrl;
	volatile bool ctrl_run;
	bool ctrl_started;
	struct vvu_queue rxq, txq;
	uint16_t port_id;
	uint64_t ipackets, ibytes, opackets, obytes, oerrors, imissed;
	uint64_t kick_wakeups;		/* control thread woken by a kick vector */
	struct sw_frame frames[VVU_BURST];
	struct sw_frame out;
};

/* ---- control thread: messages and life cycle, sleeping on vectors ---- */

static void *ctrl_main(void *arg)
{
	struct vvu_eth *e = arg;
	struct pollfd pfd[8];
	int fds[8];
	unsigned int n;

	while (e->ctrl_run) {
		n = vvu_port_fds(&e->port, fds, 8);
		for (unsigned int i = 0; i < n; i++)
			pfd[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (e->port.tp.use_kick_vectors) {
			/* Spec 4.2: ask for kicks, then sleep on their vectors. */
			rte_spinlock_lock(&e->lock);
			vu_net_set_kicks(&e->port.net, true);
			rte_spinlock_unlock(&e->lock);
		}
		/* Without vectors, or to catch a missed edge: 10 ms at most. */
		(void)poll(pfd, n, 10);
		for (unsigned int i = 2; i < n; i++) {
			/* fds[0..1] are config and rxq; the rest kick vectors. */
			if ((pfd[i].revents & POLLIN) && vvu_pci_fd_take(fds[i]) &&
			    e->kick_wakeups++ == 0)
				vlog_info("%s: first kick interrupt", e->port.name);
		}
		/*
		 * One budget per hold of the lock: the datapath spins on it in
		 * tx_burst, so it is never held across more than a bounded
		 * batch, and vvu_port_service() itself never waits (a full
		 * txq queues the reply for the next pass).
		 */
		for (;;) {
			unsigned int done;

			rte_spinlock_lock(&e->lock);
			done = vvu_port_service(&e->port, CTRL_BUDGET);
			rte_spinlock_unlock(&e->lock);
			if (done < CTRL_BUDGET)
				break;
		}
	}
	return NULL;
}

/* ---- datapath ---- */

static uint16_t vvu_rx_burst(void *q, struct rte_mbuf **pkts, uint16_t n)
{
	struct vvu_queue *vq = q;
	struct vvu_eth *e = vq->e;
	unsigned int got, out = 0;

	if (n > VVU_BURST)
		n = VVU_BURST;
	if (!rte_spinlock_trylock(&e->lock))
		return 0;
	/* Serve messages here too: a busy datapath answers them sooner. */
	vvu_port_service(&e->port, 4);
	got = vu_net_port_ops.recv(&e->port.net, e->frames, n);
	for (unsigned int i = 0; i < got; i++) {
		const struct sw_frame *f = &e->frames[i];
		struct rte_mbuf *m = rte_pktmbuf_alloc(vq->mp);
		uint8_t *dst;

		if (!m || rte_pktmbuf_tailroom(m) < f->len) {
			rte_pktmbuf_free(m);
			e->imissed++;
			continue;
		}
		dst = rte_pktmbuf_mtod(m, uint8_t *);
		for (unsigned int s = 0; s < f->nseg; s++) {
			memcpy(dst, f->seg[s].base, f->seg[s].len);
			dst += f->seg[s].len;
		}
		m->data_len = (uint16_t)f->len;
		m->pkt_len = f->len;
		m->port = e->port_id;
		e->ibytes += f->len;
		pkts[out++] = m;
	}
	if (got)
		vu_net_port_ops.recv_done(&e->port.net);
	e->ipackets += out;
	rte_spinlock_unlock(&e->lock);
	return (uint16_t)out;
}

/* An sw_frame over m's segments; false when it has too many. */
static bool frame_of(struct sw_frame *f, const struct rte_mbuf *m)
{
	unsigned int s = 0;
	uint32_t len = 0;

	for (const struct rte_mbuf *seg = m; seg; seg = seg->next) {
		if (s == SW_FRAME_MAX_SEGS)
			return false;
		f->seg[s].base = rte_pktmbuf_mtod(seg, const uint8_t *);
		f->seg[s].len = seg->data_len;
		len += seg->data_len;
		s++;
	}
	f->nseg = (uint16_t)s;
	f->len = len;
	if (len < SW_ETH_HLEN)
		return false;
	return rte_pktmbuf_read(m, 0, SW_ETH_HLEN, f->eth) == f->eth ||
	       (memcpy(f->eth, rte_pktmbuf_mtod(m, const uint8_t *), SW_ETH_HLEN), true);
}

static uint16_t vvu_tx_burst(void *q, struct rte_mbuf **pkts, uint16_t n)
{
	struct vvu_queue *vq = q;
	struct vvu_eth *e = vq->e;
	uint16_t i;

	/*
	 * Wait for the control thread rather than drop: it holds the lock
	 * only for one bounded batch of messages, never across a wait (the
	 * memory table may change under a message).
	 */
	rte_spinlock_lock(&e->lock);
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		int rc = -EMSGSIZE;

		if (frame_of(&e->out, m))
			rc = vu_net_port_ops.send(&e->port.net, &e->out);
		if (rc == -ENOBUFS)
			break;		/* the caller keeps the rest */
		if (rc == 0) {
			e->opackets++;
			e->obytes += m->pkt_len;
		} else {
			e->oerrors++;	/* can never go: dropped */
		}
		rte_pktmbuf_free(m);
	}
	vu_net_port_ops.flush(&e->port.net);
	rte_spinlock_unlock(&e->lock);
	return i;
}

/* ---- ethdev ops ---- */

static int vvu_configure(struct rte_eth_dev *dev)
{
	(void)dev;
	return 0;
}

static int vvu_link_update(struct rte_eth_dev *dev, int wait)
{
	struct vvu_eth *e = dev->data->dev_private;
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_10G,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
	};

	(void)wait;
	link.link_status = dev->data->dev_started &&
			   vu_net_running(&e->port.net);
	return rte_eth_linkstatus_set(dev, &link);
}

static int vvu_start(struct rte_eth_dev *dev)
{
	struct vvu_eth *e = dev->data->dev_private;
	char name[RTE_MAX_THREAD_NAME_LEN];

	if (!e->ctrl_started) {
		snprintf(name, sizeof(name), "vvu-c%u", dev->data->port_id);
		e->ctrl_run = true;
		if (rte_ctrl_thread_create(&e->ctrl, name, NULL, ctrl_main, e)) {
			e->ctrl_run = false;
			return -EAGAIN;
		}
		e->ctrl_started = true;
	}
	dev->data->rx_queue_state[0] = RTE_ETH_QUEUE_STATE_STARTED;
	dev->data->tx_queue_state[0] = RTE_ETH_QUEUE_STATE_STARTED;
	return 0;
}

static void stop_ctrl(struct vvu_eth *e)
{
	if (e->ctrl_started) {
		e->ctrl_run = false;
		pthread_join(e->ctrl, NULL);
		e->ctrl_started = false;
	}
}

static int vvu_stop(struct rte_eth_dev *dev)
{
	/*
	 * The control thread keeps serving messages: a stopped port still
	 * answers its frontend, it only stops forwarding.
	 */
	dev->data->rx_queue_state[0] = RTE_ETH_QUEUE_STATE_STOPPED;
	dev->data->tx_queue_state[0] = RTE_ETH_QUEUE_STATE_STOPPED;
	return 0;
}

static int vvu_close(struct rte_eth_dev *dev)
{
	struct vvu_eth *e = dev->data->dev_private;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return 0;
	stop_ctrl(e);
	vvu_port_close(&e->port);
	return 0;
}

static int vvu_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	(void)dev;
	info->max_rx_queues = 1;
	info->max_tx_queues = 1;
	info->max_rx_pktlen = VNET_MAX_FRAME;
	info->min_rx_bufsize = 64;
	info->max_mac_addrs = 1;
	info->max_mtu = VNET_MAX_FRAME - RTE_ETHER_HDR_LEN;
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	return 0;
}

static int vvu_rxq_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb,
			 unsigned int socket, const struct rte_eth_rxconf *conf,
			 struct rte_mempool *mp)
{
	struct vvu_eth *e = dev->data->dev_private;

	(void)nb; (void)socket; (void)conf;
	if (qid != 0)
		return -EINVAL;
	e->rxq.e = e;
	e->rxq.mp = mp;
	dev->data->rx_queues[0] = &e->rxq;
	return 0;
}

static int vvu_txq_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb,
			 unsigned int socket, const struct rte_eth_txconf *conf)
{
	struct vvu_eth *e = dev->data->dev_private;

	(void)nb; (void)socket; (void)conf;
	if (qid != 0)
		return -EINVAL;
	e->txq.e = e;
	dev->data->tx_queues[0] = &e->txq;
	return 0;
}

static void vvu_queue_release(struct rte_eth_dev *dev, uint16_t qid)
{
	(void)dev; (void)qid;
}

static int vvu_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *st)
{
	struct vvu_eth *e = dev->data->dev_private;

	st->ipackets = e->ipackets;
	st->ibytes = e->ibytes;
	st->opackets = e->opackets;
	st->obytes = e->obytes;
	st->oerrors = e->oerrors;
	st->imissed = e->imissed;
	return 0;
}

static int vvu_stats_reset(struct rte_eth_dev *dev)
{
	struct vvu_eth *e = dev->data->dev_private;

	e->ipackets = e->ibytes = e->opackets = e->obytes = 0;
	e->oerrors = e->imissed = 0;
	return 0;
}

static int vvu_promisc(struct rte_eth_dev *dev)
{
	(void)dev;
	return 0;	/* we deliver every frame anyway */
}

static const struct eth_dev_ops vvu_eth_ops = {
	.dev_configure = vvu_configure,
	.dev_start = vvu_start,
	.dev_stop = vvu_stop,
	.dev_close = vvu_close,
	.dev_infos_get = vvu_infos_get,
	.link_update = vvu_link_update,
	.rx_queue_setup = vvu_rxq_setup,
	.tx_queue_setup = vvu_txq_setup,
	.rx_queue_release = vvu_queue_release,
	.tx_queue_release = vvu_queue_release,
	.stats_get = vvu_stats_get,
	.stats_reset = vvu_stats_reset,
	.promiscuous_enable = vvu_promisc,
	.promiscuous_disable = vvu_promisc,
	.allmulticast_enable = vvu_promisc,
	.allmulticast_disable = vvu_promisc,
};

/* ---- probe and remove ---- */

static int kv_bool(const char *key, const char *value, void *out)
{
	(void)key;
	*(bool *)out = value && strcmp(value, "0") != 0;
	return 0;
}

/* Devarg kick_vectors=1: sleep on the peer's kicks (spec 4.2), else poll. */
static bool kick_vectors_arg(const struct rte_pci_device *pdev)
{
	static const char *const keys[] = { "kick_vectors", NULL };
	struct rte_devargs *da = pdev->device.devargs;
	struct rte_kvargs *kv;
	bool on = false;

	if (!da || !da->args || !da->args[0])
		return false;
	kv = rte_kvargs_parse(da->args, keys);
	if (!kv) {
		vlog_warn("%s: unknown device arguments \"%s\" ignored",
			  pdev->name, da->args);
		return false;
	}
	rte_kvargs_process(kv, "kick_vectors", kv_bool, &on);
	rte_kvargs_free(kv);
	return on;
}

static int vvu_eth_init(struct rte_eth_dev *dev)
{
	struct vvu_eth *e = dev->data->dev_private;
	struct rte_pci_device *pdev = RTE_ETH_DEV_TO_PCI(dev);
	char name[32];
	int rc;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY)
		return -ENOTSUP;
	snprintf(name, sizeof(name), "vvu-%s", pdev->name);
	rte_spinlock_init(&e->lock);
	rc = vvu_port_open(&e->port, pdev, name, 1, kick_vectors_arg(pdev));
	if (rc) {
		vlog_err("%s: cannot open: %s", name, e->port.last_error);
		return rc;
	}
	/* mbufs here carry no offload flags: peers checksum and segment. */
	vu_net_no_offloads(&e->port.net);
	/* ethdev frees mac_addrs with rte_free() when the port is released. */
	dev->data->mac_addrs = rte_zmalloc("vvu_mac", RTE_ETHER_ADDR_LEN, 0);
	if (!dev->data->mac_addrs) {
		vvu_port_close(&e->port);
		return -ENOMEM;
	}
	/* A locally administered MAC from the PCI address. */
	*dev->data->mac_addrs = (struct rte_ether_addr){ { 0x02, 0x76,
		(uint8_t)pdev->addr.domain, (uint8_t)pdev->addr.bus,
		pdev->addr.devid, pdev->addr.function } };
	e->port_id = dev->data->port_id;
	dev->dev_ops = &vvu_eth_ops;
	dev->rx_pkt_burst = vvu_rx_burst;
	dev->tx_pkt_burst = vvu_tx_burst;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS;
	return 0;
}

static int vvu_eth_uninit(struct rte_eth_dev *dev)
{
	struct vvu_eth *e = dev->data->dev_private;

	stop_ctrl(e);
	vvu_port_close(&e->port);
	return 0;
}

static int vvu_probe(struct rte_pci_driver *drv, struct rte_pci_device *pdev)
{
	char want[64];

	(void)drv;
	snprintf(want, sizeof(want), "DPDK %s", VVU_SDK_VERSION);
	if (strcmp(rte_version(), want) != 0) {
		vlog_err("net_vvu: built with %s headers, running on %s: refusing",
			 want, rte_version());
		return -ENOTSUP;
	}
	return rte_eth_dev_pci_generic_probe(pdev, sizeof(struct vvu_eth),
					     vvu_eth_init);
}

static int vvu_remove(struct rte_pci_device *pdev)
{
	return rte_eth_dev_pci_generic_remove(pdev, vvu_eth_uninit);
}

static const struct rte_pci_id vvu_pci_ids[] = {
	{ RTE_PCI_DEVICE(VVU_PCI_VENDOR, VVU_PCI_DEVICE) },
	{ .vendor_id = 0 },
};

static struct rte_pci_driver vvu_pci_driver = {
	.id_table = vvu_pci_ids,
	.drv_flags = RTE_PCI_DRV_NEED_MAPPING,
	.probe = vvu_probe,
	.remove = vvu_remove,
};

RTE_PMD_REGISTER_PCI(net_vvu, vvu_pci_driver);
RTE_PMD_REGISTER_PCI_TABLE(net_vvu, vvu_pci_ids);
RTE_PMD_REGISTER_KMOD_DEP(net_vvu, "vfio-pci");
RTE_PMD_REGISTER_PARAM_STRING(net_vvu, "kick_vectors=<0|1>");
