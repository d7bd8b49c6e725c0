#!/bin/sh
# Image stage 2 (and the CI check, .ci/image_check.py): install shipbot VERSION from the
# wheels in WHEELS into a fresh virtualenv at PREFIX, from those wheels only (no index,
# no compiler), and drop pip so the image keeps no installer. Refuses a wheel whose
# version is not VERSION, so the image's version label cannot disagree with the code.
# Usage: install.sh WHEELS PREFIX VERSION      PYTHON: the base interpreter (default python3)
set -eu
wheels=$1
prefix=$2
version=$3
if [ -z "$version" ]; then
  echo "install.sh: no version given (docker build --build-arg SHIPBOT_VERSION=...)" >&2
  exit 2
fi
"${PYTHON:-python3}" -m venv "$prefix"
"$prefix/bin/python" -m pip install --quiet --no-index --no-cache-dir \
  --disable-pip-version-check --find-links "$wheels" "shipbot==$version"
"$prefix/bin/python" -m pip uninstall --quiet --yes pip setuptools 2>/dev/null
# Byte-compile now: the root filesystem is read-only at run time.
"$prefix/bin/python" -m compileall -q "$prefix/lib" >/dev/null
"$prefix/bin/shipbot" --version
