# PostgreSQL 15 from Debian for the appliance: the cluster is created on first start
# (postgres-entrypoint), with the role and database `flowvision`.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# No default cluster from the package: the entrypoint makes the appliance's own.
RUN mkdir -p /etc/postgresql-common \
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /var/lib/postgresql/data && chown postgres:postgres /var/lib/postgresql/data && chmod 700 /var/lib/postgresql/data
COPY docker/postgres-entrypoint /usr/lib/flowvision/postgres-entrypoint
COPY docker/healthcheck /usr/lib/flowvision/healthcheck
ENV PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
USER postgres
HEALTHCHECK --interval=5s --timeout=5s --start-period=60s --retries=5 CMD ["/usr/lib/flowvision/healthcheck", "postgres"]
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/lib/flowvision/postgres-entrypoint"]
