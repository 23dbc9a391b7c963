-- FlowVision 0006: bounded top-N tiers for long dashboard windows.
--
-- The talker, service and AS rollups have one row per key seen, so a 7-day ranking
-- would have to sum millions of rows. The collector's maintenance compacts each
-- closed period of these tables to the top N keys per (period, exporter[, side]) and
-- folds the rest into the table's "other" row, so totals stay exact:
--   talkers:  addr = 0.0.0.0/0 per (bucket, exporter, side)
--   services: port = -1 per (bucket, exporter, proto)
--   AS:       src_as = -1 AND dst_as = -1 per (bucket, exporter)
-- and builds a daily tier from the compacted hours once a UTC day has closed
-- (rebuilt when late data changes that day's hourly totals).
--
-- The daily tables are small (a few hundred rows per exporter and day) and are not
-- partitioned: retention is a DELETE by the maintenance thread.

CREATE TABLE rollup_talker_1d (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    side        smallint    NOT NULL,
    addr        inet        NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, side, addr)
);
COMMENT ON TABLE rollup_talker_1d IS 'Top talkers per UTC day and exporter: the top addresses of the compacted hours; addr = 0.0.0.0/0 holds the rest. Built when the day has closed.';

CREATE TABLE rollup_service_1d (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    proto       smallint    NOT NULL,
    port        integer     NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, proto, port)
);
COMMENT ON TABLE rollup_service_1d IS 'Top services per UTC day and exporter; port = -1 holds the rest of each protocol. Built when the day has closed.';

CREATE TABLE rollup_as_1d (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    src_as      bigint      NOT NULL,
    dst_as      bigint      NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, src_as, dst_as)
);
COMMENT ON TABLE rollup_as_1d IS 'Top (source AS, destination AS) pairs per UTC day and exporter; src_as = dst_as = -1 holds the rest. Built when the day has closed.';

COMMENT ON TABLE rollup_as_1m IS 'Traffic per (source AS, destination AS) pair. 1-minute buckets. Closed minutes are compacted to the top pairs; src_as = dst_as = -1 holds the rest.';
COMMENT ON TABLE rollup_as_1h IS 'Traffic per (source AS, destination AS) pair. 1-hour buckets. Closed hours are compacted to the top pairs; src_as = dst_as = -1 holds the rest.';

-- How far each table's compaction (or, for the daily tables, the daily build) has
-- got: every bucket before done_until is done. For the daily tables, the days in
-- [built_from, done_until) are built and checked; the console reads them only there.
CREATE TABLE rollup_compaction (
    tbl         text        PRIMARY KEY,
    done_until  timestamptz NOT NULL,
    built_from  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE rollup_compaction IS 'Progress of the top-N compaction and daily builds, per table.';
