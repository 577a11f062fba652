-- Who owns each slash command (issue 25): recorded when a cog first loads
-- with the command, kept across restarts, so a later file that declares an
-- owned command is refused whatever its name or load order. An operator
-- moves a command by naming its owner in baseline.toml ([commands]).
CREATE TABLE command_owners (
    command     TEXT PRIMARY KEY,
    cog         TEXT NOT NULL,
    -- Milliseconds since the Unix epoch.
    recorded_at BIGINT NOT NULL
);
