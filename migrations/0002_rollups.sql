-- FlowVision 0002: rollups maintained at ingest, in the same transaction as the raw rows.
--
-- Every rollup has the same measures:
--   flows       number of flow records
--   bytes       octets, sampling-corrected (sum of bytes * sampling_rate)
--   packets     packets, sampling-corrected (sum of packets * sampling_rate)
--   raw_bytes   octets as exported (no sampling correction)
--   raw_packets packets as exported
-- Sums saturate at 2^63-1 instead of failing. Buckets are by time_received (UTC),
-- truncated to the minute (_1m) or hour (_1h). The exporter is in every key: the
-- console filters every view by the exporters a user may see, and Citus distributes
-- these tables by exporter.
--
-- _1m tables are partitioned by UTC day (<table>_dYYYYMMDD), _1h tables by ISO week
-- starting Monday (<table>_wYYYYMMDD); the collector creates and drops partitions.

CREATE TABLE rollup_exporter_1m (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_exporter_1m IS 'Traffic per exporter (device totals). 1-minute buckets.';

CREATE TABLE rollup_interface_1m (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    in_if       bigint      NOT NULL,
    out_if      bigint      NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, in_if, out_if)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_interface_1m IS 'Traffic per (input, output) interface pair of an exporter. 1-minute buckets.';

CREATE TABLE rollup_protocol_1m (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    proto       smallint    NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, proto)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_protocol_1m IS 'Traffic per IP protocol number. 1-minute buckets.';

CREATE TABLE rollup_service_1m (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_service_1m IS 'Traffic per service: IP protocol and service port (lower of the two ports for TCP/UDP/SCTP/DCCP, ICMP type*256+code, else 0). Top ports per batch; port = -1 aggregates the rest of that protocol. 1-minute buckets.';

CREATE TABLE rollup_as_1m (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_as_1m IS 'Traffic per (source AS, destination AS) pair. 1-minute buckets.';

CREATE TABLE rollup_talker_1m (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_talker_1m IS 'Top talkers: side 0 = source address, 1 = destination address. Top addresses per batch; addr = 0.0.0.0/0 aggregates the rest (and records without an address). 1-minute buckets.';

CREATE TABLE rollup_exporter_1h (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_exporter_1h IS 'Traffic per exporter (device totals). 1-hour buckets.';

CREATE TABLE rollup_interface_1h (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    in_if       bigint      NOT NULL,
    out_if      bigint      NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, in_if, out_if)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_interface_1h IS 'Traffic per (input, output) interface pair of an exporter. 1-hour buckets.';

CREATE TABLE rollup_protocol_1h (
    bucket      timestamptz NOT NULL,
    exporter    inet        NOT NULL,
    proto       smallint    NOT NULL,
    flows       bigint      NOT NULL,
    bytes       bigint      NOT NULL,
    packets     bigint      NOT NULL,
    raw_bytes   bigint      NOT NULL,
    raw_packets bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter, proto)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_protocol_1h IS 'Traffic per IP protocol number. 1-hour buckets.';

CREATE TABLE rollup_service_1h (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_service_1h IS 'Traffic per service: IP protocol and service port (lower of the two ports for TCP/UDP/SCTP/DCCP, ICMP type*256+code, else 0). Top ports per batch; port = -1 aggregates the rest of that protocol. 1-hour buckets.';

CREATE TABLE rollup_as_1h (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_as_1h IS 'Traffic per (source AS, destination AS) pair. 1-hour buckets.';

CREATE TABLE rollup_talker_1h (
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
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE rollup_talker_1h IS 'Top talkers: side 0 = source address, 1 = destination address. Top addresses per batch; addr = 0.0.0.0/0 aggregates the rest (and records without an address). 1-hour buckets.';
