-- FlowVision 0003: exporters and their health, collector statistics, persisted templates.

-- One row per exporting device. Flow totals (flows, bytes, packets: raw, as exported)
-- are added in the same transaction as the stored rows, so they are exact; datagram,
-- decode-error, sequence-loss and template counters are deltas the collector adds
-- periodically (they survive collector restarts because they are added, not set).
CREATE TABLE exporters (
    exporter          inet          PRIMARY KEY,
    first_seen        timestamptz   NOT NULL,
    last_seen         timestamptz   NOT NULL,
    last_flow         timestamptz,
    protocol          flow_protocol,
    sampling_rate     bigint,
    flows             bigint        NOT NULL DEFAULT 0,
    bytes             bigint        NOT NULL DEFAULT 0,
    packets           bigint        NOT NULL DEFAULT 0,
    datagrams         bigint        NOT NULL DEFAULT 0,
    datagram_bytes    bigint        NOT NULL DEFAULT 0,
    records           bigint        NOT NULL DEFAULT 0,
    decode_errors     bigint        NOT NULL DEFAULT 0,
    sequence_lost     bigint        NOT NULL DEFAULT 0,
    templates         bigint        NOT NULL DEFAULT 0
);
COMMENT ON TABLE exporters IS 'Exporting devices: first/last seen, last protocol and sampling rate, cumulative counters.';
COMMENT ON COLUMN exporters.last_seen IS 'Last datagram or stored flow from the exporter.';
COMMENT ON COLUMN exporters.flows IS 'Flow records stored (exact, same transaction as the rows).';
COMMENT ON COLUMN exporters.bytes IS 'Octets of stored flows as exported (not sampling-corrected).';
COMMENT ON COLUMN exporters.records IS 'Flow records decoded by the collectors (stored or not).';
COMMENT ON COLUMN exporters.sequence_lost IS 'Upstream loss: records (NetFlow/IPFIX) or datagrams (sFlow) missing per header sequence numbers.';
COMMENT ON COLUMN exporters.templates IS 'Templates and options templates learned or refreshed.';

-- Per-minute health of each exporter (rates for the exporters page); same deltas as
-- above. Partitioned by UTC day like the other 1-minute tables.
CREATE TABLE exporter_stats_1m (
    bucket         timestamptz NOT NULL,
    exporter       inet        NOT NULL,
    datagrams      bigint      NOT NULL,
    datagram_bytes bigint      NOT NULL,
    records        bigint      NOT NULL,
    decode_errors  bigint      NOT NULL,
    sequence_lost  bigint      NOT NULL,
    templates      bigint      NOT NULL,
    PRIMARY KEY (bucket, exporter)
) PARTITION BY RANGE (bucket);
COMMENT ON TABLE exporter_stats_1m IS 'Per-exporter datagram, decode-error, sequence-loss and template counters per minute.';

-- Periodic snapshots of each collector process's counters (monotonic since its
-- start), as a JSON object of name -> value, plus the storage counters.
CREATE TABLE collector_stats (
    time       timestamptz NOT NULL,
    instance   bigint      NOT NULL,
    host       text        NOT NULL,
    started_at timestamptz NOT NULL,
    counters   jsonb       NOT NULL,
    PRIMARY KEY (instance, time)
);
CREATE INDEX collector_stats_time ON collector_stats (time);
COMMENT ON TABLE collector_stats IS 'Snapshots of collector counters (monotonic per instance); latest row per instance is the current state.';

-- NetFlow v9 / IPFIX templates, so a restarted collector decodes data that arrives
-- before the exporter resends its templates. One row per template, scoped as the
-- RFCs scope them: (exporter, protocol, observation domain / source id, template id).
CREATE TABLE templates (
    exporter           inet          NOT NULL,
    protocol           flow_protocol NOT NULL,
    observation_domain bigint        NOT NULL,
    template_id        integer       NOT NULL,
    kind               jsonb         NOT NULL,
    fields             jsonb         NOT NULL,
    last_seen          timestamptz   NOT NULL,
    saved_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (exporter, protocol, observation_domain, template_id)
);
COMMENT ON TABLE templates IS 'Templates as exported (fields: [{id, pen, length}, ...]), restored by collectors at start.';

-- Sampling and clock state learned from options records, per scope.
CREATE TABLE template_options (
    exporter           inet          NOT NULL,
    protocol           flow_protocol NOT NULL,
    observation_domain bigint        NOT NULL,
    domain_rate        bigint,
    samplers           jsonb         NOT NULL,
    system_init_ms     bigint,
    saved_at           timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (exporter, protocol, observation_domain)
);
COMMENT ON TABLE template_options IS 'Options-record state per scope: domain sampling rate, sampler id -> rate pairs, exporter boot time.';
