-- FlowVision 0001: raw flow records and the exactly-once batch ledger.
--
-- `flows` holds one row per flow record as exported (counters NOT scaled by the
-- sampling rate; multiply by `sampling_rate` at query time). Column names are those
-- of `flowvision-collector decode` JSON, plus `time_received`. Unsigned 32-bit values
-- (ifIndex, AS, sequence, rate, domain) are bigint, 16-bit ones integer; physical order
-- puts fixed-width 8-byte columns first so rows pack without alignment padding.
--
-- Partitioned by RANGE (time_received). Partitions are created ahead of time and
-- dropped after FLOW_RETENTION_DAYS by the collector (DROP TABLE, never DELETE); their
-- names encode their range: flows_hYYYYMMDDHH (one hour) or flows_dYYYYMMDD (one UTC
-- day). There is deliberately no DEFAULT partition: it would make creating a
-- partition for rows already in it fail, and the collector creates the partition a
-- batch needs before loading it.

CREATE TYPE flow_protocol AS ENUM ('netflow_v5', 'netflow_v9', 'ipfix', 'sflow_v5');

CREATE TABLE flows (
    time_received      timestamptz   NOT NULL,
    bytes              bigint        NOT NULL,
    packets            bigint        NOT NULL,
    flow_start         timestamptz,
    flow_end           timestamptz,
    observation_domain bigint        NOT NULL,
    sequence           bigint        NOT NULL,
    sampling_rate      bigint        NOT NULL,
    in_if              bigint        NOT NULL,
    out_if             bigint        NOT NULL,
    src_as             bigint        NOT NULL,
    dst_as             bigint        NOT NULL,
    src_port           integer       NOT NULL,
    dst_port           integer       NOT NULL,
    tcp_flags          integer       NOT NULL,
    vlan               integer       NOT NULL,
    protocol           flow_protocol NOT NULL,
    proto              smallint      NOT NULL,
    tos                smallint      NOT NULL,
    src_mask           smallint      NOT NULL,
    dst_mask           smallint      NOT NULL,
    exporter           inet          NOT NULL,
    src_addr           inet,
    dst_addr           inet,
    next_hop           inet
) PARTITION BY RANGE (time_received);

COMMENT ON TABLE flows IS 'One row per flow record (raw counters), partitioned by time_received; serves flow search.';
COMMENT ON COLUMN flows.time_received IS 'When the collector received the datagram (UTC); the partition and rollup key.';
COMMENT ON COLUMN flows.bytes IS 'Octets as exported (not sampling-corrected: multiply by sampling_rate).';
COMMENT ON COLUMN flows.packets IS 'Packets as exported (not sampling-corrected: multiply by sampling_rate).';
COMMENT ON COLUMN flows.sampling_rate IS 'One in sampling_rate packets was sampled (1 when unsampled).';
COMMENT ON COLUMN flows.exporter IS 'The exporting device (UDP source, or sFlow agent address).';

-- Rows arrive in time order, so a BRIN index on time is tiny and prunes blocks well.
-- Declared on the parent, PostgreSQL creates it on every partition.
CREATE INDEX flows_time_received_brin ON flows USING brin (time_received) WITH (pages_per_range = 32);

-- Every committed batch leaves its id here, in the same transaction as its rows and
-- rollups. A batch replayed from the spool whose id is present was committed already
-- (for example the connection broke during COMMIT) and is skipped: exactly once.
CREATE TABLE ingest_batches (
    instance     bigint      NOT NULL,
    seq          bigint      NOT NULL,
    rows         integer     NOT NULL,
    committed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance, seq)
);
CREATE INDEX ingest_batches_committed_at_brin ON ingest_batches USING brin (committed_at);
COMMENT ON TABLE ingest_batches IS 'Ids of committed batches (collector instance, sequence), pruned after the flow retention plus one day.';
