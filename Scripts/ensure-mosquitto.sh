#!/usr/bin/env bash
# Makes sure Debian's mosquitto broker and its clients (mosquitto_sub, mosquitto_pub,
# mosquitto_passwd) and openssl (the TLS brokers' certificates) are installed, for the uplink
# tests (UplinkTests start their own brokers on 127.0.0.1 with a configuration in a temporary
# directory, and stop them after; so does `sdk-bench uplink`). Installs what is missing with
# apt-get when we are root (or have passwordless sudo); otherwise says why and exits 1. Nothing
# here starts a broker: Debian's package enables a system service, which this script stops and
# disables again when it installed the package, so that no broker listens on port 1883.
set -euo pipefail
missing=()
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || missing+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
    apt_install "${missing[@]}" || exit 1
    if [[ " ${missing[*]} " == *" mosquitto "* ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now mosquitto >/dev/null 2>&1 || true
    fi
fi
echo "mosquitto: $(/usr/sbin/mosquitto -h 2>/dev/null | head -1)"
