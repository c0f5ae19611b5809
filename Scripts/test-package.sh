#!/usr/bin/env bash
# Scripts/test-package.sh — builds the plugin-host Debian package (Scripts/package-deb.sh) and
# checks it as a device would get it (Documentation/Packaging.md):
#   1. the control fields, the conffile, the maintainer scripts, every file and its mode, no
#      test-only code in the binaries, and lintian (Debian's own judge) reporting no error and no
#      warning;
#   2. `dpkg -x` into a scratch root: the binaries need no Swift library (ldd), and, with the
#      Swift toolchain hidden (a private mount namespace with an empty /opt/swift), the installed
#      plugin-host prints its version and its doctor gives the verdicts expected here;
#   3. as root: `dpkg --root` into a copy-on-write copy of this system (overlayfs on a tmpfs, in
#      that namespace, so nothing reaches the real system): install, the service's unit,
#      doctor on the installed state directory, a C module installed and run in the sandbox by
#      the packaged host, reinstall keeping a changed conffile, remove keeping the module and its
#      data, purge removing them.
# Prints one line per check and "test-package: N passed, N failed"; exits 1 if a check failed.
# Usage: Scripts/test-package.sh [--deb FILE]   (--deb: test this package instead of building one)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...: runs the command, counts and prints the verdict
    local description=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "ok    $description"
    else failed=$((failed + 1)); echo "FAIL  $description"; fi
}
has_line() { grep -qxE -- "$2" <<<"$1" || { echo "      expected a line matching: $2" >&2; echo "$1" | sed 's/^/      | /' >&2; return 1; }; }
lacks() { ! grep -qE -- "$2" <<<"$1" || { echo "      unexpected: $(grep -E -- "$2" <<<"$1" | head -n 3)" >&2; return 1; }; }
same() { [ "$1" = "$2" ] || { echo "      expected '$2', got '$1'" >&2; return 1; }; }

deb=
if [ "${1:-}" = "--deb" ]; then deb=$(realpath "$2"); fi
# The phase that runs in the private mount namespace re-executes this script.
if [ "${1:-}" = "--in-namespace" ]; then phase=namespace; else phase=main; fi

work=${TEST_PACKAGE_WORK:-}
if [ "$phase" = main ]; then
    started=$(date +%s)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    if [ -z "$deb" ]; then
        deb=$(bash Scripts/package-deb.sh --output "$work/out" | tail -n 1)
        echo "test-package: package built in $(($(date +%s) - started)) s"
    fi
fi
deb=${deb:-$TEST_PACKAGE_DEB}
version=$(dpkg-deb --field "$deb" Version)
# What `plugin-host --version` prints: the version without its Debian revision, "~" back to "-".
upstream_version=${version%-*}
upstream_version=${upstream_version/\~/-}

# ------------------------------------------------------------------------ the package itself
if [ "$phase" = main ]; then
    echo "== $deb ($(du -h "$deb" | cut -f1))"
    check "Package is plugin-host" same "$(dpkg-deb --field "$deb" Package)" plugin-host
    check "Architecture is this machine's ($(dpkg --print-architecture))" same "$(dpkg-deb --field "$deb" Architecture)" "$(dpkg --print-architecture)"
    depends=$(dpkg-deb --field "$deb" Depends)
    echo "      Depends: $depends"
    check "Depends names the C libraries the binaries link, and libcurl4 (loaded when pulling)" \
        has_line "$(tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//' | sort | tr '\n' ' ')" "libc6 libcurl4 libffi8 libgcc-s1 libsqlite3-0 libstdc\+\+6 libzstd1 zlib1g "
    check "Depends names no Swift package" lacks "$depends" "swift"

    mkdir -p "$work/control"
    dpkg-deb --control "$deb" "$work/control"
    check "the default config is the one conffile" same "$(cat "$work/control/conffiles")" /etc/default/plugin-host
    check "postinst, prerm and postrm are executable shell scripts" \
        same "$(cd "$work/control" && stat -c '%A %n' postinst prerm postrm && head -qn 1 postinst prerm postrm | sort -u)" \
        "$(printf '%s\n' '-rwxr-xr-x postinst' '-rwxr-xr-x prerm' '-rwxr-xr-x postrm' '#!/bin/sh')"

    # Every entry with its mode and owner; directories are 0755 root.
    contents=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $6}')
    expected_files="-rw-r--r-- root/root ./etc/default/plugin-host
-rw-r--r-- root/root ./lib/systemd/system/plugin-host.service
-rwxr-xr-x root/root ./usr/bin/plugin-host
lrwxrwxrwx root/root ./usr/bin/plugin-host-runner
-rw-r--r-- root/root ./usr/share/doc/plugin-host/ModuleImage.md
-rw-r--r-- root/root ./usr/share/doc/plugin-host/Packaging.md
-rw-r--r-- root/root ./usr/share/doc/plugin-host/Runtime.md
-rw-r--r-- root/root ./usr/share/doc/plugin-host/Troubleshooting.md
-rw-r--r-- root/root ./usr/share/doc/plugin-host/Updates.md
-rw-r--r-- root/root ./usr/share/doc/plugin-host/changelog.Debian.gz
-rw-r--r-- root/root ./usr/share/doc/plugin-host/copyright
-rw-r--r-- root/root ./usr/share/lintian/overrides/plugin-host
-rw-r--r-- root/root ./usr/share/man/man1/plugin-host-runner.1.gz
-rw-r--r-- root/root ./usr/share/man/man1/plugin-host.1.gz"
    check "the files and their modes" same "$(grep -v '^d' <<<"$contents" | LC_ALL=C sort -k3)" "$expected_files"
    check "every directory is drwxr-xr-x root/root" same "$(grep '^d' <<<"$contents" | grep -v '^drwxr-xr-x root/root ' || true)" ""
    check "the state directory is not a packaged file (postinst makes it, purge deletes it)" lacks "$contents" "var/lib/plugin-host"

    root=$work/x
    dpkg -x "$deb" "$root"
    unit=$root/lib/systemd/system/plugin-host.service
    check "the unit runs the packaged binary with the config's options" \
        has_line "$(cat "$unit")" 'ExecStart=/usr/bin/plugin-host run --state-dir \$\{PLUGIN_HOST_STATE_DIR\} \$PLUGIN_HOST_RUN_OPTIONS'
    check "the unit reads the default config" has_line "$(cat "$unit")" 'EnvironmentFile=-/etc/default/plugin-host'
    check "the unit's default state directory is the config's" \
        same "$(sed -n 's/^Environment=.*PLUGIN_HOST_STATE_DIR=\([^ ]*\).*/\1/p' "$unit")" "$(sed -n 's/^PLUGIN_HOST_STATE_DIR=//p' "$root/etc/default/plugin-host")"
    # The unit's hardening (Packaging/plugin-host.service): systemd's own rating of the packaged
    # unit, read offline (no running systemd needed), must stay at 5.0 ("OK") or below.
    if ! command -v systemd-analyze >/dev/null 2>&1; then
        . Scripts/lib/apt-install.sh
        apt_install systemd || echo "      systemd (for systemd-analyze) could not be installed" >&2
    fi
    security=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)
    exposure=$(sed -n 's/^→ Overall exposure level for plugin-host.service: \([0-9.]*\) .*/\1/p' <<<"$security")
    echo "      systemd-analyze security: ${exposure:-no score} (of 10)"
    exposure_at_most() { # exposure_at_most LIMIT: else the score and the worst lines
        [ -n "$exposure" ] && awk -v score="$exposure" -v limit="$1" 'BEGIN { exit !(score <= limit) }' && return 0
        echo "      expected an overall exposure of at most $1, got '${exposure:-nothing}'; the worst lines:" >&2
        grep '✗' <<<"$security" | awk '{ print $NF "\t" $0 }' | sort -rn | head -n 12 | cut -f2- | sed 's/^/      | /' >&2
        grep '^→' <<<"$security" | sed 's/^/      | /' >&2
        return 1
    }
    check "systemd-analyze security: the unit's overall exposure is 5.0 or less" exposure_at_most 5.0
    libraries=$(ldd "$root/usr/bin/plugin-host" 2>&1 || true)
    check "ldd plugin-host: every library found, none of Swift's" lacks "$libraries" "not found|libswift|Foundation|libdispatch|libBlocksRuntime|libicu"
    check "plugin-host-runner is a link to plugin-host (one executable for host and runner)" same "$(readlink "$root/usr/bin/plugin-host-runner")" plugin-host
    check "plugin-host carries no ICU data (it links FoundationEssentials only)" same "$(strings "$root/usr/bin/plugin-host" | grep -c 'icudt[0-9]')" 0
    # The journal's test-only SIGKILL (Sources/PluginHostStore/Journal.swift) is compiled into debug
    # builds only: a root daemon must not kill itself on an environment variable.
    check "the packaged plugin-host has no fault injection (a release build)" \
        same "$(strings "$root/usr/bin/plugin-host" | grep -c PLUGIN_HOST_FAULT_INJECTION)" 0

    # lintian, as Debian judges a package: no error (E:) and no warning (W:). Informational and
    # pedantic tags (I:, P:) are printed, not counted.
    if ! command -v lintian >/dev/null 2>&1; then
        . Scripts/lib/apt-install.sh
        apt_install lintian || echo "      lintian could not be installed" >&2
    fi
    lintian_report=$(lintian --display-info --pedantic --display-experimental "$deb" 2>&1; echo "exit $?")
    sed 's/^/      | /' <<<"$lintian_report"
    check "lintian: no error, no warning" lacks "$lintian_report" "^[EW]: |^exit [^0]|command not found"

    # The toolchain's directory, hidden in the namespace; the Swift runtime libraries live in it.
    toolchain=$(dirname "$(dirname "$(dirname "$(realpath "$(command -v swift)")")")")
    if [ "$(id -u)" -ne 0 ] || [ "$toolchain" = / ] || [ "$toolchain" = /usr ]; then
        echo "skip  the runs without the toolchain and the install into a copy of this system: they need root and a toolchain outside /usr"
    else
        set +e
        TEST_PACKAGE_WORK=$work TEST_PACKAGE_DEB=$deb TEST_PACKAGE_TOOLCHAIN=$toolchain \
            unshare --mount --propagation private bash "${BASH_SOURCE[0]}" --in-namespace
        status=$?
        set -e
        counts=$(tail -n 1 "$work/namespace-counts" 2>/dev/null || echo "0 1")
        passed=$((passed + ${counts% *})); failed=$((failed + ${counts#* }))
        [ "$status" -eq 0 ] || { failed=$((failed + 1)); echo "FAIL  the checks in the mount namespace ended with status $status"; }
    fi
    echo "test-package: $(($(date +%s) - started)) s in all"
    echo "test-package: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
fi

# ------------------------------------------- in a private mount namespace, toolchain hidden
case "$work" in /?*/*) ;; *) echo "test-package: no scratch directory ('$work'); run it without --in-namespace" >&2; exit 2 ;; esac
trap 'echo "$passed $failed" >"$work/namespace-counts"' EXIT
# From here each check judges what the commands before it did; a failed command does not end the
# run, so that one broken part still shows every check's verdict.
set +e
root=$work/x
toolchain=$TEST_PACKAGE_TOOLCHAIN
mount -t tmpfs -o size=1m,mode=0755 empty "$toolchain"
check "the Swift toolchain is hidden: no swift, no libswiftCore.so" \
    same "$(command -v swift; find "$toolchain" -mindepth 1 | head -n 1)" ""

check "plugin-host --version prints the package's version" same "$("$root/usr/bin/plugin-host" --version)" "$upstream_version"

# doctor as a device runs it, as root. Expected here (an x86-64 VM): no check FAILs, so exit 0:
# no GPIO or I2C on this machine, which is not a Raspberry Pi, is a warn; the runner next to
# plugin-host is found and really unshares every namespace; the state directory does not exist
# yet and can be made; no key is trusted yet (a warn: installs would be refused).
state=$root/var/lib/plugin-host
report=$("$root/usr/bin/plugin-host" doctor --state-dir "$state"); status=$?
echo "$report" | sed 's/^/      | /'
check "doctor: exit 0, no FAIL" same "$status $(grep -c '^FAIL' <<<"$report")" "0 0"
check "doctor: the runner is the packaged one, next to plugin-host" has_line "$report" "ok +runner +$root/usr/bin/plugin-host-runner"
check "doctor: root" has_line "$report" "ok +root +running as root.*"
check "doctor: the packaged runner unshares mnt pid ipc uts net cgroup" has_line "$report" "ok +namespaces +mnt pid ipc uts net cgroup: unshare works \(probed\)"
check "doctor: the state directory can be made" has_line "$report" "ok +state-dir +$state does not exist yet; it is made on first use .*"
check "doctor: no trusted key yet is a warn" has_line "$report" "warn +trusted-keys +no trusted keys in $state/trust: every install is refused \(exit 11\) — fix: .*"
check "doctor: the summary says exit 0" has_line "$report" "plugin-host doctor: .* \(exit 0\)"

# Without its runner the host cannot start a module: doctor says so and exits 1.
report=$(PLUGIN_HOST_RUNNER=$work/no-runner "$root/usr/bin/plugin-host" doctor --state-dir "$state"); status=$?
check "doctor without the runner: FAIL runner, exit 1" same "$status $(grep -cE "^FAIL +runner +$work/no-runner is not executable" <<<"$report")" "1 1"

# A trusted key turns the warn into ok (keygen and trust use swift-crypto, linked in).
"$root/usr/bin/plugin-host" keygen --output "$work/release.key" >/dev/null
key=$("$root/usr/bin/plugin-host" trust add "$work/release.key.pub" --state-dir "$state")
report=$("$root/usr/bin/plugin-host" doctor --state-dir "$state")
check "doctor after trust add: the key is trusted, the state directory is used" \
    has_line "$report" "ok +trusted-keys +1 trusted key\(s\) in $state/trust: $key"
check "doctor after trust add: state-dir ok with 0 modules, no host" has_line "$report" "ok +state-dir +$state is writable; 0 module\(s\) installed; no host runs on it"

# ------------------------- dpkg --root into a copy-on-write copy of this system (overlayfs)
overlay=$work/overlay
mkdir -p "$overlay"
mount -t tmpfs -o mode=0755 overlay-upper "$overlay"
mkdir -p "$overlay/upper" "$overlay/work" "$overlay/root"
if ! mount -t overlay overlay -o "lowerdir=/,upperdir=$overlay/upper,workdir=$overlay/work" "$overlay/root" 2>"$work/overlay.err"; then
    echo "skip  install, remove and purge with dpkg --root: overlayfs on / is refused here ($(cat "$work/overlay.err"))"
    exit 0
fi
sys=$overlay/root
for fs in dev proc sys; do mount --rbind "/$fs" "$sys/$fs"; done
mount -t tmpfs -o size=1m,mode=0755 empty "$sys$toolchain"
rm -rf "$sys/run/systemd/system" # systemd does not run in this root: the scripts must see that
in_sys() { chroot "$sys" "$@"; }

install_log=$(dpkg --root="$sys" --install "$deb" 2>&1) || echo "$install_log" | sed 's/^/      | /'
check "dpkg --root --install: installed" same "$(dpkg --root="$sys" --status plugin-host 2>/dev/null | sed -n 's/^Status: //p')" "install ok installed"
check "postinst made the state directory, mode 0700, root's" same "$(stat -c '%a %U:%G' "$sys/var/lib/plugin-host")" "700 root:root"
if in_sys sh -c 'command -v systemctl' >/dev/null; then
    check "postinst enabled the service although systemd is not running" \
        same "$(readlink "$sys/etc/systemd/system/multi-user.target.wants/plugin-host.service")" /lib/systemd/system/plugin-host.service
    # (systemd 252 notes that it cannot read PID 1's environment here: not about the unit.)
    verify=$(in_sys systemd-analyze verify /lib/systemd/system/plugin-host.service 2>&1; echo "exit $?")
    check "systemd-analyze verify finds nothing wrong with the unit" same "$(grep -v 'Failed to read \$container' <<<"$verify")" "exit 0"
fi
check "installed plugin-host --version (toolchain hidden)" same "$(in_sys plugin-host --version)" "$upstream_version"
report=$(in_sys plugin-host doctor); status=$?
check "installed doctor, default state directory: exit 0" same "$status" 0
check "installed doctor: the runner in /usr/bin" has_line "$report" "ok +runner +/usr/bin/plugin-host-runner"
check "installed doctor: the state directory postinst made" has_line "$report" "ok +state-dir +/var/lib/plugin-host is writable; 0 module\(s\) installed; no host runs on it"

# A module, as a device gets one: the C example built with cc alone (SwiftPM's build of it
# links libswiftCore.so, which a device without the toolchain does not have), packed, signed
# and installed by the packaged host: its health check runs it in the packaged runner, sandboxed.
mkdir -p "$sys/root/hello-c/lib"
cp "$repo/Examples/ExampleModuleC/module.json" "$sys/root/hello-c/"
cc -shared -fPIC -O1 -I "$repo/Sources/CIoTModule/include" -o "$sys/root/hello-c/lib/libExampleModuleC.so" "$repo/Examples/ExampleModuleC/example.c" -lpthread
module_log=$(in_sys sh -c 'cd /root && plugin-host keygen --output release.key && plugin-host trust add release.key.pub &&
    plugin-host pack hello-c --key release.key --output hello-c.tar && plugin-host install hello-c.tar' 2>&1)
check "the packaged host installs a module, sandboxed, toolchain hidden" \
    has_line "$module_log" "com.example.hello-c 1.0.0 installed and committed \(logs: /var/lib/plugin-host/modules/com.example.hello-c/logs/.*\)"
check "plugin-host list shows it active" has_line "$(in_sys plugin-host list 2>&1)" "com.example.hello-c +1.0.0 +active +last: update committed .*"

# An upgrade (here the same version again) keeps a changed conffile and the modules.
echo 'PLUGIN_HOST_RUN_OPTIONS="--fresh-update-window 1800"' >>"$sys/etc/default/plugin-host"
echo reading >"$sys/var/lib/plugin-host/modules/com.example.hello-c/data/kept"
# A state directory that other users may enter (made by an older package or host, or by hand),
# and one moved in the config, are root's alone after the upgrade.
chmod 0755 "$sys/var/lib/plugin-host"
mkdir -m 0755 "$sys/srv/moved-state"
echo 'PLUGIN_HOST_STATE_DIR="/srv/moved-state"' >>"$sys/etc/default/plugin-host"
dpkg --root="$sys" --install "$deb" >/dev/null 2>&1
check "reinstall: still installed" same "$(dpkg --root="$sys" --status plugin-host 2>/dev/null | sed -n 's/^Status: //p')" "install ok installed"
check "reinstall over a 0755 state directory and a moved one: both 0700" \
    same "$(stat -c '%a' "$sys/var/lib/plugin-host" "$sys/srv/moved-state" | tr '\n' ' ')" "700 700 "
check "reinstall: the changed config is kept" has_line "$(cat "$sys/etc/default/plugin-host")" 'PLUGIN_HOST_RUN_OPTIONS="--fresh-update-window 1800"'
check "reinstall: the module is still installed, its data kept" \
    same "$(in_sys plugin-host list 2>&1 | awk '{print $1, $2, $3}'; cat "$sys/var/lib/plugin-host/modules/com.example.hello-c/data/kept")" "$(printf 'com.example.hello-c 1.0.0 active\nreading')"

dpkg --root="$sys" --remove plugin-host >/dev/null 2>&1
check "remove: binaries and unit gone" same "$(ls "$sys/usr/bin/plugin-host" "$sys/usr/bin/plugin-host-runner" "$sys/lib/systemd/system/plugin-host.service" 2>/dev/null)" ""
check "remove: state directory, the module and its data, the trusted key and the config kept" \
    same "$(cat "$sys/var/lib/plugin-host/modules/com.example.hello-c/data/kept" && stat -c '%a' "$sys/var/lib/plugin-host" &&
            readlink "$sys/var/lib/plugin-host/modules/com.example.hello-c/current" | cut -d@ -f1 && ls "$sys/var/lib/plugin-host/trust" | wc -l &&
            test -f "$sys/etc/default/plugin-host" && echo config)" "$(printf 'reading\n700\nversions/1.0.0\n1\nconfig')"
check "remove: dpkg keeps the config files" same "$(dpkg --root="$sys" --status plugin-host 2>/dev/null | sed -n 's/^Status: //p')" "deinstall ok config-files"

dpkg --root="$sys" --purge plugin-host >/dev/null 2>&1
check "purge: state directory, config and the enable link gone" \
    same "$(ls -d "$sys/var/lib/plugin-host" "$sys/etc/default/plugin-host" 2>/dev/null; find "$sys/etc/systemd/system" -name plugin-host.service)" ""
check "purge: dpkg forgets the package" same "$(dpkg --root="$sys" --status plugin-host >/dev/null 2>&1; echo $?)" 1

# The same scripts where systemd runs: /run/systemd/system exists in the copy. The scripts call
# deb-systemd-helper and deb-systemd-invoke (init-system-helpers), which call systemctl; each of
# the three records its arguments in one trace, in order. deb-systemd-helper and -invoke are the
# real ones behind a recording wrapper; systemctl is a stand-in that keeps the enable link and
# whether the service runs as systemctl would, and answers is-enabled and is-active from them.
# Those two queries are not recorded: what counts is what the scripts ask for and what reaches
# systemd. A policy-rc.d that forbids starting services (container images have one) is taken
# out of the copy: the device has none.
mkdir -p "$sys/run/systemd/system"
rm -f "$sys/usr/sbin/policy-rc.d"
for helper in deb-systemd-helper deb-systemd-invoke; do
    mv "$sys/usr/bin/$helper" "$sys/usr/bin/$helper.real"
    printf '%s\n' '#!/bin/sh' "echo \"$helper \$*\" >>/run/systemd-calls" "exec /usr/bin/$helper.real \"\$@\"" >"$sys/usr/bin/$helper"
    chmod 0755 "$sys/usr/bin/$helper"
done
printf '%s\n' '#!/bin/sh' \
    'link=/etc/systemd/system/multi-user.target.wants/plugin-host.service running=/run/plugin-host-running' \
    'case " $* " in' \
    '*" is-enabled "*) if [ -L "$link" ]; then echo enabled; else echo disabled; exit 1; fi ;;' \
    '*" is-active "*) [ -e "$running" ] ;;' \
    '*) echo "systemctl $*" >>/run/systemd-calls' \
    '   case " $* " in' \
    '   *" enable "*|*" preset "*) mkdir -p "${link%/*}" && ln -sf /lib/systemd/system/plugin-host.service "$link" ;;' \
    '   *" start "*|*" restart "*) touch "$running" ;;' \
    '   *" stop "*) rm -f "$running" ;;' \
    '   esac ;;' \
    'esac' >"$sys/usr/bin/systemctl"
chmod 0755 "$sys/usr/bin/systemctl"
calls() { cat "$sys/run/systemd-calls" 2>/dev/null; rm -f "$sys/run/systemd-calls"; }
dpkg --root="$sys" --install "$deb" >/dev/null 2>&1
check "systemd running, first install: enabled (systemctl preset) and started" \
    same "$(calls)" "$(printf '%s\n' 'deb-systemd-helper --quiet was-enabled plugin-host.service' 'deb-systemd-helper enable plugin-host.service' \
        'systemctl --root=/ --system --preset-mode=enable-only preset plugin-host.service' 'systemctl --system daemon-reload' \
        'deb-systemd-invoke start plugin-host.service' 'systemctl --quiet --system start plugin-host.service')"
dpkg --root="$sys" --install "$deb" >/dev/null 2>&1
check "systemd running, upgrade: restarted on the new binaries, not enabled again" \
    same "$(calls)" "$(printf '%s\n' 'deb-systemd-helper --quiet was-enabled plugin-host.service' 'deb-systemd-helper enable plugin-host.service' \
        'systemctl --system daemon-reload' 'deb-systemd-invoke restart plugin-host.service' 'systemctl --quiet --system restart plugin-host.service')"
# What `systemctl disable --now plugin-host` does.
rm -f "$sys/etc/systemd/system/multi-user.target.wants/plugin-host.service" "$sys/run/plugin-host-running"
dpkg --root="$sys" --install "$deb" >/dev/null 2>&1
check "systemd running, upgrade of a disabled, stopped service: neither enabled nor started" \
    same "$(calls)" "$(printf '%s\n' 'deb-systemd-helper --quiet was-enabled plugin-host.service' 'deb-systemd-helper update-state plugin-host.service' \
        'systemctl --system daemon-reload' 'deb-systemd-invoke restart plugin-host.service')"
check "systemd running, the disabled service stays disabled" same "$(ls "$sys/etc/systemd/system/multi-user.target.wants/plugin-host.service" 2>/dev/null)" ""
in_sys systemctl enable plugin-host.service; in_sys systemctl start plugin-host.service; calls >/dev/null
dpkg --root="$sys" --remove plugin-host >/dev/null 2>&1
check "systemd running, remove: stopped, then daemon-reload" \
    same "$(calls)" "$(printf '%s\n' 'deb-systemd-invoke stop plugin-host.service' 'systemctl stop plugin-host.service' 'systemctl --system daemon-reload')"
dpkg --root="$sys" --purge plugin-host >/dev/null 2>&1
check "systemd running, purge: the enable link removed (deb-systemd-helper reloads systemd)" \
    same "$(calls; find "$sys/etc/systemd/system" -name plugin-host.service)" \
        "$(printf '%s\n' 'deb-systemd-helper purge plugin-host.service' 'systemctl daemon-reload')"
