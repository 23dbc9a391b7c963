-- FlowVision 0014: the insights' models trained on this appliance (docs/models.md).

-- The host anomaly model is retrained by the console on a schedule from the host
-- feature rows; each version is kept here (the newest ten), so a restart reuses the
-- model it had, an insight's `model:host_anomaly@VERSION` can be traced to the weights
-- that produced it, and a backup of the database carries them. `document` is the model
-- file (JSON with a checksum; flowvision-models `file.rs`).
CREATE TABLE insight_models (
    kind       text        NOT NULL,
    version    integer     NOT NULL CHECK (version > 0),
    trained_at timestamptz NOT NULL DEFAULT now(),
    samples    integer     NOT NULL,
    document   bytea       NOT NULL,
    PRIMARY KEY (kind, version)
);
COMMENT ON TABLE insight_models IS 'Versions of the models the console trained (docs/models.md).';
