# syntax=docker/dockerfile:1.7
# shipbot's image. Build it with the version from pyproject.toml:
#   docker build --build-arg SHIPBOT_VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)" -t shipbot .
# Run it with a read-only root filesystem; only SHIPBOT_STATE_DIR (and /tmp) are writable:
#   docker run --read-only --tmpfs /tmp -v shipbot-state:/var/lib/shipbot -p 3000:3000 shipbot
#
# .ci/image_check.py runs every RUN step below in a clean virtualenv as a non-root user and
# starts ENTRYPOINT + CMD from it, probing HEALTHCHECK's command, so this file and CI cannot
# drift apart. Keep each RUN step a call to a script in deploy/image/ (or the user step).
# 3.11: the interpreter .ci/image_check.py replays the steps with (Debian bookworm's).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
# .dockerignore keeps tests, benches and local state out of the context.
COPY . /src
RUN sh /src/deploy/image/build-wheels.sh /src /src/dist

FROM ${PYTHON_IMAGE}
ARG SHIPBOT_VERSION
LABEL org.opencontainers.image.title="shipbot" \
      org.opencontainers.image.description="ChatOps for platform teams: deploys, approvals, incidents, alerts, audit and reports from Slack." \
      org.opencontainers.image.version="${SHIPBOT_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/shipbot/shipbot"
# The wheels and the install script are mounted for this one step, so they stay out of the
# image's layers; install.sh refuses a wheel whose version is not SHIPBOT_VERSION.
RUN --mount=type=bind,from=build,source=/src,target=/src \
    sh /src/deploy/image/install.sh /src/dist /opt/shipbot "${SHIPBOT_VERSION}"
RUN groupadd --system --gid 10001 shipbot \
 && useradd --system --uid 10001 --gid shipbot --home-dir /var/lib/shipbot --shell /usr/sbin/nologin shipbot \
 && install -d -o shipbot -g shipbot -m 0750 /var/lib/shipbot
ENV PATH=/opt/shipbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SHIPBOT_STATE_DIR=/var/lib/shipbot \
    SHIPBOT_DATABASE_URL=sqlite:////var/lib/shipbot/shipbot.db \
    SHIPBOT_CONFIG=/etc/shipbot/shipbot.yaml \
    SHIPBOT_PORT=3000
WORKDIR /var/lib/shipbot
VOLUME ["/var/lib/shipbot"]
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('SHIPBOT_PORT', '3000'), timeout=4)"]
ENTRYPOINT ["shipbot"]
CMD ["serve"]
