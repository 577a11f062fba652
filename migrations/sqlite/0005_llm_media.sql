-- The LLM gateway, second part (issue 12): images and audio priced per
-- image and per minute, usage rows that count them, and a millisecond
-- timestamp both back ends group by day the same way (`at_ms / 86400000`).

ALTER TABLE llm_model_pricing ADD COLUMN image_micros BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_model_pricing ADD COLUMN audio_minute_micros BIGINT NOT NULL DEFAULT 0;

ALTER TABLE llm_usage ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_usage ADD COLUMN audio_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE llm_usage ADD COLUMN at_ms BIGINT NOT NULL DEFAULT 0;
UPDATE llm_usage SET at_ms = CAST((julianday(at) - 2440587.5) * 86400000 AS INTEGER);
CREATE INDEX llm_usage_at_ms ON llm_usage (at_ms);
CREATE INDEX llm_usage_guild_at_ms ON llm_usage (guild_id, at_ms);
CREATE INDEX llm_usage_cog_at_ms ON llm_usage (cog, at_ms);
