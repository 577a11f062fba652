-- What each cog keeps in kv, per guild (guild_id 0: its global scope), kept
-- in step with cog_kv by every write so quotas are checked in O(1).
-- bytes counts keys and values; expired rows count until the sweeper
-- deletes them (they still take room on disk).
CREATE TABLE cog_kv_usage (
    cog         TEXT NOT NULL,
    guild_id    BIGINT NOT NULL,
    keys        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    PRIMARY KEY (cog, guild_id)
);

INSERT INTO cog_kv_usage (cog, guild_id, keys, bytes)
SELECT cog, guild_id, count(*), sum(length(CAST(key AS BLOB)) + length(value))
FROM cog_kv GROUP BY cog, guild_id;
