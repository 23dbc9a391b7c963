-- FlowVision 0009: the flow archive (USE_EXTERNAL_STORAGE): partitions of `flows`
-- written as Parquet objects to an S3-compatible bucket before retention may drop them,
-- the catalog of those objects, and restores of archived rows.
--
-- One object per hour of a partition (an hourly partition is one object, a daily one
-- up to 24), so object keys follow the data's time (`flows/date=YYYY-MM-DD/hour=HH/...`)
-- whatever partition span the collector chose, and a restore fetches only the hours it
-- needs.

-- The archive state of each `flows` partition the archiver has looked at. Retention
-- drops a partition only while its row is 'archived' and its row count still equals
-- the partition's (rows replayed from the spool into an archived partition make it
-- 'stale': archived again before it may go).
CREATE TABLE archive_partitions (
    partition     text        PRIMARY KEY,
    range_start   timestamptz NOT NULL,
    range_end     timestamptz NOT NULL,
    status        text        NOT NULL CHECK (status IN ('pending', 'archived', 'failed', 'stale')),
    rows          bigint,
    bytes         bigint,
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text,
    last_attempt  timestamptz,
    next_attempt  timestamptz,
    archived_at   timestamptz,
    CHECK (range_start < range_end)
);
CREATE INDEX archive_partitions_range ON archive_partitions (range_start);
COMMENT ON TABLE archive_partitions IS 'Archive state of each flows partition: pending, archived (rows and bytes), failed (with the reason and the next attempt) or stale.';

-- Every verified object: written, read back (size and the row count in its footer),
-- then recorded here, in that order.
CREATE TABLE archive_objects (
    partition      text        NOT NULL REFERENCES archive_partitions (partition) ON DELETE CASCADE,
    hour_start     timestamptz NOT NULL,
    object_key     text        NOT NULL UNIQUE,
    rows           bigint      NOT NULL CHECK (rows >= 0),
    bytes          bigint      NOT NULL CHECK (bytes >= 0),
    min_time       timestamptz,
    max_time       timestamptz,
    schema_version integer     NOT NULL,
    archived_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partition, hour_start)
);
CREATE INDEX archive_objects_hour ON archive_objects (hour_start);
COMMENT ON TABLE archive_objects IS 'Verified Parquet objects of the archive, one per hour of a flows partition.';

-- The store as the collector read it at start (the secret is never stored).
CREATE TABLE archive_store (
    id            integer     PRIMARY KEY CHECK (id = 1),
    endpoint      text        NOT NULL,
    bucket        text        NOT NULL,
    secure        boolean     NOT NULL,
    region        text        NOT NULL,
    access_key_id text        NOT NULL,
    prefix        text        NOT NULL,
    host          text        NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE archive_store IS 'The archive store configuration as the collector read it (never the secret).';

-- Restores: archived rows loaded back for flow search and statistics, removable again.
CREATE TABLE archive_restores (
    id           bigserial   PRIMARY KEY,
    range_start  timestamptz NOT NULL,
    range_end    timestamptz NOT NULL,
    status       text        NOT NULL CHECK (status IN ('running', 'done', 'failed', 'removed')),
    objects      integer     NOT NULL DEFAULT 0,
    rows         bigint      NOT NULL DEFAULT 0,
    error        text,
    requested_by text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    CHECK (range_start < range_end)
);
COMMENT ON TABLE archive_restores IS 'Restores of archived rows into flows_restored (who, which range, how many rows).';

-- Restored rows: the columns of `flows` (copied by LIKE; a migration that adds a column
-- to `flows` adds it here too) plus the restore they came from. Not partitioned: restores are small next to `flows`, and dropping one is a DELETE by id.
CREATE TABLE flows_restored (
    LIKE flows INCLUDING DEFAULTS,
    restore_id bigint NOT NULL REFERENCES archive_restores (id) ON DELETE CASCADE
);
CREATE INDEX flows_restored_time ON flows_restored (time_received);
CREATE INDEX flows_restored_restore ON flows_restored (restore_id);
COMMENT ON TABLE flows_restored IS 'Rows restored from the archive (see archive_restores), read by flow search and statistics beside flows.';

-- What flow search and statistics read: live rows and restored ones, marked. A view
-- over UNION ALL keeps partition pruning on `flows` (the planner pushes the time
-- condition into each branch).
CREATE VIEW flows_searchable AS
    SELECT time_received, bytes, packets, flow_start, flow_end, observation_domain, sequence,
           sampling_rate, in_if, out_if, src_as, dst_as, src_port, dst_port, tcp_flags, vlan,
           protocol, proto, tos, src_mask, dst_mask, exporter, src_addr, dst_addr, next_hop,
           false AS restored
      FROM flows
    UNION ALL
    SELECT time_received, bytes, packets, flow_start, flow_end, observation_domain, sequence,
           sampling_rate, in_if, out_if, src_as, dst_as, src_port, dst_port, tcp_flags, vlan,
           protocol, proto, tos, src_mask, dst_mask, exporter, src_addr, dst_addr, next_hop,
           true AS restored
      FROM flows_restored;
COMMENT ON VIEW flows_searchable IS 'flows plus rows restored from the archive (restored = true): what flow search and statistics read.';
