#!/usr/bin/env bash
# The API reference: builds the DocC catalog of every public library target (PluginHost, the
# umbrella, and the host's three targets it re-exports, each with its own catalog) with
# swift-docc-plugin, treating every DocC warning (a broken symbol link, an undocumented
# parameter of a documented function) as an error. Archives go to .build/plugins/Swift-DocC/outputs/.
#
# Usage: Scripts/docs.sh [TARGET...]   (default: every public library target)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(IoTSDK IoTSDKFoundation SensorDrivers SensorDriversTesting PluginHost PluginHostImages PluginHostStore PluginHostRegistry PluginHostRuntime)
for target in "${targets[@]}"; do
    printf '== DocC: %s\n' "$target"
    swift package generate-documentation --target "$target" --warnings-as-errors 2>&1 | grep -v '^\[' \
        || { echo "DocC for $target failed"; exit 1; }
done
