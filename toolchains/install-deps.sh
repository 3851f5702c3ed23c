#!/bin/sh
# Installs every Debian package in debian-packages.txt that is missing, enabling the
# arm64/armhf foreign architectures first. Quiet and quick when all is present.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
list="$here/debian-packages.txt"

pkgs=$(grep -v '^[[:space:]]*#' "$list" | sed '/^[[:space:]]*$/d')

native=$(dpkg --print-architecture)
installed() {
	# A bare name means the native architecture (or "all"); with multiarch
	# enabled a bare query would also match the :arm64/:armhf instances.
	case "$1" in
	*:*) q="$1" ;;
	*) q="$1:$native" ;;
	esac
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$q" 2>/dev/null)" = installed ] && return 0
	case "$1" in *:*) return 1 ;; esac
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1:all" 2>/dev/null)" = installed ]
}

missing=""
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: missing packages:$missing; run as root or install sudo" >&2
		exit 1
	fi
else
	SUDO=""
fi

echo "install-deps: installing:$missing"
need_update=0
for a in arm64 armhf; do
	if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
		$SUDO dpkg --add-architecture "$a"
		need_update=1
	fi
done
if [ $need_update -eq 1 ] || [ ! -d /var/lib/apt/lists ] || \
   [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -i debian | head -n 1)" ]; then
	$SUDO apt-get update -qq
fi
# shellcheck disable=SC2086
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/tmp/flotilla-apt.log 2>&1; then
	# Lists may be stale on a machine that was idle a while; refresh once and retry.
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/tmp/flotilla-apt.log 2>&1 || {
		echo "install-deps: apt-get install failed; see /tmp/flotilla-apt.log" >&2
		tail -n 20 /tmp/flotilla-apt.log >&2
		exit 1
	}
fi
# mosquitto's Debian package starts a broker on :1883; tests start their own brokers.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
	$SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true
fi
echo "install-deps: done"
