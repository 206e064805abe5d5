#!/usr/bin/env bash
# deps.sh: install the Debian packages sluice's build and tests need, when missing.
#
# Quick and silent when everything is installed (no apt-get call then); otherwise runs
# `apt-get update` once and installs only the missing packages.  Uses sudo when not root.
# Debian's nginx is installed for side-by-side benchmarks and comparison tests only; the
# tests never rely on its service.
set -euo pipefail

PACKAGES=(
    build-essential     # gcc, make, libc headers
    clang
    libclang-rt-14-dev  # ASan/UBSan/libFuzzer runtimes for clang
    libpcre2-dev
    zlib1g-dev          # the gzip filter and gzip_static (-lz)
    libcrypt-dev        # crypt_r for auth_basic's $5$, $6$, $2y$ hashes (-lcrypt)
    libcmocka-dev
    libssl-dev          # OpenSSL 3: TLS (listen ssl, proxy_pass https://); MD5/SHA-1 for the cache, auth_basic
    openssl             # tests/t/6x-ssl*.t make their certificates with it
    libio-socket-ssl-perl  # ... and speak TLS with it
    perl
    wrk
    nginx
    clang-format
    strace              # tests/t/21-tcp-options.t watches setsockopt()
    valgrind            # bench/instructions.sh counts instructions per request
)

die() {
    echo "deps.sh: $*" >&2
    exit 1
}

installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'
}

command -v dpkg >/dev/null 2>&1 || die "dpkg not found: this script supports Debian-based systems only"

missing=()
for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing packages: ${missing[*]}" >&2

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "not root and sudo not found; install as root: ${missing[*]}"
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=300)

"${APT[@]}" update || die "apt-get update failed"
"${APT[@]}" install --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"

still=()
for p in "${missing[@]}"; do
    installed "$p" || still+=("$p")
done
[ ${#still[@]} -eq 0 ] || die "still not installed after apt-get: ${still[*]}"
echo "deps.sh: installed ${missing[*]}" >&2
