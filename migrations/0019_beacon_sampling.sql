-- FlowVision 0019: the sampling rate a periodic contact was seen at (host_beacons).
-- Behind packet sampling check-ins are missed, the intervals are multiples of the
-- period and the contact count is of those seen (docs/insights.md, "Check-ins missed
-- by a packet sampler"): the console says so in the insight's why.
ALTER TABLE host_beacons ADD COLUMN sampling_rate integer NOT NULL DEFAULT 1 CHECK (sampling_rate >= 1);
COMMENT ON COLUMN host_beacons.sampling_rate IS 'Packet sampling rate (1 in N) of the record that was the contact; 1 when unsampled.';
