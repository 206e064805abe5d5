#!/usr/bin/env bash
# check-format.sh: report C files that differ from .clang-format (STYLE.md rule 8).
# Checks src/**/*.[ch] and tests/unit/**/*.[ch], or the files given as arguments.
# Never rewrites anything; to fix a file you own: clang-format -i FILE.
set -euo pipefail

cd "$(dirname "$0")/.."
command -v clang-format >/dev/null 2>&1 || { echo "check-format.sh: clang-format not found (scripts/deps.sh)" >&2; exit 2; }

if [ $# -gt 0 ]; then
    files=("$@")
else
    mapfile -t files < <(find src tests/unit -type f -name '*.[ch]' 2>/dev/null | sort)
fi

bad=0
for f in "${files[@]}"; do
    if ! out=$(clang-format --style=file --dry-run --Werror "$f" 2>&1); then
        n=$(grep -c 'error: code should be clang-formatted' <<<"$out" || true)
        echo "$f: $n places differ"
        bad=$((bad + 1))
    fi
done

if [ $bad -gt 0 ]; then
    echo "check-format.sh: $bad of ${#files[@]} files differ from .clang-format (see: clang-format FILE | diff FILE -)" >&2
    exit 1
fi
echo "check-format.sh: ${#files[@]} files ok"
