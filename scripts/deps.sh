#!/usr/bin/env bash
# deps.sh — install the Debian packages listed in the given files that are
# missing, saying which. Uses sudo when not root. Never upgrades anything.
# A line "PKG COMMAND" means: PKG is not needed when COMMAND is already on the
# PATH (node and npm may come from another source than Debian's packages).
set -euo pipefail
want=()
for list in "$@"; do
  while read -r pkg cmd _; do
    case "$pkg" in ''|'#'*) continue ;; esac
    if [ -n "${cmd:-}" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
    want+=("$pkg")
  done < "$list"
done
missing=()
for pkg in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"
