-- FlowVision 0021: how regular a periodic contact's pair was over its last sixteen
-- intervals (host_beacons), besides its last eight (jitter). A client that uses one
-- service many times an hour is regular by chance for eight intervals now and then;
-- the beaconing rule asks a pair whose contacts vary in size to be regular over
-- sixteen (docs/insights.md, "beaconing"). NULL on rows stored before this column,
-- which the rule then judges by jitter alone.
ALTER TABLE host_beacons ADD COLUMN long_jitter real CHECK (long_jitter >= 0);
COMMENT ON COLUMN host_beacons.long_jitter IS 'Standard deviation over mean of the pair''s last 16 intervals (all it had when fewer); behind sampling the lattice fit''s residuals, as jitter.';
