# The console, as an unprivileged system user.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl libwireshark-data \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin flowvision \
 && install -d -o flowvision -g flowvision -m 0700 /var/lib/flowvision/web
COPY bin/flowvision-web /usr/bin/
COPY assets /usr/share/flowvision/assets
COPY docker/healthcheck /usr/lib/flowvision/healthcheck
COPY models /usr/share/flowvision/models
# libtorch for the insights models, where the binary's rpath looks (../lib/flowvision/libtorch).
COPY libtorch /usr/lib/flowvision/libtorch
ENV WEB_ASSETS_DIR=/usr/share/flowvision/assets WEB_MODELS_DIR=/usr/share/flowvision/models WEB_LISTEN=0.0.0.0:8000
USER flowvision
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/lib/flowvision/healthcheck", "web"]
ENTRYPOINT ["/usr/bin/flowvision-web"]
