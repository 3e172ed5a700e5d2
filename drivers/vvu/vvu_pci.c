/* SPDX-License-Identifier: MIT */
/*
 * vvu_pci: modern virtio-pci driver for the virtio-vhost-user device on
 * DPDK's PCI bus (vfio-pci behind a virtual IOMMU).
 *
 * Security model: the device model (QEMU) is semi-trusted.  Capabilities
 * are read from config space once, and a window is used only when it lies
 * wholly inside a BAR DPDK mapped; queue sizes, vector numbers and config
 * values are range-checked; a device that misbehaves gets its port marked
 * broken with a log line, never an abort.  Message contents are the
 * frontend's and go through vvu_msg and vu_dev.
 */
#include "vvu_pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_bus_pci.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_interrupts.h>
#include <rte_memzone.h>
#include <bus_pci_driver.h>

#include "vlog.h"

/* virtio 1.2, 4.1.4: capability types. */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
/* docs/virtio-vhost-user.md 4. */
#define CAP_DOORBELL 6
#define CAP_NOTIFICATION 7
#define CAP_SHM 8

/* virtio 1.2, 4.1.4.3: struct virtio_pci_common_cfg. */
#define CC_DFSELECT 0x00
#define CC_DF 0x04
#define CC_GFSELECT 0x08
#define CC_GF 0x0c
#define CC_MSIX 0x10
#define CC_NUMQ 0x12
#define CC_STATUS 0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE 0x18
#define CC_Q_MSIX 0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF 0x1e
#define CC_Q_DESCLO 0x20
#define CC_Q_AVAILLO 0x28
#define CC_Q_USEDLO 0x30
#define CC_LEN 0x38

#define ST_ACK 1u
#define ST_DRIVER 2u
#define ST_DRIVER_OK 4u
#define ST_FEATURES_OK 8u
#define ST_NEEDS_RESET 0x40u
#define ST_FAILED 0x80u

#define F_VERSION_1 32
#define F_ACCESS_PLATFORM 33

#define BUF_STRIDE ((size_t)4224)		/* >= VVU_RXBUF_SIZE, 64-byte multiple */

static void set_err(struct vvu_pci *p, const char *what)
{
	snprintf(p->last_error, sizeof(p->last_error), "%s", what);
	vlog_err("%s: %s", p->name, what);
}

/* ---- register access ---- */

static inline uint8_t rd8(volatile uint8_t *b, size_t o) { return b[o]; }
static inline uint16_t rd16(volatile uint8_t *b, size_t o)
{
	return *(volatile uint16_t *)(volatile void *)(b + o);
}
static inline uint32_t rd32(volatile uint8_t *b, size_t o)
{
	return *(volatile uint32_t *)(volatile void *)(b + o);
}
static inline void wr8(volatile uint8_t *b, size_t o, uint8_t v) { b[o] = v; }
static inline void wr16(volatile uint8_t *b, size_t o, uint16_t v)
{
	*(volatile uint16_t *)(volatile void *)(b + o) = v;
}
static inline void wr32(volatile uint8_t *b, size_t o, uint32_t v)
{
	*(volatile uint32_t *)(volatile void *)(b + o) = v;
}
static void wr64(volatile uint8_t *b, size_t o, uint64_t v)
{
	wr32(b, o, (uint32_t)v);
	wr32(b, o + 4, (uint32_t)(v >> 32));
}

/* ---- capabilities ---- */

struct cap {
	uint64_t offset, length;
	uint32_t extra;		/* notify/doorbell multiplier */
	uint8_t cfg_type, bar, id, len;
};

/* A window [offset, offset + length) inside a mapped BAR, or NULL. */
static volatile uint8_t *window(struct vvu_pci *p, const struct cap *c,
				uint64_t min_len)
{
	const struct rte_mem_resource *r;

	if (c->bar >= PCI_MAX_RESOURCE)
		return NULL;
	r = &p->pdev->mem_resource[c->bar];
	if (!r->addr || c->length < min_len || c->offset > r->len ||
	    c->length > r->len - c->offset)
		return NULL;
	return (volatile uint8_t *)r->addr + c->offset;
}

static int read_cfg(struct vvu_pci *p, void *buf, size_t len, off_t off)
{
	int rc = rte_pci_read_config(p->pdev, buf, len, off);

	return rc == (int)len ? 0 : -EIO;
}

static int read_caps(struct vvu_pci *p, struct cap *caps, unsigned int *msix_n)
{
	uint8_t pos, raw[24];
	uint16_t status;
	unsigned int guard;

	memset(caps, 0, 10 * sizeof(*caps));
	*msix_n = 0;
	if (read_cfg(p, &status, 2, 0x06) || !(status & 0x10))
		return -ENODEV;
	if (read_cfg(p, &pos, 1, 0x34))
		return -EIO;
	/* A capability list has at most 48 entries in 256 bytes. */
	for (guard = 0; pos >= 0x40 && guard < 48; guard++) {
		if (read_cfg(p, raw, 2, pos & 0xfc))
			return -EIO;
		if (raw[0] == 0x11) {		/* MSI-X: table size */
			uint16_t ctrl;

			if (read_cfg(p, &ctrl, 2, (pos & 0xfc) + 2) == 0)
				*msix_n = (ctrl & 0x7ffu) + 1;
		} else if (raw[0] == 0x09 && (pos & 0xfc) <= 256 - 24) {
			struct cap c = {0};
			uint32_t o, l, hi[2] = {0, 0};

			if (read_cfg(p, raw, sizeof(raw), pos & 0xfc))
				return -EIO;
			c.len = raw[2];
			c.cfg_type = raw[3];
			c.bar = raw[4];
			c.id = raw[5];
			memcpy(&o, raw + 8, 4);
			memcpy(&l, raw + 12, 4);
			c.offset = o;
			c.length = l;
			if (c.len >= 20)
				memcpy(&c.extra, raw + 16, 4);
			if (c.cfg_type == CAP_SHM && c.len >= 24) {
				memcpy(hi, raw + 16, 8);
				c.offset |= (uint64_t)hi[0] << 32;
				c.length |= (uint64_t)hi[1] << 32;
			}
			/* The first of each type wins (virtio 1.2, 4.1.4). */
			if (c.cfg_type < 10 && !caps[c.cfg_type].len && c.len >= 16 &&
			    (c.cfg_type != CAP_SHM || (c.id == 0 && c.len >= 24)))
				caps[c.cfg_type] = c;
		}
		pos = raw[1];
	}
	return 0;
}

static int map_caps(struct vvu_pci *p, unsigned int *msix_n)
{
	struct cap caps[10];
	volatile uint8_t *w;

	if (read_caps(p, caps, msix_n)) {
		set_err(p, "cannot read the PCI capability list");
		return -EIO;
	}
	p->common = window(p, &caps[CAP_COMMON], CC_LEN);
	p->isr = window(p, &caps[CAP_ISR], 1);
	p->devcfg = window(p, &caps[CAP_DEVICE], VVU_CFG_SIZE);
	p->notify = window(p, &caps[CAP_NOTIFY], 2);
	p->notify_len = (uint32_t)caps[CAP_NOTIFY].length;
	p->notify_mult = caps[CAP_NOTIFY].len >= 20 ? caps[CAP_NOTIFY].extra : 0;
	p->devcfg_len = (uint32_t)caps[CAP_DEVICE].length;
	if (!p->common || !p->devcfg || !p->notify) {
		set_err(p, "common, device or notify window missing or outside its BAR");
		return -ENODEV;
	}
	w = window(p, &caps[CAP_DOORBELL], 4);
	if (!w || caps[CAP_DOORBELL].len < 20 || caps[CAP_DOORBELL].extra < 4 ||
	    (caps[CAP_DOORBELL].extra & 3)) {
		set_err(p, "DOORBELL capability missing, bad, or outside its BAR");
		return -ENODEV;
	}
	p->hw.doorbell = w;
	p->hw.doorbell_mult = caps[CAP_DOORBELL].extra;
	/* Doorbell d is 4 bytes at d * mult: count those wholly inside. */
	p->hw.n_doorbells = (uint32_t)((caps[CAP_DOORBELL].length - 4) /
				       caps[CAP_DOORBELL].extra + 1);
	p->hw.notif = window(p, &caps[CAP_NOTIFICATION], 4);
	w = window(p, &caps[CAP_SHM], 1);
	if (!w) {
		set_err(p, "SHARED_MEMORY capability missing or outside its BAR");
		return -ENODEV;
	}
	p->hw.shm = (uint8_t *)(uintptr_t)w;
	p->hw.shm_len = caps[CAP_SHM].length;
	return 0;
}

/* ---- device status and features ---- */

static uint8_t dev_status(struct vvu_pci *p)
{
	return rd8(p->common, CC_STATUS);
}

static int dev_reset(struct vvu_pci *p)
{
	wr8(p->common, CC_STATUS, 0);
	/* virtio 1.2, 4.1.4.3.2: wait for 0 to read back, bounded. */
	for (int i = 0; i < 10000; i++) {
		if (dev_status(p) == 0)
			return 0;
		rte_delay_us_sleep(100);
	}
	return -ETIMEDOUT;
}

static int negotiate(struct vvu_pci *p)
{
	uint64_t offered, want;

	wr32(p->common, CC_DFSELECT, 0);
	offered = rd32(p->common, CC_DF);
	wr32(p->common, CC_DFSELECT, 1);
	offered |= (uint64_t)rd32(p->common, CC_DF) << 32;
	if (!((offered >> F_VERSION_1) & 1)) {
		set_err(p, "device does not offer VIRTIO_F_VERSION_1");
		return -ENOTSUP;
	}
	want = 1ull << F_VERSION_1;
	/* Logs in BAR 2 (spec 6.4): we map them, so migration can be offered. */
	if ((offered >> VVU_F_LOG_WINDOW) & 1 && p->devcfg_len >= VVU_CFG_LOG_END)
		want |= 1ull << VVU_F_LOG_WINDOW;
	if ((offered >> F_ACCESS_PLATFORM) & 1)
		want |= 1ull << F_ACCESS_PLATFORM;
	else if (rte_eal_iova_mode() != RTE_IOVA_PA)
		vlog_warn("%s: device bypasses the IOMMU but IOVAs are not physical addresses: use --iova-mode=pa",
			  p->name);
	wr32(p->common, CC_GFSELECT, 0);
	wr32(p->common, CC_GF, (uint32_t)want);
	wr32(p->common, CC_GFSELECT, 1);
	wr32(p->common, CC_GF, (uint32_t)(want >> 32));
	wr8(p->common, CC_STATUS, dev_status(p) | ST_FEATURES_OK);
	if (!(dev_status(p) & ST_FEATURES_OK)) {
		set_err(p, "device refused FEATURES_OK");
		return -ENOTSUP;
	}
	p->features = want;
	if ((want >> VVU_F_LOG_WINDOW) & 1)
		p->hw.log_cfg = p->devcfg + VVU_CFG_LOG_GEN;
	return 0;
}

static int read_devcfg(struct vvu_pci *p)
{
	uint32_t mvq = rd32(p->devcfg, VVU_CFG_MAX_VHOST_QUEUES);
	uint32_t mms = rd32(p->devcfg, VVU_CFG_MAX_MSG_SIZE);

	for (int i = 0; i < 16; i++)
		p->uuid[i] = rd8(p->devcfg, VVU_CFG_UUID + (size_t)i);
	p->max_mem_slots = rd32(p->devcfg, VVU_CFG_MAX_MEM_SLOTS);
	if (mvq < 1 || mvq > 256) {
		set_err(p, "max_vhost_queues out of 1..256");
		return -EINVAL;
	}
	/* Our rxq buffers hold 12 + 4096; smaller limits are fine. */
	if (mms < 8 || mms > VVU_SPEC_MAX_MSG) {
		set_err(p, "max_msg_size out of 8..4096");
		return -EINVAL;
	}
	p->hw.max_vhost_queues = mvq;
	p->hw.max_msg_size = mms;
	return 0;
}

/* ---- MSI-X through vfio ---- */

static void setup_vectors(struct vvu_pci *p, unsigned int table)
{
	struct rte_intr_handle *ih = p->pdev->intr_handle;
	unsigned int want = VVU_VEC_FIRST_KICK + p->hw.max_vhost_queues;
	unsigned int n = table < want ? table : want;

	p->msix = false;
	p->hw.n_vectors = 0;
	p->hw.first_kick_vector = VVU_VEC_FIRST_KICK;
	if (!ih || rte_intr_type_get(ih) != RTE_INTR_HANDLE_VFIO_MSIX || n < 2) {
		vlog_info("%s: no MSI-X through vfio: polling", p->name);
		return;
	}
	if (rte_intr_efd_enable(ih, n - 1) || rte_intr_enable(ih)) {
		vlog_warn("%s: cannot enable %u MSI-X vectors: polling", p->name, n);
		rte_intr_efd_disable(ih);
		return;
	}
	p->msix = true;
	p->hw.n_vectors = (uint16_t)n;
	wr16(p->common, CC_MSIX, VVU_VEC_CONFIG);
	if (rd16(p->common, CC_MSIX) != VVU_VEC_CONFIG)
		vlog_warn("%s: config vector not accepted: polling status", p->name);
}

int vvu_pci_vector_fd(const struct vvu_pci *p, unsigned int v)
{
	struct rte_intr_handle *ih = p->pdev ? p->pdev->intr_handle : NULL;

	if (!p->msix || !ih || v >= p->hw.n_vectors)
		return -1;
	if (v == 0)
		return rte_intr_fd_get(ih);
	return rte_intr_efds_index_get(ih, (int)v - 1);
}

bool vvu_pci_fd_take(int fd)
{
	uint64_t n;

	return fd >= 0 && read(fd, &n, sizeof(n)) == (ssize_t)sizeof(n);
}

/* ---- queues ---- */

static volatile uint16_t *queue_notify(struct vvu_pci *p)
{
	uint64_t off = (uint64_t)rd16(p->common, CC_Q_NOFF) * p->notify_mult;

	if (off > p->notify_len || p->notify_len - off < 2)
		return NULL;
	return (volatile uint16_t *)(volatile void *)(p->notify + off);
}

static int setup_queue(struct vvu_pci *p, uint16_t idx, struct vvu_ring *r,
		       uint8_t *mem, uint64_t iova, uint16_t vector,
		       volatile uint16_t **notify)
{
	uint16_t max, size = VVU_QSIZE;

	wr16(p->common, CC_Q_SELECT, idx);
	max = rd16(p->common, CC_Q_SIZE);
	if (max == 0) {
		set_err(p, "message queue missing");
		return -ENODEV;
	}
	while (size > max)
		size /= 2;
	if (size == 0 || vvu_ring_init(r, size, mem, iova)) {
		set_err(p, "message queue size unusable");
		return -EINVAL;
	}
	wr16(p->common, CC_Q_SIZE, size);
	wr64(p->common, CC_Q_DESCLO, r->desc_iova);
	wr64(p->common, CC_Q_AVAILLO, r->avail_iova);
	wr64(p->common, CC_Q_USEDLO, r->used_iova);
	if (p->msix) {
		wr16(p->common, CC_Q_MSIX, vector);
		if (rd16(p->common, CC_Q_MSIX) != vector)
			vlog_warn("%s: queue %u: vector %u not accepted", p->name,
				  idx, vector);
	} else {
		wr16(p->common, CC_Q_MSIX, VVU_NO_VECTOR);
	}
	*notify = queue_notify(p);
	if (!*notify) {
		set_err(p, "queue notify address outside the notify window");
		return -EINVAL;
	}
	wr16(p->common, CC_Q_ENABLE, 1);
	return 0;
}

static void kick(struct vvu_ring *r, volatile uint16_t *notify, uint16_t idx)
{
	if (vvu_ring_kick_needed(r)) {
		*notify = idx;
		r->kicks++;
	}
}

static void post_rx(struct vvu_pci *p, unsigned int slot)
{
	/* The ring has a free entry for every slot it gave back. */
	if (vvu_ring_add(&p->rxq, p->rxbuf_iova + (uint64_t)slot * BUF_STRIDE,
			 VVU_RXBUF_SIZE, true, (void *)(uintptr_t)(slot + 1)))
		vlog_warn("%s: cannot re-post rxq buffer %u", p->name, slot);
}

int vvu_pci_init(struct vvu_pci *p, struct rte_pci_device *pdev)
{
	size_t ring_bytes = vvu_ring_mem_size(VVU_QSIZE);
	char mzname[RTE_MEMZONE_NAMESIZE];
	unsigned int table;
	uint8_t *base;
	int rc;

	memset(p, 0, sizeof(*p));
	p->pdev = pdev;
	rte_pci_device_name(&pdev->addr, p->name, sizeof(p->name));
	rc = map_caps(p, &table);
	if (rc)
		return rc;
	if (dev_reset(p)) {
		set_err(p, "device does not come out of reset");
		return -ETIMEDOUT;
	}
	wr8(p->common, CC_STATUS, ST_ACK);
	wr8(p->common, CC_STATUS, ST_ACK | ST_DRIVER);
	rc = negotiate(p);
	if (rc == 0)
		rc = read_devcfg(p);
	if (rc == 0 && rd16(p->common, CC_NUMQ) < 2) {
		set_err(p, "device has fewer than two virtqueues");
		rc = -ENODEV;
	}
	if (rc)
		goto fail;
	snprintf(mzname, sizeof(mzname), "vvu_%.26s", p->name);
	p->mz = rte_memzone_reserve_aligned(mzname,
					    2 * ring_bytes + BUF_STRIDE * VVU_QSIZE * 2,
					    SOCKET_ID_ANY, RTE_MEMZONE_IOVA_CONTIG,
					    4096);
	if (!p->mz) {
		set_err(p, "cannot reserve DMA memory for the message queues");
		rc = -ENOMEM;
		goto fail;
	}
	base = p->mz->addr;
	memset(base, 0, p->mz->len);
	p->rxbuf = base + 2 * ring_bytes;
	p->rxbuf_iova = p->mz->iova + 2 * ring_bytes;
	p->txbuf = p->rxbuf + VVU_QSIZE * BUF_STRIDE;
	p->txbuf_iova = p->rxbuf_iova + VVU_QSIZE * BUF_STRIDE;
	setup_vectors(p, table);
	rc = setup_queue(p, 0, &p->rxq, base, p->mz->iova, VVU_VEC_RXQ,
			 &p->rxq_notify);
	if (rc == 0)
		rc = setup_queue(p, 1, &p->txq, base + ring_bytes,
				 p->mz->iova + ring_bytes, VVU_VEC_TXQ,
				 &p->txq_notify);
	if (rc)
		goto fail;
	/* txq completions are polled; rxq raises its vector when we sleep. */
	vvu_ring_set_interrupts(&p->txq, false);
	for (unsigned int i = 0; i < p->rxq.size; i++)
		post_rx(p, i);
	wr8(p->common, CC_STATUS, dev_status(p) | ST_DRIVER_OK);
	kick(&p->rxq, p->rxq_notify, 0);
	vlog_info("%s: virtio-vhost-user up: %u vhost queues, %llu MiB shared memory, %u doorbells, %s",
		  p->name, p->hw.max_vhost_queues,
		  (unsigned long long)(p->hw.shm_len >> 20), p->hw.n_doorbells,
		  p->msix ? "MSI-X" : "polling");
	return 0;
fail:
	vvu_pci_fini(p);
	return rc;
}

void vvu_pci_fini(struct vvu_pci *p)
{
	if (p->common) {
		wr8(p->common, CC_STATUS, ST_FAILED);
		(void)dev_reset(p);
	}
	if (p->msix && p->pdev->intr_handle) {
		rte_intr_disable(p->pdev->intr_handle);
		rte_intr_efd_disable(p->pdev->intr_handle);
	}
	p->msix = false;
	vvu_backlog_free(&p->backlog);
	p->tx_overflow = false;
	if (p->mz)
		rte_memzone_free(p->mz);
	p->mz = NULL;
	p->rxq.size = p->txq.size = 0;
}

uint32_t vvu_pci_status(const struct vvu_pci *p)
{
	return rd32(p->devcfg, VVU_CFG_STATUS);
}

void vvu_pci_set_status(struct vvu_pci *p, uint32_t v)
{
	wr32(p->devcfg, VVU_CFG_STATUS, v);
}

bool vvu_pci_frontend_gen(const struct vvu_pci *p, uint32_t *gen)
{
	if (p->devcfg_len < VVU_CFG_EXT_SIZE)
		return false;
	*gen = rd32(p->devcfg, VVU_CFG_FRONTEND_GEN);
	return true;
}

uint32_t vvu_pci_refusals(const struct vvu_pci *p, char *why, size_t n)
{
	uint32_t count = 0, again;

	if (n)
		why[0] = '\0';
	if (p->devcfg_len < VVU_CFG_EXT_SIZE || n == 0)
		return 0;
	/* The text can change under us: read until the count holds still. */
	for (int tries = 0; tries < 4; tries++) {
		size_t i;

		count = rd32(p->devcfg, VVU_CFG_REFUSALS);
		for (i = 0; i < n - 1 && i < VVU_CFG_REASON_LEN; i++) {
			uint8_t ch = rd8(p->devcfg, VVU_CFG_REASON + i);

			if (ch == 0)
				break;
			why[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		why[i] = '\0';
		again = rd32(p->devcfg, VVU_CFG_REFUSALS);
		if (again == count)
			break;
	}
	return count;
}

bool vvu_pci_needs_reset(const struct vvu_pci *p)
{
	uint8_t s = rd8(p->common, CC_STATUS);

	return (s & ST_NEEDS_RESET) || !(s & ST_DRIVER_OK);
}

int vvu_pci_recv(struct vvu_pci *p, struct vu_msg *m, size_t *len,
		 enum vvu_msg_kind *kind)
{
	void *cookie;
	uint32_t used;
	uintptr_t slot;
	int rc = vvu_ring_get_used(&p->rxq, &cookie, &used);

	if (rc <= 0)
		return rc;
	slot = (uintptr_t)cookie - 1;
	if (slot >= VVU_QSIZE)
		return -EIO;	/* cannot happen: cookies are ours */
	rc = vvu_msg_parse(p->rxbuf + slot * BUF_STRIDE, VVU_RXBUF_SIZE, used,
			   p->hw.max_msg_size, m, len, kind);
	post_rx(p, (unsigned int)slot);
	kick(&p->rxq, p->rxq_notify, 0);
	if (rc) {
		p->rx_bad++;
		return rc;
	}
	p->rx_msgs++;
	return 1;
}

void vvu_pci_rx_drain(struct vvu_pci *p)
{
	void *cookie;
	uint32_t used;

	for (unsigned int i = 0; i < VVU_QSIZE; i++) {
		if (vvu_ring_get_used(&p->rxq, &cookie, &used) != 1)
			break;
		post_rx(p, (unsigned int)((uintptr_t)cookie - 1));
	}
	kick(&p->rxq, p->rxq_notify, 0);
}

static void tx_reclaim(struct vvu_pci *p)
{
	void *cookie;
	uint32_t len;

	while (vvu_ring_get_used(&p->txq, &cookie, &len) == 1) {
		uintptr_t slot = (uintptr_t)cookie - 1;

		if (slot < VVU_QSIZE)
			p->tx_busy[slot] = 0;
	}
}

/* A free txq buffer, or -1 when the device holds them all. */
static int tx_slot(struct vvu_pci *p)
{
	tx_reclaim(p);
	for (unsigned int slot = 0; slot < p->txq.size; slot++)
		if (!p->tx_busy[slot])
			return (int)slot;
	return -1;
}

/* Post the n framed bytes in txq buffer slot and notify the device. */
static int tx_post(struct vvu_pci *p, unsigned int slot, size_t n)
{
	if (vvu_ring_add(&p->txq, p->txbuf_iova + (uint64_t)slot * BUF_STRIDE,
			 (uint32_t)n, false, (void *)(uintptr_t)(slot + 1)))
		return -EIO;
	p->tx_busy[slot] = 1;
	p->tx_msgs++;
	kick(&p->txq, p->txq_notify, 1);
	return 0;
}

unsigned int vvu_pci_tx_flush(struct vvu_pci *p)
{
	const uint8_t *m;
	size_t len;
	int slot;

	while (!p->txq.broken && (m = vvu_backlog_peek(&p->backlog, &len)) &&
	       (slot = tx_slot(p)) >= 0) {
		memcpy(p->txbuf + (size_t)slot * BUF_STRIDE, m, len);
		if (tx_post(p, (unsigned int)slot, len))
			break;
		vvu_backlog_pop(&p->backlog);
	}
	return p->backlog.count;
}

void vvu_pci_tx_reset(struct vvu_pci *p)
{
	vvu_backlog_clear(&p->backlog);
	p->tx_overflow = false;
}

int vvu_pci_send(struct vvu_pci *p, const void *buf, size_t len,
		 bool backend_channel)
{
	int slot, n, rc;

	if (p->txq.broken)
		return -EIO;
	/* Behind what waits already: replies keep their order. */
	if (vvu_pci_tx_flush(p) == 0 && (slot = tx_slot(p)) >= 0) {
		n = vvu_msg_build(buf, len, p->hw.max_msg_size, backend_channel,
				  p->txbuf + (size_t)slot * BUF_STRIDE, BUF_STRIDE);
		if (n < 0)
			return n;
		return tx_post(p, (unsigned int)slot, (size_t)n);
	}
	/* QEMU returns txq buffers in the notify: a device that does not is slow or stuck. */
	rc = vvu_backlog_push(&p->backlog, buf, len, p->hw.max_msg_size,
			      backend_channel);
	if (rc == -ENOBUFS && !p->tx_overflow) {
		p->tx_overflow = true;
		snprintf(p->last_error, sizeof(p->last_error),
			 "the device took no txq buffer back for %u replies",
			 VVU_BACKLOG_MAX);
	}
	return rc;
}
