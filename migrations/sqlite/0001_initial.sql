-- Baseline's first schema (SQLite twin of migrations/postgres/0001). Ids are Discord snowflakes (fit in BIGINT);
-- money is integer micro-dollars; times are UTC.

CREATE TABLE guilds (
    guild_id        BIGINT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    owner_id        BIGINT,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    joined_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    left_at         TEXT
);

CREATE TABLE authorized_users (
    guild_id        BIGINT NOT NULL REFERENCES guilds (guild_id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL,
    role            TEXT NOT NULL DEFAULT 'admin',
    granted_by      BIGINT,
    granted_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE permission_audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        BIGINT NOT NULL,
    actor_id        BIGINT NOT NULL,
    target_user_id  BIGINT NOT NULL,
    action          TEXT NOT NULL,
    at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX permission_audit_guild_at ON permission_audit (guild_id, at DESC);

CREATE TABLE guild_settings (
    guild_id        BIGINT NOT NULL,
    cog             TEXT NOT NULL,
    value           TEXT NOT NULL,
    updated_by      BIGINT,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, cog)
);

CREATE TABLE settings_audit (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        BIGINT NOT NULL,
    cog             TEXT NOT NULL,
    actor_id        BIGINT,
    before_value    TEXT,
    after_value     TEXT NOT NULL,
    at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX settings_audit_guild_cog_at ON settings_audit (guild_id, cog, at DESC);

CREATE TABLE guild_cogs (
    guild_id        BIGINT NOT NULL,
    cog             TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    updated_by      BIGINT,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (guild_id, cog)
);

CREATE TABLE capability_grants (
    cog             TEXT NOT NULL,
    capability      TEXT NOT NULL,
    granted         BOOLEAN NOT NULL,
    updated_by      BIGINT,
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (cog, capability)
);

-- Cog key-value storage. scope: 'g' guild, 'u' user in guild, 'c' cog-wide
-- (guild_id and user_id 0 where they do not apply). Keys sort bytewise
-- (SQLite's BINARY collation) so a prefix is one contiguous range. Values
-- written by `increment` are decimal text. expires_at: Unix milliseconds.
CREATE TABLE cog_kv (
    cog             TEXT NOT NULL,
    scope           TEXT NOT NULL,
    guild_id        BIGINT NOT NULL,
    user_id         BIGINT NOT NULL,
    key             TEXT NOT NULL,
    value           BLOB NOT NULL,
    expires_at      BIGINT,
    PRIMARY KEY (cog, scope, guild_id, user_id, key)
);
CREATE INDEX cog_kv_user ON cog_kv (user_id) WHERE scope = 'u';
CREATE INDEX cog_kv_expires ON cog_kv (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE llm_model_pricing (
    provider                TEXT NOT NULL,
    model                   TEXT NOT NULL,
    input_micros_per_mtok   BIGINT NOT NULL,
    output_micros_per_mtok  BIGINT NOT NULL,
    cached_micros_per_mtok  BIGINT NOT NULL DEFAULT 0,
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (provider, model)
);

CREATE TABLE llm_usage (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id        BIGINT,
    cog             TEXT NOT NULL,
    user_id         BIGINT,
    provider        TEXT NOT NULL,
    model           TEXT NOT NULL,
    input_tokens    BIGINT NOT NULL,
    output_tokens   BIGINT NOT NULL,
    cached_tokens   BIGINT NOT NULL DEFAULT 0,
    cost_micros     BIGINT NOT NULL,
    latency_ms      BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX llm_usage_guild_at ON llm_usage (guild_id, at);
CREATE INDEX llm_usage_cog_at ON llm_usage (cog, at);
CREATE INDEX llm_usage_at ON llm_usage (at);

CREATE TABLE llm_budgets (
    guild_id        BIGINT NOT NULL,
    cog             TEXT NOT NULL DEFAULT '',
    period          TEXT NOT NULL,
    limit_micros    BIGINT NOT NULL,
    PRIMARY KEY (guild_id, cog, period)
);
