-- FlowVision 0004: the web console's users, roles, device scopes, sessions, API
-- tokens, login attempts and audit log.
--
-- Secrets are never stored: passwords as argon2id PHC strings, session ids and API
-- tokens as SHA-256 digests of 256-bit random values (the cookie or bearer token is
-- the only copy of the value itself).

CREATE TYPE web_role AS ENUM ('admin', 'operator', 'analyst', 'viewer');

CREATE TABLE web_users (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username             text        NOT NULL,
    password_hash        text        NOT NULL,
    role                 web_role    NOT NULL,
    -- Sees every exporter (admins always do, whatever this says).
    all_exporters        boolean     NOT NULL DEFAULT false,
    disabled             boolean     NOT NULL DEFAULT false,
    -- Set for one-time passwords: the only thing the user may do is choose a new one.
    must_change_password boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    last_login           timestamptz,
    CONSTRAINT web_users_username_format CHECK (username ~ '^[A-Za-z0-9._@-]{1,64}$')
);
-- Usernames are case-insensitive for login (Admin and admin are one account).
CREATE UNIQUE INDEX web_users_username_lower ON web_users (lower(username));
COMMENT ON TABLE web_users IS 'Console users; role and device scope decide what each sees.';

-- Device groups: named sets of exporter prefixes (a single exporter is a /32 or /128).
CREATE TABLE web_device_groups (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE web_device_group_members (
    group_id bigint NOT NULL REFERENCES web_device_groups (id) ON DELETE CASCADE,
    prefix   cidr   NOT NULL,
    PRIMARY KEY (group_id, prefix)
);
COMMENT ON TABLE web_device_groups IS 'Named sets of exporter prefixes granted to users as a device scope.';

-- A user's device scope: exporter prefixes granted directly, and device groups.
CREATE TABLE web_user_prefixes (
    user_id bigint NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    prefix  cidr   NOT NULL,
    PRIMARY KEY (user_id, prefix)
);
CREATE TABLE web_user_groups (
    user_id  bigint NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    group_id bigint NOT NULL REFERENCES web_device_groups (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);

-- Server-side sessions. id_hash = SHA-256 of the cookie's 256-bit random value.
CREATE TABLE web_sessions (
    id_hash    bytea       PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    -- Synchronizer token for the session's forms (random, not derived from the id).
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    source_ip  inet,
    user_agent text        NOT NULL DEFAULT ''
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
COMMENT ON TABLE web_sessions IS 'Console sessions; deleted on logout, expiry, revocation and password change.';

-- Personal API tokens (bearer auth for /api/v1). token_hash = SHA-256 of the token.
CREATE TABLE web_api_tokens (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL UNIQUE,
    -- First characters of the token, to recognise it in lists.
    prefix       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX web_api_tokens_user ON web_api_tokens (user_id);

-- Every login attempt, for rate limiting and lockout (per user and per source address).
CREATE TABLE web_login_attempts (
    time      timestamptz NOT NULL DEFAULT now(),
    username  text        NOT NULL,
    source_ip inet,
    success   boolean     NOT NULL
);
CREATE INDEX web_login_attempts_user ON web_login_attempts (lower(username), time);
CREATE INDEX web_login_attempts_ip ON web_login_attempts (source_ip, time);

-- Audit log: logins, failures, logouts and every administrative action.
CREATE TABLE web_audit_log (
    id        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time      timestamptz NOT NULL DEFAULT now(),
    actor_id  bigint,
    actor     text        NOT NULL,
    action    text        NOT NULL,
    target    text        NOT NULL DEFAULT '',
    success   boolean     NOT NULL,
    source_ip inet,
    details   jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX web_audit_log_time ON web_audit_log (time);
COMMENT ON TABLE web_audit_log IS 'Who did what, when and from where; never holds a password or token.';
