#!/bin/sh
# Example deploy for the `command` backend: pretends to roll out a version.
# shipbot sets SHIPBOT_SERVICE, SHIPBOT_VERSION and SHIPBOT_ENV.
# SHIPBOT_ROLLOUT_SECONDS (default 1) is the pause between steps; tests set it to 0.
# Version 0.0.0-fail makes it fail, to show (and test) a failed deploy.
set -eu

service="${SHIPBOT_SERVICE:-unknown}"
version="${SHIPBOT_VERSION:-unknown}"
env="${SHIPBOT_ENV:-unknown}"
pause="${SHIPBOT_ROLLOUT_SECONDS:-1}"

echo "rolling out $service $version to $env"
sleep "$pause"
echo "$service: draining old instances in $env"
sleep "$pause"
if [ "$version" = "0.0.0-fail" ]; then
    echo "$service: version $version failed its readiness check in $env" >&2
    exit 1
fi
echo "$service: starting $version in $env"
sleep "$pause"
echo "$service $version is live in $env"
