-- FlowVision 0005: forwarding (relay) rules. The collector holds them in memory and
-- reloads them when this table changes: a trigger NOTIFYs channel `forward_rules`, so
-- an edit from the CLI or the console takes effect within a second, without restart.

CREATE TABLE forward_rules (
    name        text        PRIMARY KEY CHECK (name <> ''),
    -- Filter expression (the nfdump/tcpdump-style language of collector/src/forward/filter),
    -- validated by the writer before insert and again by every collector on load.
    filter      text        NOT NULL,
    -- host:port (IPv6 as [addr]:port); NULL for action 'drop'.
    destination text,
    -- 'raw' (forward the datagram unchanged), 'reencode' (only matching records), 'drop'.
    action      text        NOT NULL CHECK (action IN ('raw', 'reencode', 'drop')),
    -- For 'reencode': 'netflow_v9' or 'ipfix'.
    protocol    text        CHECK (protocol IS NULL OR protocol IN ('netflow_v9', 'ipfix')),
    -- Raw action only: send with the exporter's source address (raw socket, CAP_NET_RAW).
    transparent boolean     NOT NULL DEFAULT false,
    -- Rules are evaluated in this order (then by name).
    position    integer     NOT NULL DEFAULT 0,
    enabled     boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (action = 'drop' OR destination IS NOT NULL),
    CHECK (action <> 'reencode' OR protocol IS NOT NULL)
);

COMMENT ON TABLE forward_rules IS 'Relay rules: records matching filter are forwarded to destination (raw or re-encoded) or dropped from forwarding.';

CREATE FUNCTION forward_rules_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('forward_rules', TG_OP);
    RETURN NULL;
END
$$;

CREATE TRIGGER forward_rules_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON forward_rules
    FOR EACH STATEMENT EXECUTE FUNCTION forward_rules_notify();
