-- The LLM gateway (issue 12): every kind of token priced, richer usage rows,
-- and budget windows with reservations.

ALTER TABLE llm_model_pricing ADD COLUMN cache_write_5m_micros_per_mtok BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_model_pricing ADD COLUMN cache_write_1h_micros_per_mtok BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_model_pricing ADD COLUMN effective_from TEXT NOT NULL DEFAULT '';

ALTER TABLE llm_usage ADD COLUMN cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_usage ADD COLUMN reasoning_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_usage ADD COLUMN operation TEXT NOT NULL DEFAULT 'chat';
ALTER TABLE llm_usage ADD COLUMN fallback BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE llm_usage ADD COLUMN cache_hit BOOLEAN NOT NULL DEFAULT FALSE;

-- What a budget window has spent, and what calls in flight have reserved
-- (released when they settle). `cog` is '' for the guild's own budget;
-- `window_start` names the window ('2026-11-29' daily, '2026-11' monthly).
CREATE TABLE llm_spend (
    guild_id        BIGINT NOT NULL,
    cog             TEXT NOT NULL,
    period          TEXT NOT NULL,
    window_start    TEXT NOT NULL,
    spent_micros    BIGINT NOT NULL DEFAULT 0,
    reserved_micros BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (guild_id, cog, period, window_start)
);
