-- FlowVision 0017: an insight may be about one interface of its exporter
-- (traffic_anomaly of an interface, docs/insights.md): its ifIndex, NULL otherwise.
-- Part of what makes a detection the same one going on (the engine's continuation
-- match), so two interfaces of one exporter are two insights.
ALTER TABLE insights ADD COLUMN interface bigint CHECK (interface > 0);
COMMENT ON COLUMN insights.interface IS 'ifIndex of the exporter''s interface the insight is about, when one.';
