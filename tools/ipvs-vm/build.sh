#!/usr/bin/env bash
# Builds the throw-away IPVS test VM: Debian's own kernel (linux-image-amd64, which
# has ip_vs, the schedulers, dummy, veth, ipset and iptables as modules) plus an
# initrd with busybox, ipvsadm, ipset, iptables-legacy, conntrack, iproute2 and socat copied
# from this host, and tools/ipvs-vm/init (the command channel).
# Output: $SVCNET_IPVS_VM_CACHE (default /var/cache/svcnet-ipvs-vm)/{vmlinuz,initrd.cpio.gz}.
# Artifacts live outside the repo and are rebuilt only when init or this script change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${SVCNET_IPVS_VM_CACHE:-/var/cache/svcnet-ipvs-vm}
mkdir -p "$CACHE"; cd "$CACHE"

stamp=$(cat "$here/build.sh" "$here/init" | sha256sum | cut -c1-16)
if [ -f vmlinuz ] && [ -f initrd.cpio.gz ] && [ "$(cat stamp 2>/dev/null)" = "$stamp" ]; then
  echo "ipvs-vm: up to date in $CACHE"; exit 0
fi

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
[ -x /bin/busybox ] || need+=(busybox-static)
for t in ipvsadm ipset conntrack xtables-legacy-multi socat; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  need=("${need[@]/xtables-legacy-multi/iptables}")
  echo "ipvs-vm: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# apt's sandbox user cannot write here; download into a temp dir it can reach.
if ! ls linux-image-*.deb >/dev/null 2>&1; then
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { apt-get update -qq; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); }
  dl=$(mktemp -d); chmod 777 "$dl"
  (cd "$dl" && apt-get download "$pkg" >/dev/null)
  mv "$dl"/linux-image-*.deb .; rm -rf "$dl"
fi

rm -rf kpkg root; mkdir kpkg
# Only the parts needed: the kernel image and the net/virtio/crypto modules.
dpkg-deb --fsys-tarfile "$(ls linux-image-*.deb | head -1)" | tar -x -C kpkg --wildcards \
  "./boot/vmlinuz-*" "./lib/modules/*/kernel/net/*" "./lib/modules/*/kernel/drivers/net/*" \
  "./lib/modules/*/kernel/drivers/virtio/*" "./lib/modules/*/kernel/drivers/char/*" \
  "./lib/modules/*/kernel/crypto/*" "./lib/modules/*/kernel/lib/*"
KV=$(ls kpkg/lib/modules/ | head -1)
MODDIR=kpkg/lib/modules/$KV/kernel
mkdir -p root/{bin,sbin,usr/sbin,usr/bin,lib/modules,lib64,lib/x86_64-linux-gnu,proc,sys,dev,run,tmp,var,www}

# Kernel modules: resolve each wanted module's dependencies from its .modinfo
# "depends=" (no depmod needed) and write them in load order.
declare -A path_of seen
while IFS= read -r f; do n=${f##*/}; n=${n%.ko}; path_of[${n//-/_}]=$f; done < <(find "$MODDIR" -name '*.ko')
order=()
resolve() {
  local m=${1//-/_} f deps d
  [ -n "${seen[$m]:-}" ] && return 0
  seen[$m]=1
  f=${path_of[$m]:-}
  [ -n "$f" ] || { echo "ipvs-vm: module $m not found" >&2; return 1; }
  deps=$(grep -ao 'depends=[a-z0-9_,-]*' "$f" | head -1 | cut -d= -f2 | tr ',' ' ')
  for d in $deps; do resolve "$d"; done
  order+=("$m")
}
WANT="crc32c_generic virtio_pci virtio_console dummy veth nf_conntrack nf_conntrack_netlink nf_nat
  ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_sh ip_vs_dh ip_vs_sed ip_vs_nq ip_vs_mh
  ip_tables iptable_nat iptable_filter ipt_REJECT xt_MASQUERADE xt_mark xt_comment xt_addrtype
  xt_conntrack xt_multiport xt_set ip_set_hash_ip ip_set_hash_ipport ip_set_hash_ipportip
  ip_set_hash_ipportnet ip_set_hash_net ip_set_bitmap_port"
for m in $WANT; do resolve "$m"; done
: > root/lib/modules/load-order
for m in "${order[@]}"; do cp "${path_of[$m]}" "root/lib/modules/$m.ko"; echo "$m" >> root/lib/modules/load-order; done

# Userland: busybox for the shell and servers; the real kernel tools from this host; socat for
# UDP (busybox's nc has no UDP).
cp /bin/busybox root/bin/busybox
bins=(/usr/sbin/ipvsadm /usr/sbin/ipset /usr/sbin/conntrack /usr/sbin/xtables-legacy-multi "$(command -v ip)" "$(command -v socat)")
for b in "${bins[@]}"; do cp -L "$b" root/usr/sbin/; done
for n in iptables iptables-save iptables-restore; do ln -sf xtables-legacy-multi "root/usr/sbin/$n"; done
mkdir -p root/usr/lib/x86_64-linux-gnu/xtables
cp /usr/lib/x86_64-linux-gnu/xtables/libxt_*.so /usr/lib/x86_64-linux-gnu/xtables/libipt_*.so root/usr/lib/x86_64-linux-gnu/xtables/
libs=$( { ldd "${bins[@]}"; ldd root/usr/lib/x86_64-linux-gnu/xtables/*.so; } 2>/dev/null | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | grep '^/' | sort -u)
for l in $libs; do mkdir -p "root$(dirname "$l")"; cp -L "$l" "root$l"; done
# ipset and iptables resolve protocol names (tcp, udp) through /etc/protocols.
mkdir -p root/etc; cp /etc/protocols /etc/services root/etc/
cp "$here/init" root/init; chmod +x root/init
cp "kpkg/boot/vmlinuz-$KV" vmlinuz
(cd root && find . | cpio -o -H newc --quiet | gzip -1) > initrd.cpio.gz
rm -rf kpkg root
echo "$stamp" > stamp
echo "ipvs-vm: built kernel $KV in $CACHE ($(du -h initrd.cpio.gz | cut -f1) initrd)"
