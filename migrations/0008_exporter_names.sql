-- FlowVision 0008: a display name and notes per exporter, set from the console.
-- A table of its own rather than columns of `exporters`: the collector upserts that
-- table on every statistics snapshot and must not race with (or overwrite) what a
-- person typed, and a name may be given before the exporter sends anything.

CREATE TABLE exporter_names (
    exporter     inet        PRIMARY KEY,
    -- Shown instead of the address (with the address beside it); NULL: none.
    display_name text        CHECK (display_name IS NULL OR (display_name <> '' AND length(display_name) <= 100)),
    notes        text        NOT NULL DEFAULT '' CHECK (length(notes) <= 4000),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    -- Console user name of the last change (the audit log has the history).
    updated_by   text
);

COMMENT ON TABLE exporter_names IS 'Display names and notes of exporters, edited in the console (overrides names learned otherwise).';
