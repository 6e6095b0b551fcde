#!/bin/sh
# Regenerate and verify the picklejail sample corpus.
#   sh corpus/gen/make_corpus.sh            # generate + verify
#   sh corpus/gen/make_corpus.sh --no-verify
# Needs Debian's /usr/bin/python3 with python3-torch, python3-numpy,
# python3-sklearn, python3-joblib, python3-pandas; 7z (p7zip-full) and zstd
# are used for two samples. As root, missing packages are installed with apt.
# verify.py really loads the malicious samples: their payloads only create
# empty marker files in a temporary $PJ_MARKER_DIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
pkgs="python3 python3-torch python3-numpy python3-sklearn python3-joblib python3-pandas p7zip-full zstd"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "make_corpus: installing$missing" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
    else
        echo "make_corpus: missing packages:$missing (run as root or install them)" >&2
        exit 1
    fi
fi

export PYTHONHASHSEED=0 PYTHONDONTWRITEBYTECODE=1
"$PY" "$here/generate.py"
if [ "${1:-}" != "--no-verify" ]; then
    "$PY" "$here/verify.py"
fi
