#!/usr/bin/env bash
# Install the Debian packages picklejail needs to build and test, when missing.
set -eu
pkgs="build-essential clang libclang-rt-14-dev libseccomp-dev zlib1g-dev libbz2-dev liblzma-dev
libzstd-dev libarchive-dev libcjson-dev libcmocka-dev python3
python3-jsonschema python3-yaml parallel"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "picklejail: missing build packages:$missing (run as root or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
