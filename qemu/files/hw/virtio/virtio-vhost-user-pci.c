/*
 * SPDX-License-Identifier: MIT
 * PCI proxy of the virtio-vhost-user device: modern-only virtio PCI, plus BAR 0 (doorbells and
 * notification registers), BAR 2 (shared memory) and their vendor capabilities, as laid out in
 * docs/virtio-vhost-user.md section 4. It trusts the device model for everything else.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-vhost-user.h"
#include "standard-headers/linux/virtio_pci.h"

typedef struct VirtIOVhostUserPCI VirtIOVhostUserPCI;

#define TYPE_VIRTIO_VHOST_USER_PCI "virtio-vhost-user-pci-base"
DECLARE_INSTANCE_CHECKER(VirtIOVhostUserPCI, VIRTIO_VHOST_USER_PCI,
                         TYPE_VIRTIO_VHOST_USER_PCI)

struct VirtIOVhostUserPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOVhostUser vdev;
};

#define VVU_PCI_BAR_DOORBELL 0
#define VVU_PCI_BAR_SHM      2

static Property vvu_pci_properties[] = {
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors, DEV_NVECTORS_UNSPECIFIED),
    DEFINE_PROP_END_OF_LIST(),
};

/* Add a vendor capability; cap points at a struct whose first member is virtio_pci_cap. */
static bool vvu_pci_add_cap(PCIDevice *pdev, struct virtio_pci_cap *cap, Error **errp)
{
    int off = pci_add_capability(pdev, PCI_CAP_ID_VNDR, 0, cap->cap_len, errp);

    if (off < 0) {
        return false;
    }
    memcpy(pdev->config + off + PCI_CAP_FLAGS, &cap->cap_len, cap->cap_len - PCI_CAP_FLAGS);
    return true;
}

static void vvu_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIOVhostUserPCI *dev = VIRTIO_VHOST_USER_PCI(vpci_dev);
    VirtIOVhostUser *s = &dev->vdev;
    PCIDevice *pdev = &vpci_dev->pci_dev;
    struct virtio_pci_notify_cap doorbell = {};
    struct virtio_pci_cap notification = {};
    struct virtio_pci_cap64 shm = {};

    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = s->max_vhost_queues + 3;
    }
    /*
     * Standard config space holds 192 bytes of capabilities. A PCI Express endpoint spends 68
     * of them (Express + PM) and the virtio ones need 100, which leaves no room for our 60:
     * the device is a conventional PCI function, also behind a pcie-root-port.
     */
    if (pci_is_express(pdev)) {
        error_setg(errp, "virtio-vhost-user-pci cannot be PCI Express: keep x-disable-pcie=on");
        return;
    }
    /* BAR 0 carries our doorbells, so there is no legacy I/O BAR. */
    virtio_pci_force_virtio_1(vpci_dev);
    if (vpci_dev->flags & VIRTIO_PCI_FLAG_MODERN_PIO_NOTIFY) {
        error_setg(errp, "virtio-vhost-user-pci uses BAR 2: modern-pio-notify must be off");
        return;
    }
    if (!qdev_realize(DEVICE(s), BUS(&vpci_dev->bus), errp)) {
        return;
    }

    pci_register_bar(pdev, VVU_PCI_BAR_DOORBELL, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->bar0);
    pci_register_bar(pdev, VVU_PCI_BAR_SHM,
                     PCI_BASE_ADDRESS_SPACE_MEMORY | PCI_BASE_ADDRESS_MEM_PREFETCH |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->shm);

    doorbell.cap.cap_len = sizeof(doorbell);
    doorbell.cap.cfg_type = VVU_PCI_CAP_DOORBELL_CFG;
    doorbell.cap.bar = VVU_PCI_BAR_DOORBELL;
    doorbell.cap.offset = cpu_to_le32(VVU_DOORBELL_OFFSET);
    doorbell.cap.length = cpu_to_le32(VVU_DOORBELL_MULTIPLIER *
                                      (2 * s->max_vhost_queues + 1));
    doorbell.notify_off_multiplier = cpu_to_le32(VVU_DOORBELL_MULTIPLIER);

    notification.cap_len = sizeof(notification);
    notification.cfg_type = VVU_PCI_CAP_NOTIFICATION_CFG;
    notification.bar = VVU_PCI_BAR_DOORBELL;
    notification.offset = cpu_to_le32(VVU_NOTIFICATION_OFFSET);
    notification.length = cpu_to_le32(VVU_NOTIFICATION_SIZE);

    shm.cap.cap_len = sizeof(shm);
    shm.cap.cfg_type = VVU_PCI_CAP_SHARED_MEMORY_CFG;
    shm.cap.bar = VVU_PCI_BAR_SHM;
    shm.cap.id = 0;
    shm.cap.offset = 0;
    shm.cap.length = cpu_to_le32((uint32_t)s->shm_size);
    shm.offset_hi = 0;
    shm.length_hi = cpu_to_le32((uint32_t)(s->shm_size >> 32));

    if (!vvu_pci_add_cap(pdev, &doorbell.cap, errp) ||
        !vvu_pci_add_cap(pdev, &notification, errp) ||
        !vvu_pci_add_cap(pdev, &shm.cap, errp)) {
        return;
    }
}

static void vvu_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = vvu_pci_realize;
    set_bit(DEVICE_CATEGORY_NETWORK, dc->categories);
    device_class_set_props(dc, vvu_pci_properties);
    pcidev_k->vendor_id = PCI_VENDOR_ID_REDHAT_QUMRANET;
    pcidev_k->device_id = PCI_DEVICE_ID_VIRTIO_10_BASE + VIRTIO_ID_VHOST_USER_VVU;
    pcidev_k->revision = 1;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
}

static void vvu_pci_instance_init(Object *obj)
{
    VirtIOVhostUserPCI *dev = VIRTIO_VHOST_USER_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_VHOST_USER);
    /* after the property defaults: see the capability budget in vvu_pci_realize() */
    VIRTIO_PCI(obj)->flags |= VIRTIO_PCI_FLAG_DISABLE_PCIE;
    /* virtio_instance_init_common() aliases the device's properties to the proxy. */
}

static const VirtioPCIDeviceTypeInfo vvu_pci_info = {
    .base_name = TYPE_VIRTIO_VHOST_USER_PCI,
    .non_transitional_name = "virtio-vhost-user-pci",
    .instance_size = sizeof(VirtIOVhostUserPCI),
    .instance_init = vvu_pci_instance_init,
    .class_init = vvu_pci_class_init,
};

static void vvu_pci_register(void)
{
    virtio_pci_types_register(&vvu_pci_info);
}

type_init(vvu_pci_register)
