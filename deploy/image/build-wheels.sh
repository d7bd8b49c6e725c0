#!/bin/sh
# Image stage 1 (and the CI check, .ci/image_check.py): build shipbot's wheel and a wheel
# of every dependency into OUT, so the final stage installs offline and needs no compiler.
# Usage: build-wheels.sh SRC OUT        PYTHON: the interpreter with pip (default python3)
set -eu
src=$1
out=$2
"${PYTHON:-python3}" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$out" "$src"
