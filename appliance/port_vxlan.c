/* SPDX-License-Identifier: MIT */
/*
 * port_vxlan: the port kind "vxlan", a VXLAN tunnel (RFC 7348) to a list
 * of remote VTEPs over the host's UDP/IP stack, flood-and-learn like
 * Linux's vxlan device: a frame for a MAC learned behind one remote goes
 * to that remote, anything else (broadcast, multicast, unknown unicast)
 * is replicated to every remote (head-end replication).  One non-blocking
 * UDP socket bound to vxlan-local, read with recvmmsg and written with
 * sendmmsg from the poll loop; the kernel routes the datagrams over
 * whatever interface leads to the remotes.
 *
 * vxlan-vlans maps VLANs to VNIs, like a Linux bridge's per-VLAN tunnel
 * mapping (bridge vlan ... tunnel_info id VNI): the port is a trunk of
 * those VLANs to the switch, a frame of VLAN v leaves untagged in v's
 * VNI, a datagram in that VNI comes in tagged v (the tag written in
 * place, vxlan_tag_inner), and the port's own `vxlan` VNI carries its
 * untagged (native VLAN) frames.  The remote-MAC table is one for all
 * the port's VNIs: a MAC is expected behind one VTEP.
 *
 * Trust: datagrams are network input.  Only the remotes' addresses are
 * accepted (others are counted as vxlan_unknown_vtep), and vxlan_decap
 * (drivers/vxlan) checks the header and VNI before the inner frame goes
 * to the switch; every refusal is counted by reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "port_kinds.h"
#include "off.h"
#include "vlog.h"
#include "vxlan.h"

#define RETRY_NS 1000000000ull		/* a failed bind: again every second */
#define BUF_LEN 2048u			/* one datagram: header + 1500-MTU frame */
#define TX_BUFS 32u			/* frames waiting for sendmmsg */
#define TX_MSGS 128u			/* datagrams waiting (replicas included) */

struct port_vxlan {
	struct port base;	/* first: a struct port * is a struct port_vxlan * */
	struct vvu_port_cfg cfg;
	int fd;
	bool bound;
	bool dirty;
	uint64_t next_try_ns;
	struct sockaddr_in local;
	struct sockaddr_in remote[VXLAN_REMOTES_MAX];
	unsigned int nremote;
	struct vxlan_fdb fdb;
	char why[160];
	/* receive */
	struct mmsghdr rmsg[SW_BURST];
	struct iovec riov[SW_BURST];
	struct sockaddr_in rfrom[SW_BURST];
	uint8_t rbuf[SW_BURST][BUF_LEN];
	/* transmit */
	struct mmsghdr tmsg[TX_MSGS];
	struct iovec tiov[TX_BUFS];
	uint8_t tbuf[TX_BUFS][BUF_LEN];
	unsigned int ntbuf, ntmsg;
	/* counters */
	uint64_t drops[VXLAN_NVERDICTS];
	uint64_t rx_truncated, tx_too_big, tx_dropped, tx_replicas;
	struct off_stats ost;	/* offload work finished here */
	struct off_buf obuf;	/* its scratch frame */
	uint64_t tx_unmapped;	/* tagged with a VLAN vxlan-vlans does not map */
};

static struct port_vxlan *px(const struct port *p)
{
	return (struct port_vxlan *)(uintptr_t)p;
}

/* ---- the datapath: struct sw_port_ops ---- */

static int remote_of(const struct port_vxlan *x, const struct sockaddr_in *a)
{
	for (unsigned int i = 0; i < x->nremote; i++)
		if (x->remote[i].sin_addr.s_addr == a->sin_addr.s_addr)
			return (int)i;
	return -1;
}

/*
 * Check datagram buf (*len bytes) and find its inner frame: at *off, *len
 * bytes.  The port's own VNI: the frame as sent.  A VNI of vxlan-vlans:
 * the frame tagged with its VLAN, in place.
 */
static enum vxlan_verdict decap(const struct port_vxlan *x, uint8_t *buf,
				size_t *len, size_t *off)
{
	enum vxlan_verdict v;
	uint32_t vni = 0;

	if (!x->cfg.nvxlan_vlans)
		v = vxlan_decap(buf, *len, x->cfg.vni);
	else
		v = vxlan_decap_vni(buf, *len, &vni);
	if (v != VXLAN_OK)
		return v;
	*off = VXLAN_HLEN;
	*len -= VXLAN_HLEN;
	if (!x->cfg.nvxlan_vlans || vni == x->cfg.vni)
		return VXLAN_OK;
	for (unsigned int i = 0; i < x->cfg.nvxlan_vlans; i++) {
		if (x->cfg.vxlan_vlans[i].vni == vni) {
			vxlan_tag_inner(buf, x->cfg.vxlan_vlans[i].vid);
			*off -= 4;
			*len += 4;
			return VXLAN_OK;
		}
	}
	return VXLAN_BAD_VNI;
}

static unsigned int vx_recv(void *ctx, struct sw_frame *f, unsigned int n)
{
	struct port_vxlan *x = ctx;
	uint64_t now = ev_now_ns();
	unsigned int out = 0;
	int got;

	if (!x->bound)
		return 0;
	if (n > SW_BURST)
		n = SW_BURST;
	for (unsigned int i = 0; i < n; i++) {
		x->riov[i] = (struct iovec){ x->rbuf[i], BUF_LEN };
		x->rmsg[i].msg_hdr = (struct msghdr){
			.msg_name = &x->rfrom[i], .msg_namelen = sizeof(x->rfrom[i]),
			.msg_iov = &x->riov[i], .msg_iovlen = 1,
		};
	}
	got = recvmmsg(x->fd, x->rmsg, n, MSG_DONTWAIT, NULL);
	for (int i = 0; i < got; i++) {
		const uint8_t *b = x->rbuf[i];
		size_t len = x->rmsg[i].msg_len, off = 0;
		struct sw_frame *fr = &f[out];
		enum vxlan_verdict v;
		int r = -1;

		if (x->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
			x->rx_truncated++;
			continue;
		}
		if (x->rmsg[i].msg_hdr.msg_namelen != sizeof(struct sockaddr_in) ||
		    (r = remote_of(x, &x->rfrom[i])) < 0)
			v = VXLAN_UNKNOWN_VTEP;
		else
			v = decap(x, x->rbuf[i], &len, &off);
		if (v != VXLAN_OK) {
			x->drops[v]++;
			continue;
		}
		b += off;
		fr->len = (uint32_t)len;
		fr->nseg = 1;
		fr->seg[0].base = b;
		fr->seg[0].len = fr->len;
		memcpy(fr->eth, b, SW_ETH_HLEN);
		memset(&fr->off, 0, sizeof(fr->off));
		vxlan_fdb_learn(&x->fdb, fr->eth + SW_ETH_ALEN, (unsigned int)r, now);
		out++;
	}
	return out;
}

static void vx_recv_done(void *ctx)
{
	(void)ctx;
}

/* Send what waits; what the socket refuses now is dropped and counted. */
static void tx_push(struct port_vxlan *x)
{
	unsigned int done = 0;

	while (done < x->ntmsg) {
		int r = sendmmsg(x->fd, x->tmsg + done, x->ntmsg - done, MSG_DONTWAIT);

		if (r <= 0) {
			x->tx_dropped += x->ntmsg - done;
			break;
		}
		done += (unsigned int)r;
	}
	x->ntmsg = x->ntbuf = 0;
}

/* Up to n bytes of f from byte off on, to buf; the count copied. */
static size_t frame_copy(const struct sw_frame *f, size_t off, uint8_t *buf, size_t n)
{
	size_t done = 0;

	for (unsigned int s = 0; s < f->nseg && done < n; s++) {
		size_t l = f->seg[s].len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > n - done)
			l = n - done;
		memcpy(buf + done, f->seg[s].base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

/*
 * vxlan-vlans: the VNI f travels in, and the 4 tag bytes to leave out
 * (*strip); -1: a VLAN without one.  Untagged frames take the port's VNI.
 */
static int64_t tx_vni(const struct port_vxlan *x, const struct sw_frame *f,
		      bool *strip)
{
	uint8_t t[4];
	unsigned int vid;

	*strip = false;
	if (!x->cfg.nvxlan_vlans || f->len < SW_ETH_HLEN + 4 ||
	    frame_copy(f, 12, t, 4) < 4 || t[0] != 0x81 || t[1] != 0x00)
		return x->cfg.vni;
	vid = (unsigned int)(t[2] & 0x0f) << 8 | t[3];
	for (unsigned int i = 0; i < x->cfg.nvxlan_vlans; i++) {
		if (x->cfg.vxlan_vlans[i].vid == vid) {
			*strip = true;
			return x->cfg.vxlan_vlans[i].vni;
		}
	}
	return -1;
}

static int vx_send_one(void *ctx, const struct sw_frame *f)
{
	struct port_vxlan *x = ctx;
	unsigned int ndst, first;
	size_t flen = f->len;
	int64_t vni;
	bool strip;
	uint8_t *p;
	int r;

	if (!x->bound)
		return -EIO;
	vni = tx_vni(x, f, &strip);
	if (vni < 0) {
		x->tx_unmapped++;
		return -EIO;
	}
	flen -= strip ? 4 : 0;
	if (flen + VXLAN_HLEN > BUF_LEN) {
		x->tx_too_big++;
		return -EMSGSIZE;
	}
	r = vxlan_fdb_lookup(&x->fdb, f->eth, ev_now_ns());
	ndst = r >= 0 ? 1 : x->nremote;
	if (x->ntbuf == TX_BUFS || x->ntmsg + ndst > TX_MSGS)
		tx_push(x);
	p = x->tbuf[x->ntbuf];
	vxlan_encap(p, (uint32_t)vni);
	p += VXLAN_HLEN;
	if (strip) {
		frame_copy(f, 0, p, 12);
		frame_copy(f, 16, p + 12, flen - 12);
	} else {
		for (unsigned int s = 0; s < f->nseg; s++) {
			memcpy(p, f->seg[s].base, f->seg[s].len);
			p += f->seg[s].len;
		}
	}
	x->tiov[x->ntbuf] = (struct iovec){ x->tbuf[x->ntbuf], flen + VXLAN_HLEN };
	first = r >= 0 ? (unsigned int)r : 0;
	for (unsigned int i = 0; i < ndst; i++) {
		x->tmsg[x->ntmsg++].msg_hdr = (struct msghdr){
			.msg_name = &x->remote[first + i],
			.msg_namelen = sizeof(x->remote[0]),
			.msg_iov = &x->tiov[x->ntbuf], .msg_iovlen = 1,
		};
	}
	if (ndst > 1)
		x->tx_replicas += ndst - 1;
	x->ntbuf++;
	return 0;
}

/* A peer's checksum or segmentation work is finished before it leaves. */
static int vx_send(void *ctx, const struct sw_frame *f)
{
	struct port_vxlan *x = ctx;

	if (sw_off_any(&f->off))
		return off_finish(f, &x->obuf, vx_send_one, x, &x->ost);
	return vx_send_one(ctx, f);
}

static void vx_flush(void *ctx)
{
	struct port_vxlan *x = ctx;

	if (x->bound && x->ntmsg)
		tx_push(x);
}

static const struct sw_port_ops vxlan_port_ops = {
	.recv = vx_recv,
	.recv_done = vx_recv_done,
	.send = vx_send,
	.flush = vx_flush,
};

/* ---- set-up ---- */

static void rx_cb(void *arg, int fd, uint32_t events)
{
	struct port_vxlan *x = arg;

	(void)fd;
	(void)events;
	x->base.env->kicked = true;
}

/* Parse "IPv4[:port]" (checked by the config already) into a. */
static int parse_addr(const char *s, size_t len, struct sockaddr_in *a)
{
	char buf[VVU_VXLAN_ADDR_LEN];
	char *colon;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(VXLAN_PORT);
	colon = strchr(buf, ':');
	if (colon) {
		char *end;
		long port;

		*colon = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end || port < 1 || port > 65535)
			return -EINVAL;
		a->sin_port = htons((uint16_t)port);
	}
	return inet_pton(AF_INET, buf, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static int parse_remotes(struct port_vxlan *x)
{
	const char *s = x->cfg.vxlan_remotes;

	x->nremote = 0;
	while (*s && x->nremote < VXLAN_REMOTES_MAX) {
		size_t len = strcspn(s, ",+");
		size_t l = len;

		while (*s == ' ' && l) {
			s++;
			l--;
			len--;
		}
		while (l && s[l - 1] == ' ')
			l--;
		if (parse_addr(s, l, &x->remote[x->nremote]))
			return -EINVAL;
		/* Remotes listen where we do. */
		x->remote[x->nremote++].sin_port = x->local.sin_port;
		s += len;
		if (*s)
			s++;
	}
	return x->nremote ? 0 : -EINVAL;
}

static void try_bind(struct port_vxlan *x, uint64_t now)
{
	int fd, one = 1, rcv = 4 << 20;
	char why[160];

	x->next_try_ns = now + RETRY_NS;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, (const struct sockaddr *)&x->local, sizeof(x->local)) < 0) {
		snprintf(why, sizeof(why), "cannot bind %s: %s", x->cfg.vxlan_local,
			 strerror(errno));
		close(fd);
		goto fail;
	}
	x->fd = fd;
	x->bound = true;
	x->dirty = true;
	x->why[0] = '\0';
	if (ev_add_et(x->base.env->ev, fd, rx_cb, x) < 0)
		vlog_warn("%s: cannot watch the UDP socket: polling", x->base.name);
	vlog_info("%s: VXLAN VNI %u on %s, %u remote VTEP(s), %u VLAN(s) mapped to "
		  "VNIs", x->base.name, x->cfg.vni, x->cfg.vxlan_local, x->nremote,
		  x->cfg.nvxlan_vlans);
	return;
fail:
	if (strcmp(x->why, why) != 0)
		vlog_warn("%s: down: %s", x->base.name, why);
	snprintf(x->why, sizeof(x->why), "%s", why);
}

static bool vxlan_takes(const struct vvu_port_cfg *c)
{
	return c->vxlan;
}

static int vxlan_create(struct port_env *env, const struct vvu_port_cfg *c,
			struct port **out, char *err, size_t errlen)
{
	struct port_vxlan *x = calloc(1, sizeof(*x));
	int rc;

	if (!x) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	port_init(&x->base, &port_vxlan_class, env, c->name, 1);
	x->cfg = *c;
	x->fd = -1;
	snprintf(x->why, sizeof(x->why), "not bound yet");
	vxlan_fdb_init(&x->fdb, (uint64_t)env->cfg->sw.ageing_s * 1000000000ull);
	if (parse_addr(c->vxlan_local, strlen(c->vxlan_local), &x->local) ||
	    parse_remotes(x)) {
		snprintf(err, errlen, "%s: bad vxlan-local or vxlan-remotes", c->name);
		free(x);
		return -EINVAL;
	}
	rc = port_reg_add(env->reg, &x->base);
	if (rc) {
		snprintf(err, errlen, rc == -EEXIST ? "port %s exists" :
			 "port %s: no room for another port", c->name);
		free(x);
		return rc;
	}
	rc = port_attach_ops(&x->base, &vxlan_port_ops, x);
	if (rc) {
		snprintf(err, errlen, "%s: %s", c->name, strerror(-rc));
		port_destroy(&x->base);
		return rc;
	}
	try_bind(x, ev_now_ns());
	*out = &x->base;
	return 0;
}

static int vxlan_start(struct port_env *env)
{
	for (unsigned int i = 0; i < env->cfg->nports; i++) {
		struct port *p;
		char err[256];
		int rc;

		if (!vxlan_takes(&env->cfg->ports[i]))
			continue;
		rc = vxlan_create(env, &env->cfg->ports[i], &p, err, sizeof(err));
		if (rc) {
			vlog_err("%s", err);
			return rc;
		}
	}
	return 0;
}

static void vxlan_tick(struct port *p, uint64_t now_ns)
{
	struct port_vxlan *x = px(p);

	if (!x->bound && now_ns >= x->next_try_ns)
		try_bind(x, now_ns);
}

static bool vxlan_sync(struct port *p, bool *up)
{
	struct port_vxlan *x = px(p);

	if (!x->dirty)
		return false;
	x->dirty = false;
	*up = x->bound;
	return true;
}

static const char *vxlan_state(const struct port *p)
{
	return p->up ? NULL : "down";
}

static bool vxlan_deletable(const struct port *p, char *err, size_t errlen)
{
	(void)p;
	(void)err;
	(void)errlen;
	return true;
}

static void vxlan_describe(const struct port *p, struct port_snap *s)
{
	const struct port_vxlan *x = px(p);
	static const enum vxlan_verdict shown[] = {
		VXLAN_TOO_SHORT, VXLAN_BAD_FLAGS, VXLAN_BAD_VNI, VXLAN_UNKNOWN_VTEP,
	};

	snprintf(s->mode, sizeof(s->mode), "vni %u", x->cfg.vni);
	s->where_key = "vxlan";
	snprintf(s->where, sizeof(s->where), "%.23s -> %.80s", x->cfg.vxlan_local,
		 x->cfg.vxlan_remotes);
	snprintf(s->connection, sizeof(s->connection), "%s",
		 x->bound ? "bound" : "unbound");
	snprintf(s->last_error, sizeof(s->last_error), "%s", x->why);
	s->live_rx = s->live_tx = x->bound ? 1 : 0;
	s->rx_no_buffer = x->tx_dropped;
	s->rx_too_big = x->tx_too_big;
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		s->extra[s->nextra].key = vxlan_verdict_names[shown[i]];
		s->extra[s->nextra++].v = x->drops[shown[i]];
	}
	s->extra[s->nextra].key = "vxlan_truncated";
	s->extra[s->nextra++].v = x->rx_truncated;
	s->extra[s->nextra].key = "vxlan_replicas";
	s->extra[s->nextra++].v = x->tx_replicas;
	if (x->cfg.nvxlan_vlans) {
		size_t len = (size_t)snprintf(s->features, sizeof(s->features),
					      "vlan:vni");

		for (unsigned int i = 0; i < x->cfg.nvxlan_vlans &&
		     len < sizeof(s->features); i++)
			len += (size_t)snprintf(s->features + len,
						sizeof(s->features) - len, "%s%u:%u",
						i ? "," : " ", x->cfg.vxlan_vlans[i].vid,
						x->cfg.vxlan_vlans[i].vni);
		s->extra[s->nextra].key = "vxlan_tx_unmapped";
		s->extra[s->nextra++].v = x->tx_unmapped;
	}
	port_snap_offload(s, &x->ost);
}

/* "the VTEP mac is behind", for `mac`. */
static bool vxlan_mac_note(const struct port *p, const uint8_t *mac, char *buf,
			   size_t n)
{
	const struct port_vxlan *x = px(p);
	int r = vxlan_fdb_lookup(&x->fdb, mac, ev_now_ns());

	if (r < 0 || !inet_ntop(AF_INET, &x->remote[r].sin_addr, buf, (socklen_t)n))
		return false;
	return true;
}

static void vxlan_close(struct port *p)
{
	struct port_vxlan *x = px(p);

	if (x->fd >= 0) {
		ev_del(x->base.env->ev, x->fd);
		close(x->fd);
	}
	free(x);
}

const struct port_class port_vxlan_class = {
	.kind = "vxlan",
	.start = vxlan_start,
	.takes = vxlan_takes,
	.create = vxlan_create,
	.deletable = vxlan_deletable,
	.state = vxlan_state,
	.describe = vxlan_describe,
	.tick = vxlan_tick,
	.sync = vxlan_sync,
	.mac_note = vxlan_mac_note,
	.close = vxlan_close,
};
