-- FlowVision 0010: MIB modules uploaded in the console (docs/mib.md, "Uploads").
-- One row per module (a file declaring two modules is stored under each), keyed by
-- the module name found in the file's text, never by file name: that is how imports
-- resolve. The base modules shipped with the appliance are not stored here; an upload
-- of one of them overrides it, and deleting the upload brings the shipped copy back.

CREATE TABLE mib_modules (
    module       text        PRIMARY KEY CHECK (module <> '' AND length(module) <= 200),
    -- The uploaded file's name (inside its archive, folders kept).
    file_name    text        NOT NULL CHECK (length(file_name) <= 1024),
    content      bytea       NOT NULL,
    sha256       bytea       NOT NULL CHECK (length(sha256) = 32),
    -- Newest LAST-UPDATED/REVISION as 'YYYY-MM-DD HH:MM' (UTC); NULL for SMIv1
    -- modules and unreadable dates. A newer upload replaces an older one.
    revision     text,
    -- ok: part of the console's OID tree. quarantined: it had errors (or did not
    -- parse), is kept with its diagnostics and is not loaded; each later upload
    -- retries it (a missing import may have arrived).
    status       text        NOT NULL CHECK (status IN ('ok', 'quarantined')),
    -- [{"file", "line", "severity", "message"}] as the resolver reported them.
    diagnostics  jsonb       NOT NULL DEFAULT '[]',
    uploaded_by  text        NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE mib_modules IS 'MIB modules uploaded in the console, with their resolution status and diagnostics.';
