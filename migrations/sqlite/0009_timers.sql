-- Cogs' timers (issue 26, the `schedule` capability): per cog and guild
-- by name, each due at a time; kept across restarts, taken once by the
-- process that runs the guild's shard.
CREATE TABLE timers (
    cog         TEXT NOT NULL,
    guild_id    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    -- Milliseconds since the Unix epoch.
    due_at      BIGINT NOT NULL,
    payload     TEXT NOT NULL,
    set_at      BIGINT NOT NULL,
    PRIMARY KEY (cog, guild_id, name)
);
CREATE INDEX timers_due ON timers (due_at);
