#!/usr/bin/env bash
# Scripts/package-deb.sh — build plugin-host (which is plugin-host-runner too) for release with the Swift
# standard library linked in (--static-swift-stdlib: no Swift toolchain needed on the device) and
# put them, stripped, in a Debian package with their manual pages, the systemd unit, the default
# config, the maintainer scripts, the changelog and the copyright file (Packaging/). lintian
# finds no error or warning in it. Documentation/Packaging.md describes the package;
# Scripts/test-package.sh tests it.
#
# Usage: Scripts/package-deb.sh [--output DIR] [--swift-sdk SDK]
#   --output DIR      where the .deb goes (default .build/packages); the last line printed is its path
#   --swift-sdk SDK   cross-compile with this Swift SDK (`swift sdk list`); the package's
#                     architecture follows the SDK's target. Not exercised by the project's tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { sed -n '9,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
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

# dpkg-deb comes with dpkg; dpkg-parsechangelog and dpkg-shlibdeps (dpkg-dev) read the changelog
# and, on a native build, compute Depends.
if ! command -v dpkg-parsechangelog >/dev/null 2>&1 || ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
    . Scripts/lib/apt-install.sh
    apt_install dpkg-dev || fail "dpkg-parsechangelog and dpkg-shlibdeps (Debian's dpkg-dev) are needed"
fi

# The package's version, maintainer and date come from the top entry of its changelog. Its
# upstream part must be the one version constant of the SDK and the host (`plugin-host --version`
# prints it), with a pre-release suffix ("0.2.0-beta.1") as "~beta.1", which dpkg orders before
# the release; the Debian revision after the last "-" counts changes of the packaging alone.
changelog=Packaging/debian/changelog
version=$(sed -n 's/^ *public static let current = "\([^"]*\)".*/\1/p' Sources/SDKVersion/Version.swift)
[ -n "$version" ] || fail "no IoTSDKVersion.current in Sources/SDKVersion/Version.swift"
deb_version=$(dpkg-parsechangelog -l "$changelog" -S Version)
[ "${deb_version%-*}" = "${version/-/\~}" ] \
    || fail "$changelog starts with version $deb_version, but IoTSDKVersion.current is $version: add an entry for ${version/-/\~}-1 at its top (dch -v ${version/-/\~}-1 -c $changelog)"
maintainer=$(dpkg-parsechangelog -l "$changelog" -S Maintainer)
# The changelog's date stands for the build's, where a date is written (the manual pages), so
# that the same sources give the same package.
release_date=$(date -u -d "@$(dpkg-parsechangelog -l "$changelog" -S Timestamp)" +%Y-%m-%d)

# ------------------------------------------------------------------------------------ build
# The same release build folder as Scripts/test.sh's lab binaries, so that little is compiled
# again. A target's static and dynamic builds have one path: the lab step links the runner again
# without --static-swift-stdlib after this, so the binaries are copied out right away.
build=(swift build -c release --static-swift-stdlib)
[ -z "$sdk" ] || build+=(--swift-sdk "$sdk")
# --no-export-dynamic: the static stdlib's link arguments (static-stdlib-args.lnk) export every
# global symbol of the package's own objects (14,235 of them: its modules, swift-crypto,
# BoringSSL, ArgumentParser...), and an exported symbol is a root that --gc-sections cannot drop.
# Nothing looks them up: a module gets the host's functions through the host table, and the one
# dlsym(RTLD_DEFAULT) is for a glibc function. Measured on x86-64 (same objects, relinked): the
# stripped plugin-host 24.35 -> 22.50 MB, no dynamic symbol left; the peak RSS of `plugin-host
# install` (median of 3, /proc VmHWM) 18.9 -> 17.8 MB with only the library, 20.0 -> 18.9 MB for
# 20,000 entries; Scripts/test-package.sh 53 passed, 0 failed. It changes the link only: the
# objects stay those of Scripts/test.sh's release builds. Only the package's build gets it, so
# no other product's link changes.
link=(-Xlinker --no-export-dynamic)
# One executable: plugin-host runs the module runner when it is started as plugin-host-runner, so
# the package carries plugin-host and a link of that name to it (one Swift runtime on flash, and
# code pages that the host and every runner share: Documentation/Architecture.md has the figures).
echo "package-deb: ${build[*]} ${link[*]} --product plugin-host" >&2
"${build[@]}" "${link[@]}" --product plugin-host >&2
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
# Stripped as Debian wants binaries (as dh_strip does: strip --strip-unneeded, and without the
# .comment and .note sections): without debug information and without the symbol table. The unstripped binaries stay in the build folder,
# for a debugger or perf that needs names. The toolchain's llvm-objcopy reads every target's ELF
# files, so this works for cross builds too.
command -v llvm-objcopy >/dev/null || fail "no llvm-objcopy: it comes with the Swift toolchain (usr/bin), put that on PATH"
install -D -m 0755 "$bindir/plugin-host" "$root/usr/bin/plugin-host"
before=$(stat -c %s "$root/usr/bin/plugin-host")
llvm-objcopy --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/plugin-host"
echo "package-deb: plugin-host stripped: $before -> $(stat -c %s "$root/usr/bin/plugin-host") bytes" >&2
ln -s plugin-host "$root/usr/bin/plugin-host-runner"
install -D -m 0644 Packaging/plugin-host.service "$root/lib/systemd/system/plugin-host.service"
install -D -m 0644 Packaging/plugin-host.default "$root/etc/default/plugin-host"
doc=$root/usr/share/doc/$package
for page in Packaging Updates Runtime ModuleImage Troubleshooting; do
    install -D -m 0644 "Documentation/$page.md" "$doc/$page.md"
done
install -m 0644 Packaging/debian/copyright "$doc/copyright"
# gzip -n: no name or time stamp in the header, so that the same sources give the same bytes.
gzip -9n <"$changelog" >"$doc/changelog.Debian.gz"
install -D -m 0644 Packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/$package"

# ------------------------------------------------------------------------ manual pages
# plugin-host's page is generated from its argument parser: swift-argument-parser's own
# generate-manual tool (what its generate-manual plugin runs, but without the plugin's release
# build of every product) reads `plugin-host --experimental-dump-help`. The tool is built from the
# checkout SwiftPM resolved, in a scratch folder of its own. A cross-built plugin-host cannot run
# here, so the page then comes from a native debug build of it (same commands, same options).
# The runner parses its command line by hand; its page is written by hand (Packaging/).
man=$root/usr/share/man/man1
mkdir -p "$man"
parser=$(swift package show-dependencies --format json | sed -n 's/.*"path" *: *"\([^"]*\/swift-argument-parser\)".*/\1/p' | head -n 1)
[ -d "$parser" ] || fail "swift-argument-parser's checkout not found (swift package show-dependencies)"
echo "package-deb: swift build --package-path $parser --product generate-manual" >&2
swift build --package-path "$parser" --scratch-path .build/tools/argument-parser -c release --product generate-manual >&2
generate_manual=$(swift build --package-path "$parser" --scratch-path .build/tools/argument-parser -c release --show-bin-path)/generate-manual
if [ -z "$sdk" ]; then
    described=$root/usr/bin/plugin-host
else
    swift build --product plugin-host >&2
    described=$(swift build --show-bin-path)/plugin-host
fi
pages=$staging/man
mkdir -p "$pages"
"$generate_manual" "$described" --date "$release_date" --section 1 --authors "${maintainer/ </<}" --output-directory "$pages" >&2
[ -s "$pages/plugin-host.1" ] || fail "generate-manual made no plugin-host.1"
cp Packaging/plugin-host-runner.1 "$pages/"
for page in plugin-host.1 plugin-host-runner.1; do
    gzip -9n <"$pages/$page" >"$man/$page.gz"
    chmod 0644 "$man/$page.gz"
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
    depends=$(cd "$staging/src" && dpkg-shlibdeps -O "$root/usr/bin/plugin-host" | sed -n 's/^shlibs:Depends=//p')
else
    # A cross build: the target's dpkg database is not here. The libraries these binaries link
    # have the same package names on Debian 12 and Raspberry Pi OS 12 on every architecture.
    needed=$(readelf -d "$root/usr/bin/plugin-host" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
    depends=
    for soname in $needed; do
        case "$soname" in
            libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|ld-linux-*) name=libc6 ;;
            libstdc++.so.6) name=libstdc++6 ;;
            libgcc_s.so.1) name=libgcc-s1 ;;
            libsqlite3.so.0) name=libsqlite3-0 ;;
            libz.so.1) name=zlib1g ;;
            libzstd.so.1) name=libzstd1 ;;
            libffi.so.8) name=libffi8 ;;
            *) fail "no package known for $soname, which the cross-built binaries need: add it here" ;;
        esac
        case ", $depends, " in *", $name, "*) ;; *) depends=${depends:+$depends, }$name ;; esac
    done
fi
[ -n "$depends" ] || fail "no Depends found: is plugin-host linked statically? As the runner it needs the dynamic loader to load modules"
# libcurl is loaded at run time by the process that pulls from a registry (dlopen of
# libcurl.so.4, Sources/CIoTCurl), not linked, so no NEEDED entry names it. 7.64 (Debian 10) has
# every option the registry client sets.
depends="$depends, libcurl4 (>= 7.64)"
# libmosquitto is loaded the same way (Sources/CIoTMosquitto) only when `run` is given --mqtt-url:
# recommended, not required, for a host without an uplink.
recommends="libmosquitto1 (>= 2.0)"

# The files' checksums, for `dpkg --verify` (debsums) on the device.
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: $package
Version: $deb_version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_size
Depends: $depends
Recommends: $recommends
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
