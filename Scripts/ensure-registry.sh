#!/usr/bin/env bash
# Makes sure Debian's docker-registry (CNCF distribution 2.8) and openssl (the TLS registry's
# certificates) are installed, for the delivery tests (PluginHostTests' RegistryTests start their
# own registries on 127.0.0.1 with a configuration and storage in a temporary directory, and stop
# them after; so does `sdk-bench delivery`). Installs it with apt-get when it is missing and we are
# root (or have passwordless sudo); otherwise says why and exits 1. Nothing here starts it.
set -euo pipefail
missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
    . "$(dirname "${BASH_SOURCE[0]}")/lib/apt-install.sh"
    apt_install "${missing[@]}" || exit 1
fi
echo "docker-registry: $(docker-registry --version 2>&1 | head -1)"
