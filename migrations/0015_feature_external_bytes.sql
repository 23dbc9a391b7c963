-- FlowVision 0015: bytes leaving the network in the host features (docs/insights.md).

-- Bytes an internal host sent to addresses outside the internal networks (the
-- collector's INTERNAL_NETWORKS): what the `exfiltration` rule weighs. Backups and
-- replication to internal servers are not in it. Rows written before this column
-- existed read 0: no exfiltration is reported from them.
ALTER TABLE host_features ADD COLUMN bytes_out_external bigint NOT NULL DEFAULT 0;

-- The other way: bytes an internal host received from outside, against which the rule
-- weighs what it sent (a speed test or a video call sends about what it receives).
ALTER TABLE host_features ADD COLUMN bytes_in_external bigint NOT NULL DEFAULT 0;
