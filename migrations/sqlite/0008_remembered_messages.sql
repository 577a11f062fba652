-- Messages the host remembers for the `before` of edits and deletions
-- (issue 26), so that a message posted before a restart and edited after
-- it still has its old text. Written behind the in-process memory; kept
-- [discord] remember_messages_days and within a byte budget per guild
-- (the oldest go first); a user's are deleted by "forget user".
CREATE TABLE remembered_messages (
    message_id  BIGINT PRIMARY KEY,
    guild_id    BIGINT NOT NULL,
    channel_id  BIGINT NOT NULL,
    author_id   BIGINT NOT NULL,
    -- The message as cogs receive it (JSON of the WIT's message-info).
    body        BLOB NOT NULL,
    bytes       BIGINT NOT NULL,
    -- Milliseconds since the Unix epoch: when it was posted or last edited.
    seen_at     BIGINT NOT NULL
);
CREATE INDEX remembered_messages_by_guild ON remembered_messages (guild_id, seen_at);
CREATE INDEX remembered_messages_by_author ON remembered_messages (author_id);
