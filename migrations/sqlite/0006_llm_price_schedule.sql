-- Prices that change on a date and long-context tiers (issue 12): a model
-- may have several rows — one per day it took effect, and per tier (the
-- rate of the whole request once its input reaches `min_input_tokens`).
-- The rows of `llm_model_pricing` move here unchanged (tier 0).

CREATE TABLE llm_prices (
    provider                       TEXT NOT NULL,
    model                          TEXT NOT NULL,
    effective_from                 TEXT NOT NULL,
    min_input_tokens               BIGINT NOT NULL DEFAULT 0,
    input_micros_per_mtok          BIGINT NOT NULL,
    output_micros_per_mtok         BIGINT NOT NULL,
    cached_micros_per_mtok         BIGINT NOT NULL DEFAULT 0,
    cache_write_5m_micros_per_mtok BIGINT NOT NULL DEFAULT 0,
    cache_write_1h_micros_per_mtok BIGINT NOT NULL DEFAULT 0,
    image_micros                   BIGINT NOT NULL DEFAULT 0,
    audio_minute_micros            BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, model, effective_from, min_input_tokens)
);

INSERT INTO llm_prices (provider, model, effective_from, min_input_tokens, input_micros_per_mtok,
    output_micros_per_mtok, cached_micros_per_mtok, cache_write_5m_micros_per_mtok,
    cache_write_1h_micros_per_mtok, image_micros, audio_minute_micros)
SELECT provider, model, effective_from, 0, input_micros_per_mtok, output_micros_per_mtok,
    cached_micros_per_mtok, cache_write_5m_micros_per_mtok, cache_write_1h_micros_per_mtok,
    image_micros, audio_minute_micros
FROM llm_model_pricing;

DROP TABLE llm_model_pricing;
