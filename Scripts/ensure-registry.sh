#!/usr/bin/env bash
# Makes sure Debian's docker-registry (CNCF distribution 2.8) is installed, for the delivery tests
# (PluginHostTests' RegistryTests start their own on 127.0.0.1 with a configuration and storage in
# a temporary directory, and stop it after). Installs it with apt-get when it is missing and we are
# root (or have passwordless sudo); otherwise says why and exits 1. Nothing here starts it.
set -euo pipefail
if command -v docker-registry >/dev/null 2>&1; then
    echo "docker-registry: $(docker-registry --version 2>&1 | head -1)"
    exit 0
fi
. "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
apt_install docker-registry || exit 1
echo "docker-registry: $(docker-registry --version 2>&1 | head -1)"
