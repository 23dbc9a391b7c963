-- FlowVision 0020: how much a periodic contact's pair varied in size (host_beacons).
-- A check-in is nearly the same size each time; a client that happens to use a service
-- on a timer is not, and the beaconing rule asks more contacts of it (docs/insights.md,
-- "beaconing"). NULL behind packet sampling (a record's bytes are then those of its
-- sampled packets) and on rows stored before this column.
ALTER TABLE host_beacons ADD COLUMN size_jitter real CHECK (size_jitter >= 0);
COMMENT ON COLUMN host_beacons.size_jitter IS 'Standard deviation over mean of the bytes of the pair''s recent contacts; NULL when sampled.';
