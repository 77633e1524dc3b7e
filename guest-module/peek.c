// SPDX-License-Identifier: GPL-2.0
/*
 * ballast_peek.ko: the balloon device's configuration space as the device
 * holds it, whichever driver is bound (Linux's virtio_balloon, ballast.ko or
 * none), in /sys/kernel/debug/ballast_peek/config:
 *
 *   num_pages N
 *   actual N
 *   [poison_val N]    once the driver accepted PAGE_POISON
 *
 * The suite reads `actual` here for VMMs whose control plane cannot report
 * it, so the value is the device's own, not what a control plane says. The
 * read goes through the virtio transport's config accessor, the path the
 * driver itself uses; it changes nothing on the device.
 *
 * The module binds nothing: its virtio driver has an empty id table and is
 * registered only to find the virtio bus, which is not exported.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/virtio.h>
#include <linux/virtio_balloon.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

static const struct virtio_device_id peek_no_ids[] = {
	{ 0 },
};

static int peek_probe(struct virtio_device *vdev)
{
	return -ENODEV;
}

static void peek_remove(struct virtio_device *vdev)
{
}

static struct virtio_driver peek_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = peek_no_ids,
	.probe = peek_probe,
	.remove = peek_remove,
};

static struct dentry *peek_dir;

static int is_balloon(struct device *dev, const void *data)
{
	return dev_to_virtio(dev)->id.device == VIRTIO_ID_BALLOON;
}

static int peek_config_show(struct seq_file *m, void *unused)
{
	struct virtio_device *vdev;
	struct device *dev;
	u32 num_pages, actual, poison_val;

	dev = bus_find_device(peek_driver.driver.bus, NULL, NULL, is_balloon);
	if (!dev)
		return -ENODEV;
	vdev = dev_to_virtio(dev);
	virtio_cread_le(vdev, struct virtio_balloon_config, num_pages, &num_pages);
	virtio_cread_le(vdev, struct virtio_balloon_config, actual, &actual);
	seq_printf(m, "num_pages %u\nactual %u\n", num_pages, actual);
	/*
	 * The field exists only with the feature. __virtio_test_bit: the
	 * checked accessor BUG()s on a bit the bound driver never lists.
	 */
	if (__virtio_test_bit(vdev, VIRTIO_BALLOON_F_PAGE_POISON)) {
		virtio_cread_le(vdev, struct virtio_balloon_config, poison_val, &poison_val);
		seq_printf(m, "poison_val %u\n", poison_val);
	}
	put_device(dev);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(peek_config);

static int __init peek_init(void)
{
	int err = register_virtio_driver(&peek_driver);

	if (err)
		return err;
	peek_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("config", 0444, peek_dir, NULL, &peek_config_fops);
	return 0;
}

static void __exit peek_exit(void)
{
	debugfs_remove_recursive(peek_dir);
	unregister_virtio_driver(&peek_driver);
}

module_init(peek_init);
module_exit(peek_exit);
MODULE_DESCRIPTION("The virtio balloon's config space as the device holds it");
MODULE_LICENSE("GPL");
