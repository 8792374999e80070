#!/usr/bin/env bash
# Install the Debian packages Fengqiao needs, when this machine lets us (root + apt-get);
# otherwise print the exact command for an administrator. Usage: system-deps.sh [--browser]
set -u
packages="fonts-wqy-microhei libharfbuzz-subset0 poppler-utils"
if [ "${1:-}" = "--browser" ]; then
  packages="$packages chromium"
fi
missing=""
for p in $packages; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null \
    || { echo "apt-get failed; install by hand: apt-get install -y$missing" >&2; exit 1; }
else
  echo "Fengqiao needs these system packages; ask an administrator to run:" >&2
  echo "  sudo apt-get install -y --no-install-recommends$missing" >&2
fi
