#!/usr/bin/env bash
# Scripts/package-deb.sh — build plugin-host and plugin-host-runner for release with the Swift
# standard library linked in (--static-swift-stdlib: no Swift toolchain needed on the device) and
# put them in a Debian package with the systemd unit, the default config and the maintainer
# scripts. Documentation/Packaging.md describes the package; Scripts/test-package.sh tests it.
#
# Usage: Scripts/package-deb.sh [--output DIR] [--swift-sdk SDK]
#   --output DIR      where the .deb goes (default .build/packages); the last line printed is its path
#   --swift-sdk SDK   cross-compile with this Swift SDK (`swift sdk list`); the package's
#                     architecture follows the SDK's target. Not exercised by the project's tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '7,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "package-deb: $*" >&2; exit 1; }

output=.build/packages
sdk=
while [ $# -gt 0 ]; do
    case "$1" in
        --output) [ $# -ge 2 ] || fail "--output needs a directory"; output=$2; shift 2 ;;
        --swift-sdk) [ $# -ge 2 ] || fail "--swift-sdk needs an SDK name"; sdk=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown argument '$1'" ;;
    esac
done

package=plugin-host
maintainer="IoTSDK maintainers <iotsdk-maintainers@example.invalid>"

# The one version constant of the SDK and the host (`plugin-host --version` prints it). A
# pre-release suffix ("0.2.0-beta.1") becomes "~beta.1", which dpkg orders before the release.
version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' Sources/SDKVersion/Version.swift)
[ -n "$version" ] || fail "no IoTSDKVersion.current in Sources/SDKVersion/Version.swift"
deb_version=${version/-/\~}

# dpkg-deb comes with dpkg; dpkg-shlibdeps (dpkg-dev) computes Depends on a native build.
if [ -z "$sdk" ] && ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
    . Scripts/lib/apt-install.sh
    apt_install dpkg-dev || fail "dpkg-shlibdeps (Debian's dpkg-dev) is needed"
fi

# ------------------------------------------------------------------------------------ build
# The same release build folder as Scripts/test.sh's lab binaries, so that little is compiled
# again. A target's static and dynamic builds have one path: the lab step links the runner again
# without --static-swift-stdlib after this, so the binaries are copied out right away.
build=(swift build -c release --static-swift-stdlib)
[ -z "$sdk" ] || build+=(--swift-sdk "$sdk")
for product in plugin-host plugin-host-runner; do
    echo "package-deb: ${build[*]} --product $product" >&2
    "${build[@]}" --product "$product" >&2
done
bindir=$("${build[@]}" --show-bin-path)

if [ -z "$sdk" ]; then
    arch=$(dpkg --print-architecture)
else
    # The bin path is .build/<target triple>/release.
    triple=$(basename "$(dirname "$bindir")")
    case "${triple%%-*}" in
        aarch64|arm64) arch=arm64 ;;
        armv7*) arch=armhf ;;
        x86_64) arch=amd64 ;;
        *) fail "no Debian architecture known for target '$triple'" ;;
    esac
fi

# ------------------------------------------------------------------------------ the tree
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
root=$staging/root
mkdir -p "$root/DEBIAN"
install -D -m 0755 "$bindir/plugin-host" "$root/usr/bin/plugin-host"
install -D -m 0755 "$bindir/plugin-host-runner" "$root/usr/bin/plugin-host-runner"
# Without their debug information (a fifth of plugin-host); the symbol table stays, so that a
# debugger or perf on the device still names functions. The toolchain's llvm-objcopy reads every
# target's ELF files.
command -v llvm-objcopy >/dev/null || fail "no llvm-objcopy: it comes with the Swift toolchain (usr/bin), put that on PATH"
llvm-objcopy --strip-debug "$root/usr/bin/plugin-host"
llvm-objcopy --strip-debug "$root/usr/bin/plugin-host-runner"
install -D -m 0644 Packaging/plugin-host.service "$root/lib/systemd/system/plugin-host.service"
install -D -m 0644 Packaging/plugin-host.default "$root/etc/default/plugin-host"
for doc in Packaging Updates Runtime ModuleImage Troubleshooting; do
    install -D -m 0644 "Documentation/$doc.md" "$root/usr/share/doc/$package/$doc.md"
done
for script in postinst prerm postrm; do
    install -m 0755 "Packaging/debian/$script" "$root/DEBIAN/$script"
done
echo /etc/default/plugin-host >"$root/DEBIAN/conffiles"

# ------------------------------------------------------------------------------- Depends
# The shared libraries the binaries really load (ELF NEEDED entries), as package names.
if [ -z "$sdk" ]; then
    # dpkg-shlibdeps asks dpkg which package holds each library, with the lowest version the
    # symbols used need. It reads debian/control, so it runs in a scratch source tree.
    mkdir -p "$staging/src/debian"
    printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" >"$staging/src/debian/control"
    depends=$(cd "$staging/src" && dpkg-shlibdeps -O "$root/usr/bin/plugin-host" "$root/usr/bin/plugin-host-runner" | sed -n 's/^shlibs:Depends=//p')
else
    # A cross build: the target's dpkg database is not here. The libraries these binaries link
    # have the same package names on Debian 12 and Raspberry Pi OS 12 on every architecture.
    needed=$(for b in plugin-host plugin-host-runner; do readelf -d "$root/usr/bin/$b"; done | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
    depends=
    for soname in $needed; do
        case "$soname" in
            libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|ld-linux-*) name=libc6 ;;
            libstdc++.so.6) name=libstdc++6 ;;
            libgcc_s.so.1) name=libgcc-s1 ;;
            libsqlite3.so.0) name=libsqlite3-0 ;;
            libz.so.1) name=zlib1g ;;
            libffi.so.8) name=libffi8 ;;
            *) fail "no package known for $soname, which the cross-built binaries need: add it here" ;;
        esac
        case ", $depends, " in *", $name, "*) ;; *) depends=${depends:+$depends, }$name ;; esac
    done
fi
[ -n "$depends" ] || fail "no Depends found: are the binaries linked statically? plugin-host-runner needs the dynamic loader to load modules"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $package
Version: $deb_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Section: admin
Priority: optional
Description: IoTSDK plugin host: runs signed app modules, sandboxed
 plugin-host installs signed module images, runs each module sandboxed in its
 own runner process, hands it the GPIO lines and I2C addresses its manifest
 declares and nothing else, and rolls an update back by itself when the new
 version is not healthy. The package installs the plugin-host service
 (systemd), enabled.
 .
 The binaries carry the Swift runtime (static Swift standard library): the
 device needs no Swift toolchain.
EOF

mkdir -p "$output"
deb=$output/${package}_${deb_version}_${arch}.deb
# xz at level 1: 17 % larger than dpkg-deb's default level 6 (26 MB against 22 MB), and four times
# faster on the 97 MB of binaries (10 s against 41 s here); any dpkg unpacks it.
dpkg-deb --build --root-owner-group -Zxz -z1 "$root" "$deb" >&2
echo "$deb"
