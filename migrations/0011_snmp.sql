-- FlowVision 0011: SNMP credentials, what polls learned, and interface names
-- (docs/snmp.md). Written by the console only; the collector never reads them.

-- Credentials of one exporter (exporter set) or the default of a device group
-- (group_id set). Secrets (the community, v3 passwords) are sealed with a key the
-- database never sees (XChaCha20-Poly1305, the row's key bound in); what is not
-- secret (version, user, protocols, agent) is plain so the console can show it.
CREATE TABLE snmp_credentials (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exporter      inet        UNIQUE,
    group_id      bigint      UNIQUE REFERENCES web_device_groups (id) ON DELETE CASCADE,
    version       text        NOT NULL CHECK (version IN ('2c', '3')),
    v3_user       text,
    auth_protocol text,
    priv_protocol text,
    -- The agent's address when it is not the exporter's (NULL: the exporter's).
    agent         inet,
    port          integer     NOT NULL DEFAULT 161 CHECK (port BETWEEN 1 AND 65535),
    sealed        bytea       NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text        NOT NULL,
    CHECK ((exporter IS NULL) <> (group_id IS NULL)),
    CHECK (group_id IS NULL OR agent IS NULL)
);
COMMENT ON TABLE snmp_credentials IS 'SNMP credentials per exporter or device group; secrets sealed (docs/snmp.md).';

-- The last poll of each exporter and what it learned.
CREATE TABLE exporter_snmp (
    exporter       inet        PRIMARY KEY,
    -- ok | error (see last_error) ; polling (a poll is running)
    status         text        NOT NULL CHECK (status IN ('ok', 'error', 'polling')),
    last_poll      timestamptz,
    last_success   timestamptz,
    -- timeout | authentication | no_such_object | network | protocol | configuration
    error_kind     text,
    last_error     text,
    sys_name       text,
    sys_descr      text,
    sys_object_id  text,
    sys_uptime_cs  bigint,
    has_if_x_table boolean,
    interfaces     integer     NOT NULL DEFAULT 0,
    poll_ms        integer
);
COMMENT ON TABLE exporter_snmp IS 'Last SNMP poll of each exporter: status, error, system group.';

-- Interfaces as the last successful poll saw them (replaced whole on each poll).
CREATE TABLE exporter_interfaces (
    exporter    inet        NOT NULL,
    if_index    bigint      NOT NULL,
    name        text,
    alias       text,
    descr       text,
    speed_bps   bigint,
    oper_status text,
    polled_at   timestamptz NOT NULL,
    PRIMARY KEY (exporter, if_index)
);
COMMENT ON TABLE exporter_interfaces IS 'ifName, ifAlias, ifDescr, speed and state of each exporter interface (SNMP).';
