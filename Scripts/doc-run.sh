#!/usr/bin/env bash
# Runs the ```sh blocks of Markdown walkthroughs, so that their commands cannot rot.
#
# Usage: Scripts/doc-run.sh FILE.md...
#
# Each file's blocks run in order in one bash (set -euo pipefail, commands echoed), in a new empty
# directory holding links to the repository's Examples/, Sources/ and .build/, with the built
# tools (`swift build --show-bin-path`) first on PATH. A block right after a line
# `<!-- doc-run: skip (REASON) -->` is not run; a skip without a reason is an error. Background
# jobs a walkthrough leaves are killed at its end and waited for (a host that is stopping still
# writes its status into the directory). Exits non-zero at the first failing command.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -ge 1 ] || { sed -n '4,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
bin=$(cd "$repo" && swift build --show-bin-path)

for doc in "$@"; do
    doc=$(realpath "$doc")
    work=$(mktemp -d "${TMPDIR:-/tmp}/doc-run.XXXXXX")
    for link in Examples Sources .build; do ln -s "$repo/$link" "$work/$link"; done
    {
        printf 'set -euo pipefail\ntrap '\''kill $(jobs -p) 2>/dev/null || true; wait || true'\'' EXIT\nset -x\n'
        python3 "$repo/Scripts/check-doc-commands.py" --extract "$doc"
    } >"$work/.walkthrough.sh"
    printf '== doc-run: %s (in %s)\n' "${doc#"$repo"/}" "$work"
    if (cd "$work" && PATH="$bin:$PATH" bash .walkthrough.sh); then
        rm -rf "$work"
        printf '== doc-run: %s: every command ran\n' "${doc#"$repo"/}"
    else
        code=$?
        printf '== doc-run: %s failed (exit %d); its directory is kept: %s\n' "${doc#"$repo"/}" "$code" "$work" >&2
        exit 1
    fi
done
