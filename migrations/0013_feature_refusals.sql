-- FlowVision 0013: refusals and probe records in the host features (docs/insights.md).

-- Flows that refused what the host sent (short TCP resets, ICMP destination
-- unreachable). `host_sweep` does not count them as answers: a sweep of a well-populated
-- subnet is answered by resets from every live host.
ALTER TABLE host_features ADD COLUMN refusals_in bigint NOT NULL DEFAULT 0;

-- Probe records as exported (not sampling-corrected): against probe_flows_out they give
-- the sampling rate a host's probes were seen at, by which the scan rules scale the
-- distinct ports and hosts seen. Rows written before these columns existed read 0
-- (unknown: no scaling), as they did before.
ALTER TABLE host_features ADD COLUMN probe_records_out bigint NOT NULL DEFAULT 0;
