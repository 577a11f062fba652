-- SQLite twin of migrations/postgres/0003. Login and access (issue 11). `authorized_users.role` is the tier:
-- 'owner' (the guild's owner, from Discord; an admin), 'admin', 'editor'
-- or 'viewer'. Every change of it is kept in `access_history`. Times in
-- the new tables are milliseconds since the Unix epoch (both back ends).

CREATE TABLE access_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        BIGINT NOT NULL,
    -- Who made the change; NULL when Discord did (an ownership transfer).
    actor_id        BIGINT,
    user_id         BIGINT NOT NULL,
    -- NULL: no access before / after.
    role_before     TEXT,
    role_after      TEXT,
    at              BIGINT NOT NULL
);
CREATE INDEX access_history_guild ON access_history (guild_id, id DESC);

-- Never written: replaced by access_history.
DROP TABLE permission_audit;

-- Bearer tokens for scripts, stored as SHA-256 of the token.
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,
    user_id         BIGINT NOT NULL,
    name            TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    expires_at      BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- What Discord last said about a signed-in user: their guilds (JSON, with
-- owner flag and permissions) and whether they are on the developer team.
-- API tokens act with this; a login or a session refresh rewrites it.
CREATE TABLE dashboard_users (
    user_id         BIGINT PRIMARY KEY,
    username        TEXT NOT NULL,
    developer       BOOLEAN NOT NULL DEFAULT FALSE,
    guilds          TEXT NOT NULL DEFAULT '[]',
    refreshed_at    BIGINT NOT NULL
);
