# The collector (and the simulator, for `docker exec ... flowvision-sim`). Runs as root
# inside the container: XDP and AF_XDP need CAP_BPF/CAP_NET_ADMIN/CAP_NET_RAW/CAP_IPC_LOCK
# in the effective set, which Docker gives only to root; the compose file bounds those
# capabilities (compose.least-privilege.yml lists exactly which and why).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
COPY bin/flowvision-collector bin/flowvision-sim /usr/bin/
COPY docker/healthcheck /usr/lib/flowvision/healthcheck
ENV STATE_DIR=/var/lib/flowvision/state
VOLUME /var/lib/flowvision
# The collector is healthy when its /metrics answers (METRICS_LISTEN).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/lib/flowvision/healthcheck", "collector"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/flowvision-collector"]
CMD ["run"]
