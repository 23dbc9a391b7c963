-- FlowVision 0013: refusals in the host features (docs/insights.md).

-- Flows that refused what the host sent (short TCP resets, ICMP destination
-- unreachable). `host_sweep` does not count them as answers: a sweep of a well-populated
-- subnet is answered by resets from every live host. Rows written before this column
-- existed read 0, as they did before.
ALTER TABLE host_features ADD COLUMN refusals_in bigint NOT NULL DEFAULT 0;
