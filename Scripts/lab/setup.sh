#!/usr/bin/env bash
# Scripts/lab/setup.sh — prepare the real-Linux-kernel test lab (QEMU/TCG + Debian kernel).
#
# Idempotent. A cold run installs host packages, downloads Debian's kernel, headers, kbuild and
# source packages, builds irq_sim.ko and gpio-sim.ko out of tree, collects the Debian modules the
# lab needs and extracts an uncompressed vmlinux for PVH boot. A warm rerun only checks and takes
# seconds. Everything lands in ${LAB_CACHE:-<repo>/.lab-cache}; nothing is written to the repo.
#
# Output for run.sh: $LAB_CACHE/lab.env (shell-sourceable: LAB_KERNEL_ABI, LAB_VMLINUX, ...).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
LAB_CACHE=${LAB_CACHE:-$REPO_ROOT/.lab-cache}

# Debian modules the guest needs (their dependencies are added automatically) and the
# out-of-tree ones built here. Order here is only a preference; dependencies come first.
WANTED_MODULES=(configfs irq_sim gpio-sim i2c-dev i2c-stub)
# A virtio disk with ext4 on it, for Scripts/lab/powercut.sh only (loaded by its guest script, not
# by /init). crc32c_generic is ext4's and jbd2's checksum: a soft dependency that .modinfo's
# depends= does not name. Listed in modules/disk.order.
DISK_MODULES=(virtio_pci virtio_blk crc32c_generic ext4)
# Host packages (checked with dpkg-query; installed only when missing).
# The compiler the kernel was built with (gcc-12 for Debian 12) is added after the headers are
# unpacked, from their .kernelvariables.
HOST_PACKAGES=(qemu-system-x86 busybox-static cpio xz-utils gzip make binutils
               coreutils findutils util-linux grep sed)

log()  { printf '[lab-setup] %s\n' "$*" >&2; }
die()  {
    local l
    for l in ${STEP_LINES[@]+"${STEP_LINES[@]}"}; do log "$l"; done   # quiet mode: show the steps so far
    printf '[lab-setup] ERROR: %s\n' "$*" >&2
    exit 1
}

now() { date +%s.%N; }
SETUP_T0=$(now)
STEP_NAME=""
STEP_T0=""
step_begin() { STEP_NAME=$1; STEP_T0=$(now); }
# LAB_SETUP_QUIET=1 (run.sh sets it): the step table is printed only when setup took over 3 s,
# i.e. when it did real work; a warm run prints just the final "ready" line.
STEP_LINES=()
step_end() {
    local t1 line; t1=$(now)
    line=$(printf '%-34s %6.2f s%s' "$STEP_NAME" "$(elapsed "$STEP_T0" "$t1")" "${1:+  ($1)}")
    if [ "${LAB_SETUP_QUIET:-0}" = 1 ]; then STEP_LINES+=("$line"); else log "$line"; fi
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get install / apt-get download / dpkg -x)"
command -v apt-get >/dev/null || die "apt-get not found: the lab needs a Debian host"

mkdir -p "$LAB_CACHE"
# Serialise concurrent setups (two run.sh at once) on one cache.
exec 9>"$LAB_CACHE/.setup.lock"
flock 9

export DEBIAN_FRONTEND=noninteractive
APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" = 0 ]; then
        log "apt-get update"
        apt-get update -q >"$LAB_CACHE/apt-update.log" 2>&1 \
            || { cat "$LAB_CACHE/apt-update.log" >&2; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
}

pkg_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

# ---------------------------------------------------------------------------------------------
# 1. Host packages
# ---------------------------------------------------------------------------------------------
step_begin "host packages"
missing=()
for p in "${HOST_PACKAGES[@]}"; do
    pkg_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing missing host packages: ${missing[*]}"
    apt_update_once
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$LAB_CACHE/apt-install.log" 2>&1 \
        || { tail -n 40 "$LAB_CACHE/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
    for p in "${missing[@]}"; do pkg_installed "$p" || die "package $p still not installed"; done
    step_end "installed ${#missing[@]}"
else
    step_end "all present"
fi
for c in qemu-system-x86_64 cpio xz make objcopy flock timeout; do
    command -v "$c" >/dev/null || die "command $c missing after package installation"
done
BUSYBOX=$(dpkg -L busybox-static | grep -E '/bin/busybox$' | head -n1)
[ -x "$BUSYBOX" ] || die "busybox-static is installed but its busybox binary was not found"

# ---------------------------------------------------------------------------------------------
# 2. Resolve the kernel packages (at run time: versioned kernels leave the archive)
# ---------------------------------------------------------------------------------------------
step_begin "resolve kernel packages"
resolve_image() {
    apt-cache depends linux-image-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
# One `apt-cache madison` call for all five packages (each apt-cache call costs ~0.5 s).
# madison lists each package's versions newest first.
MADISON=""
versions_of() { printf '%s\n' "$MADISON" | awk -F'|' -v p="$1" '{gsub(/ /,"",$1); gsub(/ /,"",$2); if ($1 == p) print $2}'; }
has_version() { versions_of "$1" | grep -qxF "$2"; }
newest_version() { versions_of "$1" | head -n1; }
resolve_all() {
    IMAGE_PKG=$(resolve_image)
    [ -n "$IMAGE_PKG" ] || return 1
    KABI=${IMAGE_PKG#linux-image-}                    # 6.1.0-56-amd64
    KSERIES=$(echo "$KABI" | cut -d. -f1,2)           # 6.1
    HEADERS_PKG=linux-headers-$KABI
    COMMON_PKG=linux-headers-${KABI%-amd64}-common
    KBUILD_PKG=linux-kbuild-$KSERIES
    SOURCE_PKG=linux-source-$KSERIES
    MADISON=$(apt-cache madison "$IMAGE_PKG" "$HEADERS_PKG" "$COMMON_PKG" "$KBUILD_PKG" "$SOURCE_PKG" 2>/dev/null || true)
    IMAGE_VER=$(newest_version "$IMAGE_PKG")
    [ -n "$IMAGE_VER" ] || return 1
    has_version "$HEADERS_PKG" "$IMAGE_VER" || return 1
    has_version "$COMMON_PKG" "$IMAGE_VER" || return 1
    # kbuild and source: the image's exact version first, else the newest available.
    if has_version "$KBUILD_PKG" "$IMAGE_VER"; then KBUILD_VER=$IMAGE_VER
    else KBUILD_VER=$(newest_version "$KBUILD_PKG"); fi
    if has_version "$SOURCE_PKG" "$IMAGE_VER"; then SOURCE_VER=$IMAGE_VER
    else SOURCE_VER=$(newest_version "$SOURCE_PKG"); fi
    [ -n "$KBUILD_VER" ] && [ -n "$SOURCE_VER" ]
}
# The answer only changes when apt's package lists change: remember it against a fingerprint
# of those lists, so a warm run skips the apt-cache calls (~1.2 s).
apt_lists_fingerprint() {
    find /var/lib/apt/lists -maxdepth 1 -type f -name '*Packages*' -printf '%f %s %T@\n' 2>/dev/null \
        | LC_ALL=C sort | md5sum | cut -d' ' -f1
}
RESOLVED=$LAB_CACHE/resolved.env
resolve_kernel() {
    local fp; fp=$(apt_lists_fingerprint)
    if [ -f "$RESOLVED" ] && [ "$(sed -n 's/^APT_LISTS_FP=//p' "$RESOLVED")" = "$fp" ]; then
        # shellcheck source=/dev/null
        . "$RESOLVED"
        resolved_from="same apt lists as last time"
        return 0
    fi
    if ! resolve_all; then
        log "kernel packages not resolvable from the current apt lists; refreshing them"
        apt_update_once
        resolve_all || die "cannot resolve linux-image-amd64 and its headers/kbuild/source packages (see apt-cache depends linux-image-amd64)"
        fp=$(apt_lists_fingerprint)
    fi
    {
        echo "APT_LISTS_FP=$fp"
        local v
        for v in IMAGE_PKG IMAGE_VER KABI KSERIES HEADERS_PKG COMMON_PKG KBUILD_PKG KBUILD_VER SOURCE_PKG SOURCE_VER; do
            printf '%s=%q\n' "$v" "${!v}"
        done
    } >"$RESOLVED.tmp" && mv "$RESOLVED.tmp" "$RESOLVED"
    resolved_from="resolved with apt-cache"
}
resolve_kernel
step_end "$IMAGE_PKG $IMAGE_VER; kbuild $KBUILD_VER; source $SOURCE_VER; $resolved_from"

# ---------------------------------------------------------------------------------------------
# 3. Download the .debs (cached by file name)
# ---------------------------------------------------------------------------------------------
step_begin "download kernel packages"
mkdir -p "$LAB_CACHE/debs"
DEBS=()
fetched=0
deb_path() {  # deb_path PKG VER -> cached file (may not exist)
    local v=${2//:/%3a}
    compgen -G "$LAB_CACHE/debs/${1}_${v}_*.deb" | head -n1 || true
}
download_deb() {  # download_deb PKG VER; returns 1 (after logging) when apt-get download fails
    local pkg=$1 ver=$2 f tmp
    f=$(deb_path "$pkg" "$ver")
    if [ -n "$f" ] && dpkg-deb --info "$f" >/dev/null 2>&1; then DEBS+=("$f"); return 0; fi
    [ -z "$f" ] || rm -f "$f"
    tmp=$(mktemp -d "$LAB_CACHE/debs/.dl.XXXXXX")
    if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$ver" >"$tmp/log" 2>&1); then
        tail -n 5 "$tmp/log" >&2
        rm -rf "$tmp"
        log "apt-get download $pkg=$ver failed"
        return 1
    fi
    f=$(compgen -G "$tmp/*.deb" | head -n1 || true)
    if [ -z "$f" ] || ! dpkg-deb --info "$f" >/dev/null 2>&1; then
        rm -rf "$tmp"; die "download of $pkg=$ver produced no valid .deb"
    fi
    mv "$f" "$LAB_CACHE/debs/"
    rm -rf "$tmp"
    DEBS+=("$LAB_CACHE/debs/$(basename "$f")")
    fetched=$((fetched + 1))
}
download_all() {
    DEBS=()
    download_deb "$IMAGE_PKG" "$IMAGE_VER" &&
    download_deb "$HEADERS_PKG" "$IMAGE_VER" &&
    download_deb "$COMMON_PKG" "$IMAGE_VER" &&
    download_deb "$KBUILD_PKG" "$KBUILD_VER" &&
    download_deb "$SOURCE_PKG" "$SOURCE_VER"
}
if ! download_all; then
    [ "$APT_UPDATED" = 0 ] || die "cannot download the kernel packages"
    # Stale lists: the archive may have moved on to a newer kernel. Refresh and resolve again.
    log "refreshing apt lists and resolving the kernel packages again"
    apt_update_once
    rm -f "$RESOLVED"
    resolve_kernel
    log "now using $IMAGE_PKG $IMAGE_VER; kbuild $KBUILD_VER; source $SOURCE_VER"
    download_all || die "cannot download the kernel packages even after apt-get update"
fi
KDIR=$LAB_CACHE/kernels/${KABI}_${IMAGE_VER}
ROOT=$KDIR/root
STAMPS=$KDIR/stamps
mkdir -p "$STAMPS"
step_end "$fetched downloaded, $((${#DEBS[@]} - fetched)) cached"

# ---------------------------------------------------------------------------------------------
# 4. Unpack them (dpkg -x) into the kernel's cache dir
# ---------------------------------------------------------------------------------------------
step_begin "unpack packages (dpkg -x)"
unpacked=0
# A damaged cache (files removed by hand) is unpacked again rather than trusted.
if [ ! -e "$ROOT/boot/vmlinuz-$KABI" ] || [ ! -d "$ROOT/lib/modules/$KABI/kernel" ] \
   || [ ! -f "$ROOT/usr/src/linux-headers-$KABI/Makefile" ] || [ ! -f "$ROOT/usr/src/linux-source-$KSERIES.tar.xz" ]; then
    rm -f "$STAMPS"/unpacked.*
fi
for f in "${DEBS[@]}"; do
    s=$STAMPS/unpacked.$(basename "$f")
    [ -f "$s" ] && continue
    dpkg -x "$f" "$ROOT" || die "dpkg -x $f failed"
    touch "$s"
    unpacked=$((unpacked + 1))
done
MODROOT=$ROOT/lib/modules/$KABI
HDR=$ROOT/usr/src/linux-headers-$KABI
VMLINUZ=$ROOT/boot/vmlinuz-$KABI
SRC_TARBALL=$ROOT/usr/src/linux-source-$KSERIES.tar.xz
for p in "$MODROOT/kernel" "$HDR/Makefile" "$VMLINUZ" "$SRC_TARBALL" \
         "$ROOT/usr/src/linux-headers-${KABI%-amd64}-common/Makefile" "$ROOT/usr/lib/linux-kbuild-$KSERIES/scripts"; do
    [ -e "$p" ] || die "expected $p after unpacking the kernel packages"
done
# The kernel's compiler (CC = ... gcc-12 in the headers' .kernelvariables) must be on the host.
KCC=$(sed -n 's/^CC = .*\(gcc-[0-9][0-9]*\)$/\1/p' "$HDR/.kernelvariables" | head -n1)
[ -n "$KCC" ] || die "cannot tell the kernel's compiler from $HDR/.kernelvariables"
if ! command -v "$KCC" >/dev/null; then
    log "installing the kernel's compiler $KCC"
    if ! apt-get install -y -q --no-install-recommends "$KCC" >"$LAB_CACHE/apt-install.log" 2>&1; then
        apt_update_once
        apt-get install -y -q --no-install-recommends "$KCC" >"$LAB_CACHE/apt-install.log" 2>&1 \
            || { tail -n 40 "$LAB_CACHE/apt-install.log" >&2; die "apt-get install $KCC failed"; }
    fi
    command -v "$KCC" >/dev/null || die "$KCC still missing after installing it"
fi
step_end "$unpacked unpacked; compiler $KCC"

# ---------------------------------------------------------------------------------------------
# 5. Extract the needed source files from the linux-source tarball
# ---------------------------------------------------------------------------------------------
step_begin "extract gpio-sim/irq_sim sources"
SRC=$KDIR/src
TOP=linux-source-$KSERIES
SRC_FILES=(drivers/gpio/gpio-sim.c drivers/gpio/gpiolib.h kernel/irq/irq_sim.c)
if [ ! -f "$STAMPS/src" ]; then
    rm -rf "$SRC"; mkdir -p "$SRC"
    tar -xJf "$SRC_TARBALL" -C "$SRC" "${SRC_FILES[@]/#/$TOP/}" \
        || die "could not extract ${SRC_FILES[*]} from $SRC_TARBALL"
    # Anything they include that the headers packages lack: quoted includes next to the file,
    # and <...> includes found in none of the headers' include dirs. Fetch those in a 2nd pass.
    inc_dirs=("$ROOT/usr/src/linux-headers-${KABI%-amd64}-common/include"
              "$ROOT/usr/src/linux-headers-${KABI%-amd64}-common/arch/x86/include"
              "$ROOT/usr/src/linux-headers-${KABI%-amd64}-common/arch/x86/include/uapi"
              "$ROOT/usr/src/linux-headers-${KABI%-amd64}-common/include/uapi"
              "$HDR/include" "$HDR/arch/x86/include/generated" "$HDR/arch/x86/include/generated/uapi")
    for _ in 1 2 3; do
        extra=()
        while IFS= read -r -d '' f; do
            rel=${f#"$SRC/$TOP/"}
            dir=$(dirname "$rel")
            while IFS= read -r q; do
                [ -e "$SRC/$TOP/$dir/$q" ] || extra+=("$TOP/$(realpath -m --relative-to=. "$dir/$q")")
            done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
            while IFS= read -r a; do
                found=0
                for d in "${inc_dirs[@]}"; do [ -e "$d/$a" ] && { found=1; break; }; done
                [ "$found" = 1 ] || [ -e "$SRC/$TOP/include/$a" ] || extra+=("$TOP/include/$a")
            done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f")
        done < <(find "$SRC/$TOP" -type f -print0)
        [ "${#extra[@]}" -eq 0 ] && break
        log "also extracting from the source tarball: ${extra[*]}"
        tar -xJf "$SRC_TARBALL" -C "$SRC" "${extra[@]}" || die "could not extract ${extra[*]} from $SRC_TARBALL"
    done
    touch "$STAMPS/src"
    step_end "extracted"
else
    step_end "cached"
fi

# ---------------------------------------------------------------------------------------------
# 6. Build irq_sim.ko and gpio-sim.ko out of tree
# ---------------------------------------------------------------------------------------------
step_begin "build irq_sim.ko + gpio-sim.ko"
BUILD=$KDIR/build
if [ ! -f "$STAMPS/build" ] || [ ! -f "$BUILD/gpio-sim.ko" ] || [ ! -f "$BUILD/irq_sim.ko" ]; then
    rm -rf "$BUILD"; mkdir -p "$BUILD"
    cp "$SRC/$TOP/drivers/gpio/gpio-sim.c" "$SRC/$TOP/drivers/gpio/gpiolib.h" \
       "$SRC/$TOP/kernel/irq/irq_sim.c" "$BUILD/"
    if [ -d "$SRC/$TOP/include" ]; then
        printf 'ccflags-y += -I%s\n' "$SRC/$TOP/include" >"$BUILD/Kbuild"
    fi
    printf 'obj-m += irq_sim.o gpio-sim.o\n' >>"$BUILD/Kbuild"
    # irq_to_desc() is not exported to modules; generic_handle_irq(irqnum) does the same job.
    sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' "$BUILD/irq_sim.c"
    if ! grep -q 'generic_handle_irq(irqnum);' "$BUILD/irq_sim.c" || grep -q 'irq_to_desc' "$BUILD/irq_sim.c"; then
        die "could not patch irq_sim.c (irq_to_desc call not found in the expected form)"
    fi
    grep -q 'MODULE_LICENSE' "$BUILD/irq_sim.c" || printf '\nMODULE_LICENSE("GPL");\n' >>"$BUILD/irq_sim.c"
    # The headers' Makefile includes /usr/src/linux-headers-*-common/Makefile by absolute path.
    sed -i "s#^include .*/usr/src/linux-headers-#include $ROOT/usr/src/linux-headers-#" "$HDR/Makefile"
    grep -qF "include $ROOT/usr/src/linux-headers-" "$HDR/Makefile" || die "could not repoint $HDR/Makefile at the unpacked headers"
    if ! make -C "$HDR" M="$BUILD" modules >"$BUILD/build.log" 2>&1; then
        cat "$BUILD/build.log" >&2
        die "out-of-tree build of irq_sim/gpio-sim failed (log above, also $BUILD/build.log)"
    fi
    for m in irq_sim gpio-sim; do
        [ -f "$BUILD/$m.ko" ] || die "$m.ko was not produced (see $BUILD/build.log)"
        vm=$(objcopy -O binary --only-section=.modinfo "$BUILD/$m.ko" /dev/stdout | tr '\0' '\n' | sed -n 's/^vermagic=//p')
        case "$vm" in "$KABI "*) ;; *) die "$m.ko has vermagic '$vm', expected $KABI";; esac
    done
    touch "$STAMPS/build"
    step_end "built"
else
    step_end "cached"
fi

# ---------------------------------------------------------------------------------------------
# 7. Collect the modules (with their dependencies, in dependency order)
# ---------------------------------------------------------------------------------------------
step_begin "collect modules + insmod order"
MODOUT=$KDIR/modules
ORDER=$MODOUT/insmod.order
DISK_ORDER=$MODOUT/disk.order
if [ ! -f "$STAMPS/modules" ] || [ ! -f "$ORDER" ] || [ ! -f "$DISK_ORDER" ]; then
    rm -rf "$MODOUT"; mkdir -p "$MODOUT"
    declare -A MOD_PATH=() BUILTIN=() STATE=()
    norm() { echo "${1//-/_}"; }
    while IFS= read -r -d '' f; do
        b=${f##*/}; b=${b%.xz}; b=${b%.zst}; b=${b%.gz}; b=${b%.ko}
        MOD_PATH[${b//-/_}]=$f
    done < <(find "$MODROOT/kernel" -type f \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz' \) -print0)
    MOD_PATH[irq_sim]=$BUILD/irq_sim.ko
    MOD_PATH[gpio_sim]=$BUILD/gpio-sim.ko
    while IFS= read -r l; do
        b=${l##*/}; b=${b%%.ko*}; BUILTIN[${b//-/_}]=1
    done <"$MODROOT/modules.builtin"
    ORDERED=()
    # Decompressed copy of a module file into $MODOUT (unstripped: Debian's are signed).
    materialise() {  # materialise SRC -> prints dest path
        local s=$1 b d; b=$(basename "$s")
        case "$b" in
            *.ko.xz)  d=$MODOUT/${b%.xz};  xz -dc "$s" >"$d" ;;
            *.ko.zst) d=$MODOUT/${b%.zst}; command -v zstd >/dev/null || die "zstd needed for $s"; zstd -qdc "$s" >"$d" ;;
            *.ko.gz)  d=$MODOUT/${b%.gz};  gzip -dc "$s" >"$d" ;;
            *)        d=$MODOUT/$b; cp "$s" "$d" ;;
        esac
        echo "$d"
    }
    visit() {  # depth-first, dependencies first
        local n; n=$(norm "$1")
        [ "${BUILTIN[$n]:-}" = 1 ] && return 0
        case "${STATE[$n]:-}" in done) return 0;; visiting) die "module dependency cycle at $n";; esac
        [ -n "${MOD_PATH[$n]:-}" ] || die "module $1 not found in $MODROOT/kernel (nor built here)"
        STATE[$n]=visiting
        local dest deps d
        dest=$(materialise "${MOD_PATH[$n]}")
        deps=$(objcopy -O binary --only-section=.modinfo "$dest" /dev/stdout | tr '\0' '\n' | sed -n 's/^depends=//p')
        local IFS=,
        for d in $deps; do [ -n "$d" ] && visit "$d"; done
        STATE[$n]="done"
        ORDERED+=("$(basename "$dest")")
    }
    for m in "${WANTED_MODULES[@]}"; do visit "$m"; done
    printf '%s\n' "${ORDERED[@]}" >"$ORDER.tmp" && mv "$ORDER.tmp" "$ORDER"
    ORDERED=()   # the disk set: those not already in insmod.order (/init loads them first)
    for m in "${DISK_MODULES[@]}"; do visit "$m"; done
    printf '%s\n' "${ORDERED[@]}" >"$DISK_ORDER.tmp" && mv "$DISK_ORDER.tmp" "$DISK_ORDER"
    touch "$STAMPS/modules"
    step_end "$(tr '\n' ' ' <"$ORDER")+ disk: $(tr '\n' ' ' <"$DISK_ORDER")"
else
    step_end "cached: $(tr '\n' ' ' <"$ORDER")+ disk: $(tr '\n' ' ' <"$DISK_ORDER")"
fi

# ---------------------------------------------------------------------------------------------
# 8. Uncompressed vmlinux for PVH boot (ELF after the xz magic inside vmlinuz)
# ---------------------------------------------------------------------------------------------
step_begin "extract vmlinux (PVH)"
VMLINUX=$KDIR/vmlinux
if [ ! -f "$STAMPS/vmlinux" ] || [ ! -s "$VMLINUX" ]; then
    ok=0
    while read -r off; do
        # tail gets SIGPIPE when xz stops after the first stream: ignore its status.
        if { tail -c +"$((off + 1))" "$VMLINUZ" || true; } | xz -dc --single-stream >"$VMLINUX.tmp" 2>/dev/null \
           && [ "$(head -c 4 "$VMLINUX.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
            ok=1; break
        fi
    done < <(LC_ALL=C grep -aobUP '\xfd7zXZ\x00' "$VMLINUZ" | LC_ALL=C tr -d '\0' | cut -d: -f1 || true)
    [ "$ok" = 1 ] || { rm -f "$VMLINUX.tmp"; die "no xz-compressed ELF found inside $VMLINUZ"; }
    mv "$VMLINUX.tmp" "$VMLINUX"
    touch "$STAMPS/vmlinux"
    step_end "$(du -h "$VMLINUX" | cut -f1)"
else
    step_end "cached"
fi

# ---------------------------------------------------------------------------------------------
# 9. Publish for run.sh; drop other kernels' files from the cache
# ---------------------------------------------------------------------------------------------
cat >"$LAB_CACHE/lab.env.tmp" <<EOF
# written by Scripts/lab/setup.sh — do not edit
LAB_KERNEL_PACKAGE=$IMAGE_PKG
LAB_KERNEL_VERSION=$IMAGE_VER
LAB_KERNEL_ABI=$KABI
LAB_KERNEL_DIR=$KDIR
LAB_VMLINUX=$VMLINUX
LAB_MODULE_DIR=$MODOUT
LAB_MODULE_ORDER=$ORDER
LAB_DISK_MODULE_ORDER=$DISK_ORDER
LAB_BUSYBOX=$BUSYBOX
EOF
mv "$LAB_CACHE/lab.env.tmp" "$LAB_CACHE/lab.env"
for d in "$LAB_CACHE"/kernels/*; do
    [ "$d" = "$KDIR" ] || { log "removing stale kernel dir $d"; rm -rf "$d"; }
done
for f in "$LAB_CACHE"/debs/*.deb; do
    keep=0
    for k in "${DEBS[@]}"; do [ "$f" = "$k" ] && keep=1; done
    [ "$keep" = 1 ] || { log "removing stale download $(basename "$f")"; rm -f "$f"; }
done

TOTAL=$(elapsed "$SETUP_T0" "$(now)")
if [ "${LAB_SETUP_QUIET:-0}" = 1 ] && awk -v t="$TOTAL" 'BEGIN { exit !(t > 3) }'; then
    for l in "${STEP_LINES[@]}"; do log "$l"; done
fi
log "$(printf 'ready: kernel %s (%s) in %.1f s; cache %s' "$KABI" "$IMAGE_VER" "$TOTAL" "$LAB_CACHE")"
