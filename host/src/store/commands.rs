//! Who owns each slash command: the cog that first loaded with it, recorded
//! and kept across restarts, or the cog the operator names in
//! `baseline.toml` (`[commands]`). Load order cannot change it: a file named
//! to load first that declares an owned command is refused, naming both.

use std::collections::HashMap;

use super::{Database, StoreError, now_millis, with_pool};

/// The recorded owners of slash commands.
#[derive(Clone)]
pub struct CommandOwners {
    db: Database,
}

impl CommandOwners {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The recorded owner of each of `commands` that has one.
    pub async fn owners(&self, commands: &[String]) -> Result<HashMap<String, String>, StoreError> {
        let mut owners = HashMap::new();
        for command in commands {
            let cog: Option<String> = with_pool!(self.db, |pool| sqlx::query_scalar(
                "SELECT cog FROM command_owners WHERE command = $1"
            )
            .bind(command)
            .fetch_optional(pool)
            .await)?;
            if let Some(cog) = cog {
                owners.insert(command.clone(), cog);
            }
        }
        Ok(owners)
    }

    /// Record `cog` as the owner of each of `commands` that has none yet;
    /// with `replace`, of each of them whatever was recorded (the operator
    /// named it).
    pub async fn record(
        &self,
        commands: &[String],
        cog: &str,
        replace: bool,
    ) -> Result<(), StoreError> {
        let statement = match replace {
            true => {
                "INSERT INTO command_owners (command, cog, recorded_at) VALUES ($1, $2, $3)
                 ON CONFLICT (command) DO UPDATE SET cog = excluded.cog, recorded_at = excluded.recorded_at"
            }
            false => {
                "INSERT INTO command_owners (command, cog, recorded_at) VALUES ($1, $2, $3)
                 ON CONFLICT (command) DO NOTHING"
            }
        };
        let now = now_millis();
        for command in commands {
            with_pool!(self.db, |pool| sqlx::query(statement)
                .bind(command)
                .bind(cog)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }
}
