/*
 * SPDX-License-Identifier: MIT
 * virtio-vhost-user device: terminates one vhost-user socket on the host and tunnels the
 * protocol to a backend driver in the guest (docs/virtio-vhost-user.md in vvu-switch).
 * Security model: everything read from the chardev and the backend channel comes from an
 * untrusted frontend. Each message is checked against one table (sizes, fd counts, vring
 * indices) and each memory region against the BAR and the other regions before anything is
 * mapped; a bad message disconnects that frontend with an error_report and never reaches the
 * guest. The guest driver is trusted only as far as its own device goes: a bad txq buffer is
 * discarded, a too-small rxq buffer marks the device broken (virtio_error).
 *
 * Frontend memory in BAR 2. Each mapped region is a VvuRegionMem object that owns its
 * MemoryRegion. The slot holds one reference; every FlatView (and its dispatch sections)
 * that maps the MemoryRegion holds more, because memory_region_ref() references the owner.
 * Removing a region is memory_region_del_subregion() then dropping the slot's reference,
 * nothing else: the object, the MemoryRegion, its RAMBlock and the mmap go away with the last
 * FlatView that still maps them, after the RCU grace period that FlatView waits for. No code
 * here frees memory that a FlatView may reach, so no ordering of RCU callbacks matters.
 * Memory must be sealed against shrinking (F_SEAL_SHRINK): a frontend that truncates a
 * mapped file would otherwise raise SIGBUS in a vCPU thread and kill the VM.
 *
 * Dirty logs (SET_LOG_BASE) live in BAR 2 the same way, in VvuRegionMem objects of their own;
 * the device mmaps a log itself (QEMU's logs are not a whole number of pages) and the object
 * releases that mapping one RCU grace period after the last reference goes. The log before
 * the current one stays mapped until the next SET_LOG_BASE or re-arm: the driver logs into it
 * until it has switched to the new one, which it has done before it answers.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/iov.h"
#include "qemu/main-loop.h"
#include "qemu/mmap-alloc.h"
#include "qemu/rcu.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "qemu/host-utils.h"
#include "qemu/cutils.h"
#include "hw/qdev-properties.h"
#include "hw/qdev-properties-system.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-bus.h"
#include "hw/pci/pci.h"
#include "hw/pci/msix.h"
#include "hw/virtio/virtio-vhost-user.h"
#include "hw/virtio/virtio-vhost-user-rules.h"
#include "migration/vmstate.h"
#include "sysemu/runstate.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <fcntl.h>

#ifndef F_GET_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SHRINK 0x0002
#endif

/* Backend-channel requests that need an fd we cannot supply. */
#define VU_BACKEND_VRING_HOST_NOTIFIER_MSG 3
#define VU_BACKEND_SHARED_OBJECT_ADD       6

#define VVU_FLAG_BACKEND_CHANNEL (1u << 31)

#define VU_F_LOG_ALL          26   /* VHOST_F_LOG_ALL in GET_FEATURES */
#define VU_PF_LOG_SHMFD       1

/* Protocol features the tunnel can carry (spec 6.1). */
#define VVU_TUNNELABLE_PROTOCOL_FEATURES \
    ((1ull << 0) | (1ull << 1) | (1ull << 2) | (1ull << 3) | (1ull << 4) | \
     (1ull << 5) | (1ull << 6) | (1ull << 9) | (1ull << 13) | (1ull << 15) | \
     (1ull << 16))

#define VVU_RXQ_SIZE 128
#define VVU_TXQ_SIZE 128

static void vvu_update_state(VirtIOVhostUser *s);
static void vvu_try_deliver(VirtIOVhostUser *s);
static void vvu_bchan_update_handler(VirtIOVhostUser *s);

/* ---- little helpers ------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
    return ldl_le_p(p);
}

static uint64_t rd64(const uint8_t *p)
{
    return ldq_le_p(p);
}

static void wr64(uint8_t *p, uint64_t v)
{
    stq_le_p(p, v);
}

/* How messages name this device: the proxy's id, else the chardev's. */
static const char *vvu_id(VirtIOVhostUser *s)
{
    DeviceState *proxy = DEVICE(s)->parent_bus ? DEVICE(s)->parent_bus->parent : NULL;
    Chardev *chr = qemu_chr_fe_get_driver(&s->chr);

    if (proxy && proxy->id) {
        return proxy->id;
    }
    return chr ? chr->label : "virtio-vhost-user";
}

static void vvu_in_reset(VvuInMsg *m)
{
    for (int i = 0; i < m->nfds; i++) {
        if (m->fds[i] >= 0) {
            close(m->fds[i]);
        }
    }
    m->nfds = 0;
    m->have = 0;
    m->complete = false;
}

static uint32_t vvu_in_size(const VvuInMsg *m)
{
    return rd32(m->buf + 8);
}

/* Bytes still needed to complete the header or the payload. */
static uint32_t vvu_in_need(const VvuInMsg *m)
{
    if (m->have < VVU_HDR_SIZE) {
        return VVU_HDR_SIZE - m->have;
    }
    return VVU_HDR_SIZE + vvu_in_size(m) - m->have;
}

static void vvu_set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0) {
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    }
}

/* A kick/call/err/log fd must be an eventfd: anything else could block or spin QEMU. */
static bool vvu_is_eventfd(int fd)
{
    char path[64], target[64];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        return false;
    }
    target[n] = '\0';
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static bool vvu_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * error_report within a budget of VVU_LOG_BURST lines per VVU_LOG_WINDOW_MS per device, so a
 * frontend in a connect/refuse loop cannot flood QEMU's stderr; the next line printed says
 * how many were suppressed.
 */
#define VVU_LOG_BURST 10
#define VVU_LOG_WINDOW_MS 5000

static void G_GNUC_PRINTF(3, 4)
vvu_report(VirtIOVhostUser *s, bool error, const char *fmt, ...)
{
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    g_autofree char *msg = NULL;
    va_list ap;

    if (now - s->log_window_ms >= VVU_LOG_WINDOW_MS) {
        s->log_window_ms = now;
        s->log_in_window = 0;
    }
    if (s->log_in_window >= VVU_LOG_BURST) {
        s->log_suppressed++;
        return;
    }
    s->log_in_window++;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->log_suppressed) {
        info_report("virtio-vhost-user %s: %" PRIu64 " messages suppressed",
                    vvu_id(s), s->log_suppressed);
        s->log_suppressed = 0;
    }
    if (error) {
        error_report("virtio-vhost-user %s: %s", vvu_id(s), msg);
    } else {
        info_report("virtio-vhost-user %s: %s", vvu_id(s), msg);
    }
}

/*
 * Disconnecting from inside a chardev callback re-enters the chardev, so a protocol error
 * only records the reason, stops reading, and leaves the work to a bottom half.
 */
static void G_GNUC_PRINTF(2, 3)
vvu_fail(VirtIOVhostUser *s, const char *fmt, ...)
{
    va_list ap;

    if (s->disconnect_pending) {
        return;
    }
    va_start(ap, fmt);
    g_free(s->disconnect_reason);
    s->disconnect_reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    s->disconnect_pending = true;
    qemu_bh_schedule(s->disconnect_bh);
}

/* ---- BAR 2: frontend memory ---------------------------------------------- */

/*
 * Take a region out of BAR 2 and drop the slot's reference (see the top of the file: the
 * memory lives on while any FlatView still maps it). Inside a memory transaction.
 */
static void vvu_region_unmap(VirtIOVhostUser *s, VvuRegion *r)
{
    if (!r->used) {
        return;
    }
    memory_region_del_subregion(&s->shm, &r->mem->mr);
    object_unref(OBJECT(r->mem));
    memset(r, 0, sizeof(*r));
}

static void vvu_unmap_all(VirtIOVhostUser *s)
{
    memory_region_transaction_begin();
    for (uint32_t i = 0; i < s->max_mem_slots; i++) {
        vvu_region_unmap(s, &s->regions[i]);
    }
    vvu_region_unmap(s, &s->log);
    vvu_region_unmap(s, &s->log_prev);
    memory_region_transaction_commit();
}

/* The driver accepted VVU_F_LOG_WINDOW: it can take a dirty log (spec 6.4). */
static bool vvu_log_window(VirtIOVhostUser *s)
{
    return virtio_vdev_has_feature(VIRTIO_DEVICE(s), VVU_F_LOG_WINDOW);
}

static int vvu_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* First fit: a free BAR 2 range of len bytes aligned to align. */
static bool vvu_bar_alloc(VirtIOVhostUser *s, uint64_t len, uint64_t align,
                          uint64_t *base)
{
    g_autofree uint64_t *ranges = g_new(uint64_t, 2 * (s->max_mem_slots + 2));
    const VvuRegion *logs[2] = { &s->log, &s->log_prev };
    uint32_t n = 0;
    uint64_t pos = 0;

    for (uint32_t i = 0; i < s->max_mem_slots; i++) {
        if (s->regions[i].used) {
            ranges[2 * n] = s->regions[i].bar_base;
            ranges[2 * n + 1] = s->regions[i].bar_base + s->regions[i].bar_len;
            n++;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (logs[i]->used) {
            ranges[2 * n] = logs[i]->bar_base;
            ranges[2 * n + 1] = logs[i]->bar_base + logs[i]->bar_len;
            n++;
        }
    }
    qsort(ranges, n, 2 * sizeof(uint64_t), vvu_cmp_u64);
    for (uint32_t i = 0; i <= n; i++) {
        uint64_t end = i < n ? ranges[2 * i] : s->shm_size;

        pos = ROUND_UP(pos, align);
        if (pos <= end && end - pos >= len) {
            *base = pos;
            return true;
        }
        if (i < n) {
            pos = MAX(pos, ranges[2 * i + 1]);
        }
    }
    return false;
}

/*
 * A file that can shrink under a mapping turns the next access into SIGBUS, and the vCPU
 * that takes it is not ours to catch. memfds sealed with F_SEAL_SHRINK cannot shrink (QEMU's
 * memory-backend-memfd seals by default); anything else needs allow-unsealed-memory=on.
 */
static bool vvu_fd_cannot_shrink(VirtIOVhostUser *s, int fd, Error **errp)
{
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals >= 0 && (seals & F_SEAL_SHRINK)) {
        return true;
    }
    if (s->allow_unsealed) {
        return true;
    }
    error_setg(errp, "memory %s: it could be truncated under the guest; use a memfd "
               "with F_SEAL_SHRINK (memory-backend-memfd seals by default) or set "
               "allow-unsealed-memory=on on this device",
               seals < 0 ? "is not a memfd" : "is not sealed against shrinking");
    return false;
}

/*
 * Map [file_off, file_off + size) of fd into a free part of BAR 2 and fill r. On success the
 * RAMBlock owns fd. On failure fd is still the caller's and errp says why.
 */
static bool vvu_region_map(VirtIOVhostUser *s, VvuRegion *r, int fd,
                           uint64_t file_off, uint64_t size, Error **errp)
{
    struct stat st;
    uint64_t page, start, end, len, base;
    VvuRegionMem *mem;
    Error *err = NULL;
    g_autofree char *name = NULL;

    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "fstat of the memory fd failed");
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "memory fd is not a regular file (memfd, tmpfs, hugetlbfs)");
        return false;
    }
    if (!vvu_fd_cannot_shrink(s, fd, errp)) {
        return false;
    }
    page = MAX(qemu_real_host_page_size(), qemu_fd_getpagesize(fd));
    if (size == 0 || file_off + size < file_off ||
        file_off + size > UINT64_MAX - page) {
        error_setg(errp, "bad region size 0x%" PRIx64 " at file offset 0x%" PRIx64,
                   size, file_off);
        return false;
    }
    start = QEMU_ALIGN_DOWN(file_off, page);
    end = ROUND_UP(file_off + size, page);
    len = end - start;
    if ((uint64_t)st.st_size < end) {
        error_setg(errp, "memory file is 0x%" PRIx64 " bytes, region needs 0x%" PRIx64,
                   (uint64_t)st.st_size, end);
        return false;
    }
    if (!vvu_bar_alloc(s, len, page, &base)) {
        error_setg(errp, "region of 0x%" PRIx64 " bytes does not fit in the free part "
                   "of the 0x%" PRIx64 "-byte shared memory BAR (shm-size)", len,
                   s->shm_size);
        return false;
    }
    mem = VVU_REGION_MEM(object_new(TYPE_VVU_REGION_MEM));
    name = g_strdup_printf("vvu-shm-%" PRIu64, ++s->map_generation);
    memory_region_init_ram_from_fd(&mem->mr, OBJECT(mem), name, len, RAM_SHARED, fd, start,
                                   &err);
    if (err) {
        /* the MemoryRegion unparented itself: dropping mem frees both */
        object_unref(OBJECT(mem));
        error_propagate_prepend(errp, err, "mapping a frontend memory region: ");
        return false;
    }
    memory_region_add_subregion(&s->shm, base, &mem->mr);

    r->used = true;
    r->refs = 1;
    r->mem = mem;
    r->bar_base = base;
    r->bar_len = len;
    r->bar_off = base + (file_off - start);
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->mmap_offset = file_off;
    r->size = size;
    return true;
}

static bool vvu_region_desc_check(const VvuRegionDesc *d, Error **errp)
{
    char why[160];

    if (!vvu_region_desc_ok(d, why, sizeof(why))) {
        error_setg(errp, "%s", why);
        return false;
    }
    return true;
}

static bool vvu_region_same(const VvuRegion *r, const VvuRegionDesc *d,
                            const struct stat *st)
{
    return r->used && r->gpa == d->gpa && r->size == d->size && r->uaddr == d->uaddr &&
           r->mmap_offset == d->mmap_offset && r->dev == (uint64_t)st->st_dev &&
           r->ino == (uint64_t)st->st_ino;
}

static VvuRegion *vvu_free_slot(VirtIOVhostUser *s)
{
    for (uint32_t i = 0; i < s->max_mem_slots; i++) {
        if (!s->regions[i].used) {
            return &s->regions[i];
        }
    }
    return NULL;
}

/* SET_MEM_TABLE (spec 6.2). Consumes the message's fds it maps. */
static bool vvu_set_mem_table(VirtIOVhostUser *s, VvuInMsg *m, Error **errp)
{
    uint8_t *p = m->buf + VVU_HDR_SIZE;
    uint32_t n = rd32(p);
    VvuRegionDesc d[VU_MEM_BASELINE_NREGIONS];
    struct stat st[VU_MEM_BASELINE_NREGIONS];
    int keep_of[VU_MEM_BASELINE_NREGIONS];
    g_autofree bool *kept = g_new0(bool, s->max_mem_slots);
    bool ok = true;

    for (uint32_t i = 0; i < n; i++) {
        vvu_region_desc_read(p + 8 + i * VU_REGION_SIZE, &d[i]);
        if (!vvu_region_desc_check(&d[i], errp)) {
            return false;
        }
        if (fstat(m->fds[i], &st[i]) < 0) {
            error_setg_errno(errp, errno, "fstat of region %u's fd failed", i);
            return false;
        }
        for (uint32_t j = 0; j < i; j++) {
            if (vvu_ranges_overlap(d[i].gpa, d[i].size, d[j].gpa, d[j].size) ||
                vvu_ranges_overlap(d[i].uaddr, d[i].size, d[j].uaddr, d[j].size)) {
                error_setg(errp, "regions %u and %u overlap", j, i);
                return false;
            }
        }
        keep_of[i] = -1;
        for (uint32_t k = 0; k < s->max_mem_slots; k++) {
            if (!kept[k] && vvu_region_same(&s->regions[k], &d[i], &st[i])) {
                kept[k] = true;
                keep_of[i] = k;
                break;
            }
        }
    }

    memory_region_transaction_begin();
    for (uint32_t k = 0; k < s->max_mem_slots; k++) {
        if (!kept[k]) {
            vvu_region_unmap(s, &s->regions[k]);
        }
    }
    for (uint32_t i = 0; i < n && ok; i++) {
        VvuRegion *r;

        if (keep_of[i] >= 0) {
            r = &s->regions[keep_of[i]];
            r->refs = 1;   /* a table replaces every count */
        } else {
            r = vvu_free_slot(s);
            if (!r) {
                error_setg(errp, "no free memory slot");
                ok = false;
                break;
            }
            if (!vvu_region_map(s, r, m->fds[i], d[i].mmap_offset, d[i].size, errp)) {
                error_prepend(errp, "region %u: ", i);
                ok = false;
                break;
            }
            m->fds[i] = -1;
            r->gpa = d[i].gpa;
            r->uaddr = d[i].uaddr;
        }
        wr64(p + 8 + i * VU_REGION_SIZE + 24, r->bar_off);
    }
    memory_region_transaction_commit();
    return ok;
}

static bool vvu_overlaps_mapped(VirtIOVhostUser *s, const VvuRegionDesc *d, Error **errp)
{
    for (uint32_t k = 0; k < s->max_mem_slots; k++) {
        VvuRegion *r = &s->regions[k];

        if (r->used && (vvu_ranges_overlap(d->gpa, d->size, r->gpa, r->size) ||
                        vvu_ranges_overlap(d->uaddr, d->size, r->uaddr, r->size))) {
            error_setg(errp, "region gpa 0x%" PRIx64 " overlaps mapped region gpa 0x%"
                       PRIx64, d->gpa, r->gpa);
            return true;
        }
    }
    return false;
}

/* ADD_MEM_REG / REM_MEM_REG (spec 6.3). */
static bool vvu_add_mem_reg(VirtIOVhostUser *s, VvuInMsg *m, Error **errp)
{
    uint8_t *p = m->buf + VVU_HDR_SIZE + 8;
    VvuRegionDesc d;
    VvuRegion *r;
    struct stat st;
    bool ok;

    vvu_region_desc_read(p, &d);
    if (!vvu_region_desc_check(&d, errp)) {
        return false;
    }
    /*
     * QEMU 7.2 with queues=N sends each region once per queue pair on one connection. An
     * exact repeat of a mapped region, the same file included, is counted and delivered
     * with the same BAR offset; REM_MEM_REG unmaps it when the count drops to 0.
     */
    if (fstat(m->fds[0], &st) < 0) {
        error_setg_errno(errp, errno, "ADD_MEM_REG: fstat of the fd failed");
        return false;
    }
    for (uint32_t k = 0; k < s->max_mem_slots; k++) {
        r = &s->regions[k];
        if (vvu_region_same(r, &d, &st) && r->refs < UINT32_MAX) {
            r->refs++;
            wr64(p + 24, r->bar_off);
            return true;   /* the fd is closed on delivery */
        }
    }
    if (vvu_overlaps_mapped(s, &d, errp)) {
        return false;
    }
    r = vvu_free_slot(s);
    if (!r) {
        error_setg(errp, "all %u memory slots are in use", s->max_mem_slots);
        return false;
    }
    memory_region_transaction_begin();
    ok = vvu_region_map(s, r, m->fds[0], d.mmap_offset, d.size, errp);
    memory_region_transaction_commit();
    if (!ok) {
        return false;
    }
    m->fds[0] = -1;
    r->gpa = d.gpa;
    r->uaddr = d.uaddr;
    wr64(p + 24, r->bar_off);
    return true;
}

static bool vvu_rem_mem_reg(VirtIOVhostUser *s, VvuInMsg *m, Error **errp)
{
    uint8_t *p = m->buf + VVU_HDR_SIZE + 8;
    VvuRegionDesc d;
    uint64_t off = UINT64_MAX;

    vvu_region_desc_read(p, &d);
    for (uint32_t k = 0; k < s->max_mem_slots; k++) {
        VvuRegion *r = &s->regions[k];

        if (r->used && r->gpa == d.gpa && r->size == d.size && r->uaddr == d.uaddr) {
            off = r->bar_off;
            if (r->refs > 1) {
                r->refs--;
                break;
            }
            memory_region_transaction_begin();
            vvu_region_unmap(s, r);
            memory_region_transaction_commit();
            break;
        }
    }
    wr64(p + 24, off);
    return true;
}

/*
 * Map bytes [file_off, file_off + size) of the log file fd into a free part of BAR 2 and fill
 * r (spec 6.4): a regular file at least file_off + size long that cannot shrink, mapped by
 * whole pages (the bytes of the last page past the end of the file are the kernel's zeros,
 * never a SIGBUS). On success the mapping no longer needs fd and the caller closes it; on
 * failure errp says why.
 */
static bool vvu_log_map(VirtIOVhostUser *s, VvuRegion *r, int fd, uint64_t file_off,
                        uint64_t size, Error **errp)
{
    struct stat st;
    uint64_t page, start, end, len, base;
    VvuRegionMem *mem;
    void *ptr;
    g_autofree char *name = NULL;

    if (fstat(fd, &st) < 0) {
        error_setg_errno(errp, errno, "fstat of the log fd failed");
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        error_setg(errp, "the log fd is not a regular file (a memfd): it cannot be mapped");
        return false;
    }
    if (!vvu_fd_cannot_shrink(s, fd, errp)) {
        error_prepend(errp, "log ");
        return false;
    }
    page = MAX(qemu_real_host_page_size(), qemu_fd_getpagesize(fd));
    if ((uint64_t)st.st_size < file_off + size) {
        error_setg(errp, "log file is 0x%" PRIx64 " bytes, the log needs 0x%" PRIx64,
                   (uint64_t)st.st_size, file_off + size);
        return false;
    }
    start = QEMU_ALIGN_DOWN(file_off, page);
    end = ROUND_UP(file_off + size, page);
    len = end - start;
    if (!vvu_bar_alloc(s, len, page, &base)) {
        error_setg(errp, "log of 0x%" PRIx64 " bytes does not fit in the free part of the "
                   "0x%" PRIx64 "-byte shared memory BAR (shm-size)", len, s->shm_size);
        return false;
    }
    ptr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, start);
    if (ptr == MAP_FAILED) {
        error_setg_errno(errp, errno, "the log fd cannot be mapped");
        return false;
    }
    mem = VVU_REGION_MEM(object_new(TYPE_VVU_REGION_MEM));
    mem->map = ptr;
    mem->map_len = len;
    name = g_strdup_printf("vvu-log-%" PRIu64, ++s->map_generation);
    memory_region_init_ram_ptr(&mem->mr, OBJECT(mem), name, len, ptr);
    memory_region_add_subregion(&s->shm, base, &mem->mr);

    r->used = true;
    r->refs = 1;
    r->mem = mem;
    r->bar_base = base;
    r->bar_len = len;
    r->bar_off = base + (file_off - start);
    r->dev = st.st_dev;
    r->ino = st.st_ino;
    r->mmap_offset = file_off;
    r->size = size;
    return true;
}

/*
 * SET_LOG_BASE (spec 6.4). The new log is mapped beside the current one, which becomes the
 * previous; the one before that goes (the driver answered the SET_LOG_BASE that replaced it,
 * so it no longer logs there). The driver sees the new log at the rewritten mmap_offset and
 * in config space (log_gen, log_offset, log_size) before the message reaches it.
 */
static bool vvu_set_log_base(VirtIOVhostUser *s, VvuInMsg *m, Error **errp)
{
    uint8_t *p = m->buf + VVU_HDR_SIZE;
    uint64_t size = rd64(p), off = rd64(p + 8);
    VvuRegion next = { 0 };
    char why[160];
    bool ok;

    if (!vvu_log_window(s)) {
        error_setg(errp, "SET_LOG_BASE: the driver took no log window (LOG_SHMFD was not "
                   "offered)");
        return false;
    }
    if (!vvu_rule_log_ok(size, off, why, sizeof(why))) {
        error_setg(errp, "%s", why);
        return false;
    }
    memory_region_transaction_begin();
    vvu_region_unmap(s, &s->log_prev);
    ok = vvu_log_map(s, &next, m->fds[0], off, size, errp);
    if (ok) {
        s->log_prev = s->log;
        s->log = next;
    }
    memory_region_transaction_commit();
    if (!ok) {
        error_prepend(errp, "SET_LOG_BASE: ");
        return false;
    }
    s->log_gen++;
    wr64(p + 8, s->log.bar_off);
    return true;   /* the fd is closed on delivery: the mapping holds the file */
}

/* ---- vrings: kicks, calls, errors ---------------------------------------- */

static void vvu_notify_vector(VirtIOVhostUser *s, uint16_t vector)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    BusState *qbus = qdev_get_parent_bus(DEVICE(vdev));
    VirtioBusClass *k = VIRTIO_BUS_GET_CLASS(qbus);

    if (k->notify && !virtio_device_disabled(vdev)) {
        k->notify(qbus->parent, vector);
    }
}

static int vvu_nvectors(VirtIOVhostUser *s)
{
    BusState *qbus = qdev_get_parent_bus(DEVICE(s));
    VirtioBusClass *k = VIRTIO_BUS_GET_CLASS(qbus);

    return k->query_nvectors ? k->query_nvectors(qbus->parent) : 0;
}

/*
 * MSI-X only delivers vectors marked in use. The kick vectors are ours, not a virtqueue's, so
 * we mark them ourselves when the transport is PCI (msix_unuse_all_vectors() on reset clears
 * them together with the virtqueues' ones).
 */
static void vvu_vector_use(VirtIOVhostUser *s, uint16_t old, uint16_t new)
{
    BusState *qbus = qdev_get_parent_bus(DEVICE(s));
    PCIDevice *pdev = (PCIDevice *)object_dynamic_cast(OBJECT(qbus->parent),
                                                       TYPE_PCI_DEVICE);

    if (!pdev || old == new) {
        return;
    }
    if (old != VIRTIO_NO_VECTOR) {
        msix_vector_unuse(pdev, old);
    }
    if (new != VIRTIO_NO_VECTOR) {
        msix_vector_use(pdev, new);
    }
}

static void vvu_kick_handler(EventNotifier *e)
{
    VvuVring *v = container_of(e, VvuVring, kick);

    if (event_notifier_test_and_clear(e) && v->vector != VIRTIO_NO_VECTOR) {
        vvu_notify_vector(v->s, v->vector);
    }
}

/* Watch the kick fd only while it exists, has a vector and the frontend is up. */
static void vvu_vring_update_watch(VvuVring *v)
{
    bool want = v->has_kick && v->vector != VIRTIO_NO_VECTOR &&
                (v->s->status & VVU_STATUS_FRONTEND_UP);

    if (want != v->kick_watched) {
        event_notifier_set_handler(&v->kick, want ? vvu_kick_handler : NULL);
        v->kick_watched = want;
    }
}

static hwaddr vvu_doorbell_addr(unsigned d)
{
    return VVU_DOORBELL_OFFSET + (hwaddr)d * VVU_DOORBELL_MULTIPLIER;
}

static void vvu_vring_clear_kick(VvuVring *v)
{
    if (v->kick_watched) {
        event_notifier_set_handler(&v->kick, NULL);
        v->kick_watched = false;
    }
    if (v->has_kick) {
        event_notifier_cleanup(&v->kick);
        v->has_kick = false;
    }
}

static void vvu_vring_clear_call(VvuVring *v)
{
    if (v->has_call) {
        memory_region_del_eventfd(&v->s->bar0, vvu_doorbell_addr(v->index), 4, false, 0,
                                  &v->call);
        event_notifier_cleanup(&v->call);
        v->has_call = false;
    }
}

static void vvu_vring_clear_err(VvuVring *v)
{
    if (v->has_err) {
        event_notifier_cleanup(&v->err);
        v->has_err = false;
    }
}

static void vvu_vring_set_fd(VirtIOVhostUser *s, uint32_t req, unsigned idx, int fd)
{
    VvuVring *v = &s->vrings[idx];

    switch (req) {
    case VU_SET_VRING_KICK:
        vvu_vring_clear_kick(v);
        if (fd >= 0) {
            event_notifier_init_fd(&v->kick, fd);
            v->has_kick = true;
            vvu_vring_update_watch(v);
        }
        break;
    case VU_SET_VRING_CALL:
        vvu_vring_clear_call(v);
        if (fd >= 0) {
            event_notifier_init_fd(&v->call, fd);
            v->has_call = true;
            memory_region_add_eventfd(&s->bar0, vvu_doorbell_addr(idx), 4, false, 0,
                                      &v->call);
        }
        break;
    case VU_SET_VRING_ERR:
        vvu_vring_clear_err(v);
        if (fd >= 0) {
            event_notifier_init_fd(&v->err, fd);
            v->has_err = true;
        }
        break;
    }
}

static void vvu_clear_fds(VirtIOVhostUser *s)
{
    memory_region_transaction_begin();
    for (uint32_t i = 0; i < s->max_vhost_queues; i++) {
        vvu_vring_clear_kick(&s->vrings[i]);
        vvu_vring_clear_call(&s->vrings[i]);
        vvu_vring_clear_err(&s->vrings[i]);
    }
    memory_region_transaction_commit();
    if (s->has_log_call) {
        event_notifier_cleanup(&s->log_call);
        s->has_log_call = false;
    }
}

/* ---- backend request channel --------------------------------------------- */

static void vvu_bchan_close(VirtIOVhostUser *s)
{
    if (s->bchan_fd >= 0) {
        qemu_set_fd_handler(s->bchan_fd, NULL, NULL, NULL);
        close(s->bchan_fd);
        s->bchan_fd = -1;
    }
    vvu_in_reset(&s->bchan_in);
}

/* Frontend replies to backend requests (spec 6.7): no fds, REPLY set. */
static void vvu_bchan_read(void *opaque)
{
    VirtIOVhostUser *s = opaque;
    VvuInMsg *m = &s->bchan_in;

    while (s->bchan_fd >= 0 && !m->complete && !s->disconnect_pending) {
        uint32_t need = vvu_in_need(m);
        struct iovec iov = { m->buf + m->have, need };
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * VVU_MAX_FDS)];
        } ctl;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
        bool got_fds = false;
        ssize_t r;

        r = recvmsg(s->bchan_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            return;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); r >= 0 && c;
             c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *)CMSG_DATA(c);

                for (int i = 0; i < nfd; i++) {
                    close(fds[i]);
                }
                got_fds = true;
            }
        }
        if (r <= 0) {
            /* The frontend closed its end: forget the channel, keep the connection. */
            vvu_report(s, false, "backend request channel closed by the frontend");
            vvu_bchan_close(s);
            return;
        }
        if (got_fds) {
            vvu_fail(s, "backend channel message carries fds");
            return;
        }
        m->have += r;
        if (m->have == VVU_HDR_SIZE) {
            uint32_t flags = rd32(m->buf + 4);

            if ((flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION ||
                (flags & ~VU_FLAG_KNOWN) || !(flags & VU_FLAG_REPLY) ||
                vvu_in_size(m) > VVU_MAX_MSG_SIZE) {
                vvu_fail(s, "bad backend channel reply header (request %u flags 0x%x "
                         "size %u)", rd32(m->buf), flags, vvu_in_size(m));
                return;
            }
        }
        if (m->have >= VVU_HDR_SIZE && vvu_in_need(m) == 0) {
            m->complete = true;
            vvu_try_deliver(s);
        }
    }
    vvu_bchan_update_handler(s);
}

static void vvu_bchan_update_handler(VirtIOVhostUser *s)
{
    bool want = s->bchan_fd >= 0 && !s->bchan_in.complete && !s->disconnect_pending &&
                (s->status & VVU_STATUS_FRONTEND_UP);

    if (s->bchan_fd >= 0) {
        qemu_set_fd_handler(s->bchan_fd, want ? vvu_bchan_read : NULL, NULL, s);
    }
}

/* ---- frontend messages: validation and translation ------------------------ */

/* Check one complete main-socket message against the table (spec 6.1). */
static bool vvu_check_msg(VirtIOVhostUser *s, VvuInMsg *m, const VvuReqRule **rulep,
                          Error **errp)
{
    char why[160];

    *rulep = vvu_rule_check(rd32(m->buf), m->buf + VVU_HDR_SIZE, vvu_in_size(m), m->nfds,
                            s->max_mem_slots, s->max_vhost_queues, why, sizeof(why));
    if (!*rulep) {
        error_setg(errp, "%s", why);
        return false;
    }
    return true;
}

/* Validate and translate a main-socket message; consumes the fds it keeps. */
static bool vvu_translate_msg(VirtIOVhostUser *s, VvuInMsg *m, Error **errp)
{
    uint32_t req = rd32(m->buf), flags = rd32(m->buf + 4);
    const uint8_t *p = m->buf + VVU_HDR_SIZE;
    const VvuReqRule *rule = NULL;

    if (flags & VU_FLAG_REPLY) {
        error_setg(errp, "request %u has the REPLY flag", req);
        return false;
    }
    if (!vvu_check_msg(s, m, &rule, errp)) {
        return false;
    }

    switch (req) {
    case VU_SET_MEM_TABLE:
        return vvu_set_mem_table(s, m, errp);
    case VU_ADD_MEM_REG:
        return vvu_add_mem_reg(s, m, errp);
    case VU_REM_MEM_REG:
        return vvu_rem_mem_reg(s, m, errp);
    case VU_SET_LOG_BASE:
        return vvu_set_log_base(s, m, errp);
    case VU_SET_LOG_FD:
        if (!vvu_is_eventfd(m->fds[0])) {
            error_setg(errp, "SET_LOG_FD: the fd is not an eventfd");
            return false;
        }
        if (s->has_log_call) {
            event_notifier_cleanup(&s->log_call);
        }
        vvu_set_nonblock(m->fds[0]);
        event_notifier_init_fd(&s->log_call, m->fds[0]);
        s->has_log_call = true;
        m->fds[0] = -1;
        return true;
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR: {
        uint64_t v = rd64(p);
        int fd = -1;

        if (m->nfds == 1) {
            if (!vvu_is_eventfd(m->fds[0])) {
                error_setg(errp, "%s: the fd is not an eventfd", rule->name);
                return false;
            }
            fd = m->fds[0];
            m->fds[0] = -1;
            vvu_set_nonblock(fd);
        }
        vvu_vring_set_fd(s, req, v & VU_VRING_IDX_MASK, fd);
        return true;
    }
    case VU_SET_BACKEND_REQ_FD:
        if (!vvu_is_socket(m->fds[0])) {
            error_setg(errp, "SET_BACKEND_REQ_FD: the fd is not a socket");
            return false;
        }
        vvu_bchan_close(s);
        s->bchan_fd = m->fds[0];
        m->fds[0] = -1;
        vvu_set_nonblock(s->bchan_fd);
        vvu_bchan_update_handler(s);
        return true;
    default:
        return true;
    }
}

/* ---- delivery on the rxq -------------------------------------------------- */

/* Put one complete message into an rxq buffer; false if no buffer is free. */
static bool vvu_deliver_one(VirtIOVhostUser *s, VvuInMsg *m, bool backend_channel)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtQueueElement *elem;
    size_t len = VVU_HDR_SIZE + vvu_in_size(m);

    if (!virtio_queue_ready(s->rxq) || !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK)) {
        return false;
    }
    elem = virtqueue_pop(s->rxq, sizeof(VirtQueueElement));
    if (!elem) {
        return false;
    }
    if (iov_size(elem->in_sg, elem->in_num) < len) {
        virtqueue_detach_element(s->rxq, elem, 0);
        g_free(elem);
        virtio_error(vdev, "virtio-vhost-user: rxq buffer smaller than %zu bytes", len);
        vvu_fail(s, "the guest driver posted a too small rxq buffer");
        return false;
    }
    if (backend_channel) {
        stl_le_p(m->buf + 4, rd32(m->buf + 4) | VVU_FLAG_BACKEND_CHANNEL);
    }
    iov_from_buf(elem->in_sg, elem->in_num, 0, m->buf, len);
    virtqueue_push(s->rxq, elem, len);
    g_free(elem);
    virtio_notify(vdev, s->rxq);
    vvu_in_reset(m);
    return true;
}

static void vvu_try_deliver(VirtIOVhostUser *s)
{
    if (!(s->status & VVU_STATUS_FRONTEND_UP) || s->disconnect_pending) {
        return;
    }
    if (s->main_in.complete && vvu_deliver_one(s, &s->main_in, false)) {
        qemu_chr_fe_accept_input(&s->chr);
    }
    if (s->bchan_in.complete && vvu_deliver_one(s, &s->bchan_in, true)) {
        vvu_bchan_update_handler(s);
    }
}

static void vvu_rxq_handle(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);

    vvu_try_deliver(s);
    vvu_bchan_update_handler(s);
}

/* ---- chardev --------------------------------------------------------------- */

static int vvu_chr_can_read(void *opaque)
{
    VirtIOVhostUser *s = opaque;

    if (!(s->status & VVU_STATUS_FRONTEND_UP) || s->disconnect_pending ||
        s->main_in.complete) {
        return 0;
    }
    return vvu_in_need(&s->main_in);
}

static void vvu_chr_read(void *opaque, const uint8_t *buf, int size)
{
    VirtIOVhostUser *s = opaque;
    VvuInMsg *m = &s->main_in;
    int fds[VVU_MAX_FDS];
    int nfds;
    Error *err = NULL;

    if (s->disconnect_pending || size <= 0) {
        return;
    }
    if ((uint32_t)size > vvu_in_need(m) || m->complete) {
        vvu_fail(s, "chardev delivered more than was asked for");
        return;
    }
    memcpy(m->buf + m->have, buf, size);
    m->have += size;
    nfds = qemu_chr_fe_get_msgfds(&s->chr, fds, VVU_MAX_FDS);
    for (int i = 0; i < nfds; i++) {
        if (m->nfds < VVU_MAX_FDS) {
            m->fds[m->nfds++] = fds[i];
        } else {
            close(fds[i]);
            vvu_fail(s, "message %u carries more than %d fds", rd32(m->buf),
                     VVU_MAX_FDS);
        }
    }
    if (m->have == VVU_HDR_SIZE) {
        char why[160];

        if (!vvu_rule_header_ok(rd32(m->buf), rd32(m->buf + 4), vvu_in_size(m),
                                VVU_MAX_MSG_SIZE, why, sizeof(why))) {
            vvu_fail(s, "%s", why);
            return;
        }
    }
    if (m->have < VVU_HDR_SIZE || vvu_in_need(m) > 0 || s->disconnect_pending) {
        return;
    }
    if (!vvu_translate_msg(s, m, &err)) {
        vvu_fail(s, "%s", error_get_pretty(err));
        error_free(err);
        return;
    }
    /* fds the translation did not keep (e.g. REM_MEM_REG's) are closed on delivery */
    m->complete = true;
    vvu_try_deliver(s);
}

/*
 * Frontend down (spec section 5 step 4). Idempotent; every path that ends a connection
 * comes here. disconnect says whether the socket must still be closed. The frontend's
 * memory stays in BAR 2 until the driver re-arms or resets (step 5): the driver may still
 * be reading the rings when the frontend goes, and must not find them torn down under it.
 */
static void vvu_frontend_down(VirtIOVhostUser *s, bool disconnect, const char *why)
{
    bool was_up = s->status & VVU_STATUS_FRONTEND_UP;

    if (why) {
        vvu_report(s, true, "disconnecting the vhost-user frontend: %s", why);
        /* The driver shows this as the port's last error (spec section 2). */
        s->refusals++;
        pstrcpy(s->reason, sizeof(s->reason), why);
    } else if (was_up) {
        vvu_report(s, false, "vhost-user frontend disconnected");
    }
    s->status &= ~VVU_STATUS_FRONTEND_UP;
    vvu_in_reset(&s->main_in);
    vvu_bchan_close(s);
    vvu_clear_fds(s);
    if (was_up) {
        s->armed = false;
    }
    if (disconnect && s->connected) {
        s->connected = false;
        qemu_chr_fe_disconnect(&s->chr);
    }
    if (was_up || why) {
        virtio_notify_config(VIRTIO_DEVICE(s));
    }
}

static void vvu_disconnect_bh(void *opaque)
{
    VirtIOVhostUser *s = opaque;
    g_autofree char *why = s->disconnect_reason;

    s->disconnect_reason = NULL;
    vvu_frontend_down(s, true, why ? why : "protocol error");
    s->disconnect_pending = false;
    vvu_update_state(s);
}

static void vvu_chr_event(void *opaque, QEMUChrEvent event)
{
    VirtIOVhostUser *s = opaque;

    switch (event) {
    case CHR_EVENT_OPENED:
        s->connected = true;
        vvu_in_reset(&s->main_in);
        vvu_update_state(s);
        break;
    case CHR_EVENT_CLOSED: {
        g_autofree char *why = NULL;

        s->connected = false;
        if ((s->status & VVU_STATUS_FRONTEND_UP) && s->main_in.have &&
            !s->main_in.complete) {
            why = g_strdup_printf("hung up mid-message, %u bytes in", s->main_in.have);
        }
        vvu_frontend_down(s, false, why);
        break;
    }
    default:
        break;
    }
}

/* FRONTEND_UP iff connected, armed, BACKEND_UP and DRIVER_OK (spec section 5 step 3). */
static void vvu_update_state(VirtIOVhostUser *s)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    bool up = s->connected && s->armed && (s->status & VVU_STATUS_BACKEND_UP) &&
              (vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) && !s->disconnect_pending;

    if (up && !(s->status & VVU_STATUS_FRONTEND_UP)) {
        s->status |= VVU_STATUS_FRONTEND_UP;
        /*
         * A frontend can come and go before the driver looks at the status: the
         * generation tells the driver one did, so that it re-arms (spec section 5).
         */
        s->frontend_gen++;
        vvu_report(s, false, "vhost-user frontend up");
        for (uint32_t i = 0; i < s->max_vhost_queues; i++) {
            vvu_vring_update_watch(&s->vrings[i]);
        }
        virtio_notify_config(vdev);
        qemu_chr_fe_accept_input(&s->chr);
    }
}

/* ---- txq: messages from the driver to the frontend ------------------------ */

static bool vvu_bchan_write(VirtIOVhostUser *s, const uint8_t *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t r = send(s->bchan_fd, buf + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return false;
        }
        done += r;
    }
    return true;
}

/* Check and send one txq message; false if it was discarded. */
static bool vvu_tx_one(VirtIOVhostUser *s, uint8_t *buf, size_t len)
{
    uint32_t req, flags, size;
    bool bchan;

    if (len < VVU_HDR_SIZE) {
        return false;
    }
    req = rd32(buf);
    flags = rd32(buf + 4);
    size = rd32(buf + 8);
    bchan = flags & VVU_FLAG_BACKEND_CHANNEL;
    flags &= ~VVU_FLAG_BACKEND_CHANNEL;
    if (size > VVU_MAX_MSG_SIZE || len != VVU_HDR_SIZE + size ||
        (flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION || (flags & ~VU_FLAG_KNOWN) ||
        !(s->status & VVU_STATUS_FRONTEND_UP)) {
        return false;
    }
    stl_le_p(buf + 4, flags);
    if (bchan) {
        if (s->bchan_fd < 0 || (flags & VU_FLAG_REPLY) ||
            req == VU_BACKEND_VRING_HOST_NOTIFIER_MSG ||
            req == VU_BACKEND_SHARED_OBJECT_ADD) {
            return false;
        }
        if (!vvu_bchan_write(s, buf, len)) {
            vvu_fail(s, "writing to the backend request channel failed");
        }
        return true;
    }
    if (!(flags & VU_FLAG_REPLY)) {
        return false;
    }
    if (req == VU_GET_PROTOCOL_FEATURES && size == 8) {
        uint64_t mask = VVU_TUNNELABLE_PROTOCOL_FEATURES;

        if (!vvu_log_window(s)) {
            mask &= ~(1ull << VU_PF_LOG_SHMFD);
        }
        wr64(buf + VVU_HDR_SIZE, rd64(buf + VVU_HDR_SIZE) & mask);
    } else if (req == VU_GET_FEATURES && size == 8 && !vvu_log_window(s)) {
        /* no log window: the frontend must not start a migration it cannot log */
        wr64(buf + VVU_HDR_SIZE, rd64(buf + VVU_HDR_SIZE) & ~(1ull << VU_F_LOG_ALL));
    } else if (req == VU_GET_MAX_MEM_SLOTS && size == 8) {
        wr64(buf + VVU_HDR_SIZE, MIN(rd64(buf + VVU_HDR_SIZE), s->max_mem_slots));
    }
    /*
     * Never block the vCPU (and the BQL) on a frontend that does not read its replies: a
     * reply that does not fit in the socket buffer at once ends the connection.
     */
    if (qemu_chr_fe_write(&s->chr, buf, len) != (int)len) {
        vvu_fail(s, "the frontend does not take its replies (socket full or closed)");
    }
    return true;
}

static void vvu_txq_handle(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);
    uint8_t buf[VVU_HDR_SIZE + VVU_MAX_MSG_SIZE];
    VirtQueueElement *elem;

    while ((elem = virtqueue_pop(vq, sizeof(VirtQueueElement)))) {
        size_t len = iov_size(elem->out_sg, elem->out_num);
        bool sent = false;

        if (len <= sizeof(buf)) {
            iov_to_buf(elem->out_sg, elem->out_num, 0, buf, len);
            sent = vvu_tx_one(s, buf, len);
        }
        if (!sent) {
            qemu_log_mask(LOG_GUEST_ERROR, "%s: discarded a txq message of %zu bytes\n",
                          vvu_id(s), len);
        }
        virtqueue_push(vq, elem, 0);
        g_free(elem);
    }
    virtio_notify(vdev, vq);
}

/*
 * Discard every txq buffer the driver has posted (used length 0). On re-arm (spec section 5
 * step 5) they are all replies to the frontend that is gone: the txq is processed when its
 * notification gets to the main loop, which can be after the next frontend came up, and a
 * stale reply must never reach that one.
 */
static void vvu_txq_discard(VirtIOVhostUser *s)
{
    VirtQueueElement *elem;
    bool any = false;

    if (!virtio_queue_ready(s->txq)) {
        return;
    }
    while ((elem = virtqueue_pop(s->txq, sizeof(VirtQueueElement)))) {
        virtqueue_push(s->txq, elem, 0);
        g_free(elem);
        any = true;
    }
    if (any) {
        virtio_notify(VIRTIO_DEVICE(s), s->txq);
    }
}

/* ---- BAR 0: doorbells and notification registers ------------------------- */

static uint64_t vvu_bar0_read(void *opaque, hwaddr addr, unsigned size)
{
    VirtIOVhostUser *s = opaque;
    uint32_t v = 0;

    if (addr >= VVU_NOTIFICATION_OFFSET &&
        addr < VVU_NOTIFICATION_OFFSET + VVU_NOTIFICATION_SIZE) {
        uint16_t sel = s->notification_select;
        uint16_t vec = sel < s->max_vhost_queues ? s->vrings[sel].vector :
                       VIRTIO_NO_VECTOR;

        v = sel | ((uint32_t)vec << 16);
        v >>= (addr - VVU_NOTIFICATION_OFFSET) * 8;
    }
    return size == 4 ? v : v & ((1u << (size * 8)) - 1);
}

static void vvu_bar0_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    VirtIOVhostUser *s = opaque;

    if (addr < VVU_NOTIFICATION_OFFSET) {
        unsigned d = addr / VVU_DOORBELL_MULTIPLIER;
        unsigned nq = s->max_vhost_queues;

        if (d < nq) {
            if (s->vrings[d].has_call) {
                event_notifier_set(&s->vrings[d].call);
            }
        } else if (d < 2 * nq) {
            if (s->vrings[d - nq].has_err) {
                event_notifier_set(&s->vrings[d - nq].err);
            }
        } else if (d == 2 * nq && s->has_log_call) {
            event_notifier_set(&s->log_call);
        }
        return;
    }
    if (addr == VVU_NOTIFICATION_OFFSET && size >= 2) {
        s->notification_select = val & 0xffff;
        if (size == 4) {
            addr += 2;
            val >>= 16;
        } else {
            return;
        }
    }
    if (addr == VVU_NOTIFICATION_OFFSET + 2 && size >= 2) {
        uint16_t sel = s->notification_select;
        uint16_t vec = val & 0xffff;

        if (sel >= s->max_vhost_queues) {
            return;
        }
        if (vec != VIRTIO_NO_VECTOR && vec >= vvu_nvectors(s)) {
            vec = VIRTIO_NO_VECTOR;
        }
        vvu_vector_use(s, s->vrings[sel].vector, vec);
        s->vrings[sel].vector = vec;
        vvu_vring_update_watch(&s->vrings[sel]);
    }
}

static const MemoryRegionOps vvu_bar0_ops = {
    .read = vvu_bar0_read,
    .write = vvu_bar0_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
    .impl = { .min_access_size = 1, .max_access_size = 4 },
};

/* ---- virtio device ------------------------------------------------------- */

static void vvu_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);

    memset(config, 0, sizeof(VvuConfig));
    stl_le_p(config + offsetof(VvuConfig, status), s->status);
    stl_le_p(config + offsetof(VvuConfig, max_vhost_queues), s->max_vhost_queues);
    memcpy(config + offsetof(VvuConfig, uuid), s->uuid.data, 16);
    stl_le_p(config + offsetof(VvuConfig, max_mem_slots), s->max_mem_slots);
    stl_le_p(config + offsetof(VvuConfig, max_msg_size), VVU_MAX_MSG_SIZE);
    stl_le_p(config + offsetof(VvuConfig, frontend_gen), s->frontend_gen);
    stl_le_p(config + offsetof(VvuConfig, refusals), s->refusals);
    memcpy(config + offsetof(VvuConfig, reason), s->reason, VVU_REASON_LEN);
    stl_le_p(config + offsetof(VvuConfig, log_gen), s->log_gen);
    if (s->log.used) {
        stq_le_p(config + offsetof(VvuConfig, log_offset), s->log.bar_off);
        stq_le_p(config + offsetof(VvuConfig, log_size), s->log.size);
    }
}

static void vvu_set_config(VirtIODevice *vdev, const uint8_t *config)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);
    uint32_t st = ldl_le_p(config) & VVU_STATUS_BACKEND_UP;
    bool was = s->status & VVU_STATUS_BACKEND_UP;

    if (st && !was) {
        s->status |= VVU_STATUS_BACKEND_UP;
        s->armed = true;
        vvu_update_state(s);
    } else if (!st && was) {
        s->status &= ~VVU_STATUS_BACKEND_UP;
        s->armed = false;
        if (s->status & VVU_STATUS_FRONTEND_UP) {
            vvu_frontend_down(s, true, NULL);
        }
        /* The driver is done with the last frontend: its memory, its replies (step 5). */
        vvu_unmap_all(s);
        vvu_txq_discard(s);
    }
}

static void vvu_set_status(VirtIODevice *vdev, uint8_t status)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);

    if (!vdev->vm_running) {
        return;
    }
    if (status & VIRTIO_CONFIG_S_DRIVER_OK) {
        vvu_update_state(s);
    }
}

static uint64_t vvu_get_features(VirtIODevice *vdev, uint64_t features, Error **errp)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);

    if (s->log_window) {
        virtio_add_feature(&features, VVU_F_LOG_WINDOW);
    }
    return features;
}

static void vvu_reset(VirtIODevice *vdev)
{
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(vdev);
    bool served = s->status & VVU_STATUS_FRONTEND_UP;

    vvu_frontend_down(s, served, NULL);
    vvu_unmap_all(s);
    s->status = 0;
    s->armed = false;
    s->notification_select = 0;
    for (uint32_t i = 0; i < s->max_vhost_queues; i++) {
        s->vrings[i].vector = VIRTIO_NO_VECTOR;
        vvu_vring_update_watch(&s->vrings[i]);
    }
}

static void vvu_device_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(dev);
    Chardev *chr = qemu_chr_fe_get_driver(&s->chr);

    if (!chr) {
        error_setg(errp, "virtio-vhost-user needs chardev=<id> (a unix socket)");
        return;
    }
    if (!qemu_chr_has_feature(chr, QEMU_CHAR_FEATURE_FD_PASS)) {
        error_setg(errp, "chardev '%s' cannot pass fds: use a unix socket", chr->label);
        return;
    }
    if (s->max_vhost_queues < 1 || s->max_vhost_queues > VVU_MAX_VRINGS_LIMIT) {
        error_setg(errp, "max-vhost-queues must be 1..%u", VVU_MAX_VRINGS_LIMIT);
        return;
    }
    if (s->max_mem_slots < 1 || s->max_mem_slots > VVU_MAX_SLOTS_LIMIT) {
        error_setg(errp, "max-mem-slots must be 1..%u", VVU_MAX_SLOTS_LIMIT);
        return;
    }
    if (s->shm_size < 64 * MiB || s->shm_size > 64 * GiB || !is_power_of_2(s->shm_size)) {
        error_setg(errp, "shm-size must be a power of two from 64M to 64G");
        return;
    }

    virtio_init(vdev, VIRTIO_ID_VHOST_USER_VVU, sizeof(VvuConfig));
    s->rxq = virtio_add_queue(vdev, VVU_RXQ_SIZE, vvu_rxq_handle);
    s->txq = virtio_add_queue(vdev, VVU_TXQ_SIZE, vvu_txq_handle);

    s->vrings = g_new0(VvuVring, s->max_vhost_queues);
    for (uint32_t i = 0; i < s->max_vhost_queues; i++) {
        s->vrings[i].s = s;
        s->vrings[i].index = i;
        s->vrings[i].vector = VIRTIO_NO_VECTOR;
    }
    s->regions = g_new0(VvuRegion, s->max_mem_slots);
    s->bchan_fd = -1;
    s->disconnect_bh = qemu_bh_new(vvu_disconnect_bh, s);

    memory_region_init_io(&s->bar0, OBJECT(s), &vvu_bar0_ops, s, "vvu-doorbells",
                          VVU_BAR0_SIZE);
    memory_region_init(&s->shm, OBJECT(s), "vvu-shm", s->shm_size);

    qemu_chr_fe_set_handlers(&s->chr, vvu_chr_can_read, vvu_chr_read, vvu_chr_event,
                             NULL, s, NULL, true);
}

static void vvu_device_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOVhostUser *s = VIRTIO_VHOST_USER(dev);

    qemu_chr_fe_set_handlers(&s->chr, NULL, NULL, NULL, NULL, NULL, NULL, false);
    if (s->connected) {
        /* unplugged: the frontend must not wait for a backend that is gone */
        s->connected = false;
        qemu_chr_fe_disconnect(&s->chr);
    }
    s->status &= ~VVU_STATUS_FRONTEND_UP;
    vvu_in_reset(&s->main_in);
    vvu_bchan_close(s);
    vvu_clear_fds(s);
    vvu_unmap_all(s);
    qemu_bh_delete(s->disconnect_bh);
    g_free(s->disconnect_reason);
    virtio_delete_queue(s->rxq);
    virtio_delete_queue(s->txq);
    virtio_cleanup(vdev);
    g_free(s->vrings);
    g_free(s->regions);
    qemu_chr_fe_deinit(&s->chr, false);
}

static const VMStateDescription vmstate_vvu = {
    .name = "virtio-vhost-user",
    .unmigratable = 1,
};

static Property vvu_properties[] = {
    DEFINE_PROP_CHR("chardev", VirtIOVhostUser, chr),
    DEFINE_PROP_UUID("uuid", VirtIOVhostUser, uuid),
    DEFINE_PROP_UINT32("max-vhost-queues", VirtIOVhostUser, max_vhost_queues, 16),
    DEFINE_PROP_UINT32("max-mem-slots", VirtIOVhostUser, max_mem_slots, 32),
    DEFINE_PROP_SIZE("shm-size", VirtIOVhostUser, shm_size, 1 * GiB),
    DEFINE_PROP_BOOL("allow-unsealed-memory", VirtIOVhostUser, allow_unsealed, false),
    DEFINE_PROP_BOOL("log-window", VirtIOVhostUser, log_window, true),
    DEFINE_PROP_END_OF_LIST(),
};

static void vvu_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, vvu_properties);
    dc->vmsd = &vmstate_vvu;
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
    vdc->realize = vvu_device_realize;
    vdc->unrealize = vvu_device_unrealize;
    vdc->get_config = vvu_get_config;
    vdc->set_config = vvu_set_config;
    vdc->get_features = vvu_get_features;
    vdc->set_status = vvu_set_status;
    vdc->reset = vvu_reset;
}

static const TypeInfo vvu_info = {
    .name = TYPE_VIRTIO_VHOST_USER,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOVhostUser),
    .class_init = vvu_class_init,
};

typedef struct VvuUnmap {
    struct rcu_head rcu;
    void *map;
    size_t len;
} VvuUnmap;

static void vvu_unmap_rcu(VvuUnmap *u)
{
    munmap(u->map, u->len);
    g_free(u);
}

/*
 * The last reference is gone: no FlatView maps the MemoryRegion any more. A reader that
 * found the RAMBlock before it left the list may still be inside its RCU critical section,
 * so a mapping of our own (a log) goes one grace period later, like a RAMBlock's.
 */
static void vvu_region_mem_finalize(Object *obj)
{
    VvuRegionMem *mem = VVU_REGION_MEM(obj);
    VvuUnmap *u;

    if (!mem->map) {
        return;
    }
    u = g_new0(VvuUnmap, 1);
    u->map = mem->map;
    u->len = mem->map_len;
    mem->map = NULL;
    call_rcu(u, vvu_unmap_rcu, rcu);
}

static const TypeInfo vvu_region_mem_info = {
    .name = TYPE_VVU_REGION_MEM,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(VvuRegionMem),
    .instance_finalize = vvu_region_mem_finalize,
};

static void vvu_register_types(void)
{
    type_register_static(&vvu_region_mem_info);
    type_register_static(&vvu_info);
}

type_init(vvu_register_types)
