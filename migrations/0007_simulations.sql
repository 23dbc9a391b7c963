-- FlowVision 0007: simulations started from the console. The console runs them (the
-- simulator crate as a library) and keeps their history here: what was asked, who
-- asked, where it was sent, the last progress and the ground-truth labels. Targets
-- other than the appliance's own collector must be on the allow-list an admin keeps.

CREATE TABLE web_sim_runs (
    id          bigserial   PRIMARY KEY,
    -- Bundled scenario it started from ('' for the simulator's defaults).
    scenario    text        NOT NULL,
    -- The effective scenario (TOML, every default written out).
    scenario_toml text      NOT NULL,
    -- host:port the datagrams went to.
    target      text        NOT NULL,
    -- Peak background flows per wall-clock second it was budgeted at (its rate).
    budget_rate double precision NOT NULL CHECK (budget_rate >= 0),
    -- running, finished, cancelled, failed; interrupted when the console stopped under it.
    state       text        NOT NULL CHECK (state IN ('running', 'finished', 'cancelled', 'failed', 'interrupted')),
    started_by  text        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    -- The last progress published (the simulator's Progress, labels left out).
    progress    jsonb       NOT NULL DEFAULT '{}',
    -- Ground truth: one object per anomaly begun (the simulator's labels).
    labels      jsonb       NOT NULL DEFAULT '[]',
    error       text
);

CREATE INDEX web_sim_runs_started ON web_sim_runs (started_at DESC);

COMMENT ON TABLE web_sim_runs IS 'Simulations run by the console: request, target, progress, labels.';

CREATE TABLE web_sim_targets (
    id          bigserial   PRIMARY KEY,
    -- ADDRESS:PORT ([v6]:port), as SocketAddr prints it: the only other places a
    -- simulation may send to.
    target      text        NOT NULL UNIQUE CHECK (target <> ''),
    note        text        NOT NULL DEFAULT '',
    added_by    text        NOT NULL,
    added_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE web_sim_targets IS 'Allow-list of simulation targets besides the appliance''s own collector (admins only).';
