#!/bin/sh
# Lays a `flotilla device provision ID --out BUNDLE_DIR` bundle into a device
# root filesystem (a directory, e.g. Yocto's IMAGE_ROOTFS or Buildroot's
# TARGET_DIR) with the paths and modes the agent expects:
#   /etc/flotilla/{agent.conf,ca.pem,device.pem,root-keys.pem} 0644,
#   /etc/flotilla/device.key 0600, /etc/flotilla/firmware.conf (default if absent),
#   /var/lib/flotilla{,-agent} 0750, systemd units enabled when present.
# Usage: provision-rootfs.sh BUNDLE_DIR ROOTFS_DIR
set -eu

die() { echo "provision-rootfs.sh: $*" >&2; exit 1; }
[ $# -eq 2 ] || { echo "usage: provision-rootfs.sh BUNDLE_DIR ROOTFS_DIR" >&2; exit 2; }
bundle=$1
root=$2
here=$(cd "$(dirname "$0")" && pwd)
[ -d "$bundle" ] || die "bundle '$bundle' is not a directory; run 'flotilla device provision ID --out DIR'"
[ -d "$root" ] || die "root filesystem '$root' is not a directory"
for f in agent.conf ca.pem device.pem device.key root-keys.pem; do
  [ -f "$bundle/$f" ] || die "bundle '$bundle' lacks $f; re-run 'flotilla device provision'"
done
grep -q '^[[:space:]]*id[[:space:]]*=' "$bundle/agent.conf" || die "$bundle/agent.conf has no device id"

# install(1) sets the mode on a file that never exists with a wider one.
etc="$root/etc/flotilla"
install -d -m 0755 "$etc"
for f in agent.conf ca.pem device.pem root-keys.pem; do
  install -m 0644 "$bundle/$f" "$etc/$f"
done
umask 077
install -m 0600 "$bundle/device.key" "$etc/device.key"
umask 022
if [ ! -f "$etc/firmware.conf" ]; then
  install -m 0644 "$here/firmware.conf" "$etc/firmware.conf"
fi
install -d -m 0750 "$root/var/lib/flotilla" "$root/var/lib/flotilla/agent" \
  "$root/var/lib/flotilla/firmware" "$root/var/lib/flotilla-agent"

# Units and their enablement, as `systemctl enable` would link them.
units="$root/lib/systemd/system"
wants="$root/etc/systemd/system/multi-user.target.wants"
install -d -m 0755 "$units" "$wants"
for u in flotilla-agent.service flotilla-confirm.service; do
  [ -f "$units/$u" ] || install -m 0644 "$here/$u" "$units/$u"
  ln -sf "/lib/systemd/system/$u" "$wants/$u"
done

# The agent binary goes to agent slot A when the image carries it in /usr/bin.
if [ -x "$root/usr/bin/flotilla-agent" ] && [ ! -e "$root/var/lib/flotilla/agent/slot-a/flotilla-agent" ]; then
  install -d -m 0755 "$root/var/lib/flotilla/agent/slot-a"
  install -m 0755 "$root/usr/bin/flotilla-agent" "$root/var/lib/flotilla/agent/slot-a/flotilla-agent"
fi
echo "provisioned $(sed -n 's/^[[:space:]]*id[[:space:]]*=[[:space:]]*//p' "$bundle/agent.conf" | head -n 1) into $root"
