#!/usr/bin/env bash
# Makes sure skopeo (Debian's package) is installed, for PluginHostTests' OCI conformance test
# (`skopeo copy` of an image made by `plugin-host pack`). Installs it with apt-get when it is
# missing and we are root (or have passwordless sudo); otherwise says why and exits 1.
set -euo pipefail
if command -v skopeo >/dev/null 2>&1; then
    echo "skopeo: $(skopeo --version)"
    exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install skopeo || exit 1
echo "skopeo: $(skopeo --version)"
