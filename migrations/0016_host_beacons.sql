-- FlowVision 0016: periodic contacts for the `beaconing` rule (docs/insights.md).

-- One row per contact of a regular pair: an internal host opening a small new
-- connection to the same outside address and port at a regular interval, as the
-- collector's writers track them (flowvision-insights `beacon`), written in the
-- batch's transaction and never updated. `contacts`, `period_ms` and `jitter` are the
-- pair's state at this contact (over its last eight intervals). Partitioned by
-- day with the 1-minute rollups' retention, like host_features.
CREATE TABLE host_beacons (
    started           timestamptz NOT NULL,
    exporter          inet        NOT NULL,
    host              inet        NOT NULL,
    peer              inet        NOT NULL,
    port              integer     NOT NULL,
    proto             smallint    NOT NULL,
    contacts          integer     NOT NULL,
    period_ms         bigint      NOT NULL,
    jitter            real        NOT NULL,
    bytes_per_contact bigint      NOT NULL
) PARTITION BY RANGE (started);
CREATE INDEX host_beacons_started ON host_beacons USING brin (started);
COMMENT ON TABLE host_beacons IS 'Contacts of internal hosts with outside services at a regular interval, see docs/insights.md.';
