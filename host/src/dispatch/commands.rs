//! Slash commands from the loaded cogs' manifests, registered with one bulk
//! overwrite — globally, or in the development guild when one is configured
//! (guild commands change instantly). Registration is diffed: against what
//! this process last registered, and at start-up against what Discord
//! already has, so a reload that changes no command registers nothing.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::Value;

use super::Bot;
use crate::discord::outgoing;
use crate::discord::rest::{Body, RestError};

/// Remembers the last registered set.
#[derive(Default)]
pub struct Registrar {
    last: tokio::sync::Mutex<Option<Value>>,
}

/// Option keys `outgoing` writes only when they are used.
const OMITTED_WHEN_EMPTY: &[&str] = &[
    "choices",
    "autocomplete",
    "min_value",
    "max_value",
    "min_length",
    "max_length",
    "channel_types",
];

/// Does `remote` (what Discord holds) say everything `desired` says? Keys
/// Discord adds (ids, versions, localizations) are ignored; a key Discord
/// leaves out counts as its empty default.
pub fn covers(desired: &Value, remote: Option<&Value>) -> bool {
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    };
    match (desired, remote) {
        (d, None) | (d, Some(Value::Null)) => empty(d),
        (Value::Object(d), Some(Value::Object(r))) => {
            d.iter().all(|(k, v)| covers(v, r.get(k)))
                // A key we leave out when unused must be unused there too:
                // choices, limits or autocomplete removed from a cog count.
                && OMITTED_WHEN_EMPTY
                    .iter()
                    .filter(|k| !d.contains_key(**k))
                    .all(|k| r.get(*k).is_none_or(&empty))
        }
        (Value::Array(d), Some(Value::Array(r))) => {
            d.len() == r.len() && d.iter().zip(r).all(|(a, b)| covers(a, Some(b)))
        }
        (Value::Number(a), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
        (Value::Array(d), Some(_)) => d.is_empty(),
        (d, Some(r)) => d == r,
    }
}

impl Bot {
    /// Every loaded cog's commands, sorted by name.
    pub fn desired_commands(&self) -> Value {
        let mut list: Vec<Value> = self
            .runtime
            .registry()
            .list()
            .iter()
            .flat_map(|cog| {
                cog.manifest
                    .commands
                    .iter()
                    .map(outgoing::command)
                    .collect::<Vec<_>>()
            })
            .collect();
        list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        Value::Array(list)
    }

    fn commands_path(&self) -> String {
        let app = self.link.rest.application_id();
        match self.config.dev_guild {
            Some(guild) => format!("/applications/{app}/guilds/{guild}/commands"),
            None => format!("/applications/{app}/commands"),
        }
    }

    /// Register the commands if they changed; true when a bulk overwrite was made.
    pub async fn sync_commands(&self) -> Result<bool, RestError> {
        let desired = self.desired_commands();
        let mut last = self.registrar.last.lock().await;
        if last.as_ref() == Some(&desired) {
            return Ok(false);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        if last.is_none() {
            let mut remote = self
                .link
                .rest
                .call(
                    None,
                    Method::GET,
                    &self.commands_path(),
                    Body::Empty,
                    deadline,
                )
                .await?;
            if let Value::Array(list) = &mut remote {
                list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            }
            if covers(&desired, Some(&remote)) {
                tracing::info!(
                    commands = desired.as_array().map_or(0, Vec::len),
                    "slash commands already registered; nothing to do"
                );
                *last = Some(desired);
                return Ok(false);
            }
        }
        self.link
            .rest
            .call(
                None,
                Method::PUT,
                &self.commands_path(),
                Body::Json(desired.clone()),
                deadline,
            )
            .await?;
        tracing::info!(
            commands = desired.as_array().map_or(0, Vec::len),
            scope = if self.config.dev_guild.is_some() {
                "development guild"
            } else {
                "global"
            },
            "slash commands registered"
        );
        *last = Some(desired);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::covers;

    #[test]
    fn discord_extras_and_empty_defaults_do_not_count_as_changes() {
        let desired = json!([{"name": "a", "description": "d", "options": [], "nsfw": false, "default_member_permissions": null}]);
        let remote = json!([{"id": "1", "version": "2", "name": "a", "description": "d", "nsfw": false, "name_localizations": null}]);
        assert!(covers(&desired, Some(&remote)));
        let changed = json!([{"id": "1", "name": "a", "description": "other"}]);
        assert!(!covers(&desired, Some(&changed)));
        assert!(!covers(&desired, Some(&json!([]))));
        assert!(covers(
            &json!({"min_value": 1.0}),
            Some(&json!({"min_value": 1}))
        ));
    }
}
