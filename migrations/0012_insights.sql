-- FlowVision 0012: host features and insights (docs/insights.md).

-- Per-host features in 10-second buckets, as one exporter saw them: partial
-- aggregates, one row per (bucket, exporter, host) per stored batch, written by the
-- collector's writers in the batch's own transaction and never updated; readers sum
-- the counters and merge the sketches (64-byte HyperLogLog registers) of a key.
-- Partitioned by day with the 1-minute rollups' retention, so backtests reach as far
-- back as the raw flows.
CREATE TABLE host_features (
    bucket          timestamptz NOT NULL,
    exporter        inet        NOT NULL,
    host            inet        NOT NULL,
    flows_in        bigint      NOT NULL,
    flows_out       bigint      NOT NULL,
    bytes_in        bigint      NOT NULL,
    bytes_out       bigint      NOT NULL,
    packets_in      bigint      NOT NULL,
    packets_out     bigint      NOT NULL,
    syn_packets_in  bigint      NOT NULL,
    syn_packets_out bigint      NOT NULL,
    udp_packets_in  bigint      NOT NULL,
    icmp_packets_in bigint      NOT NULL,
    amp_packets_in  bigint      NOT NULL,
    amp_bytes_in    bigint      NOT NULL,
    probe_flows_out bigint      NOT NULL,
    echo_flows_out  bigint      NOT NULL,
    sources_in      bytea       NOT NULL,
    reflectors_in   bytea       NOT NULL,
    peers_out       bytea       NOT NULL,
    ports_out       bytea       NOT NULL
) PARTITION BY RANGE (bucket);
CREATE INDEX host_features_bucket ON host_features USING brin (bucket);
COMMENT ON TABLE host_features IS 'Per-host 10 s feature rows (partial aggregates per batch), see docs/insights.md.';

-- What the detectors found. `start`/`end` are flow time; an insight that goes on is
-- extended (end, score, why) rather than repeated.
CREATE TABLE insights (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text        NOT NULL,
    severity     text        NOT NULL CHECK (severity IN ('medium', 'high', 'critical')),
    score        real        NOT NULL,
    start_time   timestamptz NOT NULL,
    end_time     timestamptz NOT NULL,
    exporter     inet        NOT NULL,
    source       inet,
    target       inet,
    detector     text        NOT NULL,
    why          jsonb       NOT NULL,
    acknowledged_by text,
    acknowledged_at timestamptz,
    CHECK (end_time >= start_time)
);
CREATE INDEX insights_time ON insights (end_time, start_time);
CREATE INDEX insights_open ON insights (kind, exporter, end_time);
COMMENT ON TABLE insights IS 'Detections of the insights engine, keyed on flow time (docs/insights.md).';
