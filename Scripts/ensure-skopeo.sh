#!/usr/bin/env bash
# Makes sure skopeo (Debian's package) is installed, for PluginHostTests' OCI conformance test
# (`skopeo copy` of an image made by `plugin-host pack`). Installs it with apt-get when it is
# missing and we are root (or have passwordless sudo); otherwise says why and exits 1.
set -euo pipefail
if command -v skopeo >/dev/null 2>&1; then
    echo "skopeo: $(skopeo --version)"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    apt_get=(apt-get)
elif sudo -n true 2>/dev/null; then
    apt_get=(sudo -n apt-get)
else
    echo "skopeo is not installed and this user cannot install it: run 'sudo apt-get install -y skopeo'" >&2
    exit 1
fi
DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y skopeo >/dev/null \
    || { DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" update >/dev/null && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y skopeo >/dev/null; }
echo "skopeo: $(skopeo --version)"
