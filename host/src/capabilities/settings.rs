//! `settings`: this guild's settings for the cog, as JSON, validated against
//! the schema in the cog's manifest, with the schema's defaults filled in.
//! Writes come from admins (the API, later); cogs only read.

use serde_json::Value;

use super::CogState;
use crate::runtime::bindings::baseline::cog::settings::{Host, SettingsError};

/// The object of defaults a schema declares: each top-level property's
/// `default` (recursing into object properties that have no default of their own).
pub fn defaults_of(schema: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if let Some(default) = property.get("default") {
                out.insert(name.clone(), default.clone());
            } else if property.get("properties").is_some() {
                out.insert(name.clone(), defaults_of(property));
            }
        }
    }
    Value::Object(out)
}

/// Saved values over defaults, key by key (objects merge, the rest replaces).
pub fn merge(defaults: &Value, saved: &Value) -> Value {
    match (defaults, saved) {
        (Value::Object(base), Value::Object(over)) => {
            let mut out = base.clone();
            for (key, value) in over {
                let merged = match base.get(key) {
                    Some(default) => merge(default, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        (_, saved) => saved.clone(),
    }
}

impl Host for CogState {
    async fn get(&mut self) -> wasmtime::Result<Result<String, SettingsError>> {
        if let Err(denial) = self.grants.check("settings") {
            return Ok(Err(SettingsError::Denied(denial)));
        }
        let Some(defaults) = self.settings_defaults.clone() else {
            return Ok(Err(SettingsError::NoSchema));
        };
        let Some(guild) = self.scope.guild_id else {
            return Ok(Err(SettingsError::NoGuild));
        };
        let saved = match self.services.settings.get(&self.scope.cog, guild).await {
            Ok(saved) => saved,
            Err(error) => return Ok(Err(SettingsError::Unavailable(error.to_string()))),
        };
        let value = match saved {
            Some(saved) => merge(&defaults, &saved),
            None => (*defaults).clone(),
        };
        Ok(Ok(value.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_come_from_the_schema() {
        let schema = json!({"type": "object", "properties": {
            "a": {"type": "integer", "default": 6},
            "b": {"type": "string"},
            "nested": {"type": "object", "properties": {"x": {"default": true}}}
        }});
        assert_eq!(defaults_of(&schema), json!({"a": 6, "nested": {"x": true}}));
    }

    #[test]
    fn saved_values_win_over_defaults() {
        let merged = merge(
            &json!({"a": 6, "n": {"x": true, "y": 1}}),
            &json!({"a": 20, "n": {"y": 2}}),
        );
        assert_eq!(merged, json!({"a": 20, "n": {"x": true, "y": 2}}));
    }
}
