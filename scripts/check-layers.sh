#!/usr/bin/env bash
# check-layers.sh: every `#include "..."` in src/{core,os,event,http} must name a header of
# its own layer or a lower one (core < os < event < http).  A header name is resolved by its
# file name to the layer directory holding it; names found in no layer (system headers in
# quotes, generated files) are not checked, a name found in two layers is an error.
#
#   scripts/check-layers.sh [ROOT]     check ROOT (default: the repository), exit 1 on a violation
#   scripts/check-layers.sh --self-test
set -euo pipefail

LAYERS=(core os event http)

self_test() {
    local tmp out rc=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp"/src/{core,os,event,http}
    printf '#include "b.h"\n' >"$tmp/src/core/a.h"
    printf '#include "a.h"\n#include <stdio.h>\n#include "stdio_ext.h"\n' >"$tmp/src/core/b.h"
    printf '#include "a.h"\n#include "o.h"\n' >"$tmp/src/os/o.h"
    printf '#include "o.h"\n  #  include "../os/o.h"\n' >"$tmp/src/event/e.c"
    printf '#include "a.h"\n#include "o.h"\n#include "e.h"\n' >"$tmp/src/http/h.c"
    printf '/* nothing */\n' >"$tmp/src/event/e.h"

    "$0" "$tmp" >/dev/null || { echo "self-test: clean tree reported violations" >&2; return 1; }

    printf '#include "sl_x.h"\n\n# include "e.h"\n' >"$tmp/src/core/bad.c"
    printf '#include "h.h"\n' >"$tmp/src/os/o2.c"
    printf '/* http */\n' >"$tmp/src/http/h.h"
    out=$("$0" "$tmp" 2>&1) && rc=0 || rc=$?
    local want1="src/core/bad.c:3: layer core includes e.h (layer event)"
    local want2="src/os/o2.c:1: layer os includes h.h (layer http)"
    if [ "$rc" -ne 1 ] || ! grep -qxF "$want1" <<<"$out" || ! grep -qxF "$want2" <<<"$out" \
        || [ "$(grep -c . <<<"$out")" -ne 2 ]; then
        printf 'self-test: FAILED (exit %s), output:\n%s\n' "$rc" "$out" >&2
        return 1
    fi
    echo "check-layers self-test: ok"
}

if [ "${1:-}" = "--self-test" ]; then
    self_test
    exit
fi

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

declare -A rank=() where=()
for i in "${!LAYERS[@]}"; do
    rank[${LAYERS[$i]}]=$i
done

# Map each header file name to its layer.
dup=0
for layer in "${LAYERS[@]}"; do
    [ -d "src/$layer" ] || continue
    while IFS= read -r h; do
        name=${h##*/}
        if [ -n "${where[$name]:-}" ] && [ "${where[$name]}" != "$layer" ]; then
            echo "$h: header name $name also exists in layer ${where[$name]}"
            dup=1
        fi
        where[$name]=$layer
    done < <(find "src/$layer" -type f -name '*.h' | sort)
done

bad=0
for layer in "${LAYERS[@]}"; do
    [ -d "src/$layer" ] || continue
    while IFS= read -r f; do
        while IFS=: read -r line name; do
            name=${name##*/}
            dep=${where[$name]:-}
            [ -n "$dep" ] || continue
            if [ "${rank[$dep]}" -gt "${rank[$layer]}" ]; then
                echo "$f:$line: layer $layer includes $name (layer $dep)"
                bad=1
            fi
        done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" \
                     | sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1:\2/')
    done < <(find "src/$layer" -type f \( -name '*.c' -o -name '*.h' \) | sort)
done

[ $bad -eq 0 ] && [ $dup -eq 0 ]
