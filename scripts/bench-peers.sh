#!/usr/bin/env bash
# Install what `npm run bench` compares snpemu with (Debian/Ubuntu, apt-get), then check each peer.
#   qemu-user        qemu-x86_64, the user-mode JIT peer
#   python3-unicorn  unicorn, driven by bench/peers/unicorn_run.py with 4-level paging at CPL 3
#   bochs bochsbios vgabios  the interpreter peer, booting bench/peers/bochs/boot.s
#   binutils         GNU as and ld, which build the benchmark programs at bench time
#   nasm             an assembler for your own experiments (the benchmarks themselves use GNU as)
# Usage: npm run bench:peers   (as root, or with sudo available)
set -euo pipefail

packages=(qemu-user python3-unicorn bochs bochsbios vgabios binutils nasm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench-peers: apt-get not found; install by hand: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bench-peers: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "bench-peers: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "bench-peers: all packages already installed"
fi

# Check that each peer starts; a failure here is what the benchmark report will say too.
status=0
check() {
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then echo "  ok       $name"; else echo "  MISSING  $name ($*)"; status=1; fi
}
echo "bench-peers: checking"
check "qemu-x86_64" qemu-x86_64 --version
check "unicorn (python3)" /usr/bin/python3 -c 'import unicorn'
check "bochs" test -x "$(command -v bochs)"
check "bochs BIOS" test -f /usr/share/bochs/BIOS-bochs-latest
check "GNU as" as --version
check "GNU ld" ld --version
exit $status
