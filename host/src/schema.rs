//! Cog settings schemas — the one owner of their rules, used by the
//! runtime (compiled once at load), the `settings` capability (defaults),
//! the API (validation, 422 by field) and `baseline cog call --settings`:
//! a schema must be JSON Schema describing an object; its defaults are each
//! property's `default` (recursing into objects without one) and must
//! satisfy it; saved values merge over the defaults key by key; a value is
//! valid when the merged whole satisfies the schema.
//!
//! Three formats name Discord things by id (a string: snowflakes do not
//! fit a JavaScript number): `discord-channel`, `discord-role`,
//! `discord-user`. The schema checks their shape; the API checks that a
//! newly saved one names a channel, role or member of the guild it is saved
//! for (`api/settings.rs`), and the dashboard draws pickers for them.

use serde_json::Value;

/// Format of a channel id of the guild.
pub const DISCORD_CHANNEL: &str = "discord-channel";
/// Format of a role id of the guild.
pub const DISCORD_ROLE: &str = "discord-role";
/// Format of a member's user id.
pub const DISCORD_USER: &str = "discord-user";

/// A Discord id: digits that fit 64 bits.
fn is_snowflake(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u64>().is_ok()
}

/// A Discord id a settings value names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordRef {
    /// JSON pointer to it.
    pub path: String,
    /// Its format (`discord-channel`, …).
    pub format: &'static str,
    /// The id.
    pub id: u64,
}

/// The Discord ids in `value` that `schema` marks with a Discord format,
/// through nested objects and arrays.
pub fn discord_refs(schema: &Value, value: &Value) -> Vec<DiscordRef> {
    let mut found = Vec::new();
    walk(schema, value, String::new(), &mut found);
    found
}

fn walk(schema: &Value, value: &Value, path: String, found: &mut Vec<DiscordRef>) {
    let format = match schema.get("format").and_then(Value::as_str) {
        Some(DISCORD_CHANNEL) => Some(DISCORD_CHANNEL),
        Some(DISCORD_ROLE) => Some(DISCORD_ROLE),
        Some(DISCORD_USER) => Some(DISCORD_USER),
        _ => None,
    };
    if let (Some(format), Some(id)) = (format, value.as_str().and_then(|t| t.parse().ok())) {
        found.push(DiscordRef { path, format, id });
        return;
    }
    if let (Some(properties), Some(object)) = (
        schema.get("properties").and_then(Value::as_object),
        value.as_object(),
    ) {
        for (key, property) in properties {
            if let Some(inner) = object.get(key) {
                walk(property, inner, format!("{path}/{key}"), found);
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            walk(items, item, format!("{path}/{index}"), found);
        }
    }
}

/// A settings schema, compiled, with its defaults.
pub struct SettingsSchema {
    validator: jsonschema::Validator,
    /// The schema as the cog declared it.
    pub document: Value,
    /// The defaults object (valid against the schema).
    pub defaults: Value,
}

/// One way a value breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the field (`""` for the whole object).
    pub path: String,
    /// What is wrong, as the validator says it.
    pub message: String,
}

impl SettingsSchema {
    /// Compile `text` and check that its defaults satisfy it. `Err` says
    /// what is wrong, in one line.
    pub fn compile(text: &str) -> Result<Self, String> {
        let document: Value = serde_json::from_str(text)
            .map_err(|error| format!("settings schema is not JSON: {error}"))?;
        if document.get("type").and_then(|t| t.as_str()) != Some("object") {
            return Err("settings schema must describe an object (`\"type\": \"object\"`)".into());
        }
        let validator = jsonschema::options()
            .with_format(DISCORD_CHANNEL, is_snowflake)
            .with_format(DISCORD_ROLE, is_snowflake)
            .with_format(DISCORD_USER, is_snowflake)
            // Formats assert (draft 2020-12 makes them annotations by
            // default): ours, and the standard ones (`email`, `uri`, …).
            .should_validate_formats(true)
            .build(&document)
            .map_err(|error| format!("settings schema is not a valid JSON Schema: {error}"))?;
        let defaults = defaults_of(&document);
        let schema = Self {
            validator,
            document,
            defaults,
        };
        let problems = schema.violations(&schema.defaults);
        if !problems.is_empty() {
            let list: Vec<String> = problems
                .iter()
                .map(|v| format!("{} at `{}`", v.message, v.path))
                .collect();
            return Err(format!(
                "the schema's defaults do not satisfy it: {}",
                list.join("; ")
            ));
        }
        Ok(schema)
    }

    /// `saved` over the defaults (what a cog reads).
    pub fn with_defaults(&self, saved: Option<&Value>) -> Value {
        match saved {
            Some(saved) => merge(&self.defaults, saved),
            None => self.defaults.clone(),
        }
    }

    /// Every way `value` breaks the schema; empty when it is valid.
    pub fn violations(&self, value: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(value)
            .map(|error| Violation {
                path: error.instance_path().to_string(),
                message: error.to_string(),
            })
            .collect()
    }

    /// `submitted` merged over the defaults, if the result is valid.
    pub fn accept(&self, submitted: &Value) -> Result<Value, Vec<Violation>> {
        if !submitted.is_object() {
            return Err(vec![Violation {
                path: String::new(),
                message: "settings must be a JSON object".into(),
            }]);
        }
        let merged = merge(&self.defaults, submitted);
        let problems = self.violations(&merged);
        if problems.is_empty() {
            Ok(merged)
        } else {
            Err(problems)
        }
    }
}

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

    #[test]
    fn a_schema_is_refused_with_the_reason() {
        let refused = |text: &str| SettingsSchema::compile(text).err().unwrap();
        assert!(refused("{").contains("not JSON"));
        assert!(refused(r#"{"type": "string"}"#).contains("describe an object"));
        assert!(
            refused(
                r#"{"type": "object", "properties": {"a": {"type": "integer", "default": "x"}}}"#
            )
            .contains("defaults do not satisfy")
        );
    }

    #[test]
    fn submitted_values_are_merged_then_checked_by_field() {
        let schema = SettingsSchema::compile(
            r#"{"type": "object", "properties": {"a": {"type": "integer", "maximum": 10, "default": 1}, "b": {"type": "string", "default": "x"}}}"#,
        )
        .unwrap();
        assert_eq!(
            schema.accept(&json!({"a": 5})).unwrap(),
            json!({"a": 5, "b": "x"})
        );
        let problems = schema.accept(&json!({"a": 50})).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "/a");
        assert_eq!(schema.accept(&json!([1])).unwrap_err()[0].path, "");
        assert_eq!(schema.with_defaults(None), json!({"a": 1, "b": "x"}));
    }

    #[test]
    fn discord_ids_are_checked_for_shape_and_found_for_the_guild_check() {
        let schema = SettingsSchema::compile(
            r#"{"type": "object", "properties": {
                "log": {"type": "string", "format": "discord-channel", "default": "1"},
                "mods": {"type": "array", "items": {"type": "string", "format": "discord-role"}, "default": []},
                "nested": {"type": "object", "properties": {"owner": {"type": "string", "format": "discord-user", "default": "7"}}}}}"#,
        )
        .unwrap();
        let problems = schema.accept(&json!({"log": "general"})).unwrap_err();
        assert_eq!(problems[0].path, "/log");
        assert!(
            schema
                .accept(&json!({"log": "99999999999999999999999"}))
                .is_err(),
            "over 64 bits"
        );
        let value = schema
            .accept(&json!({"log": "12", "mods": ["34", "56"]}))
            .unwrap();
        let found: Vec<(String, &str, u64)> = discord_refs(&schema.document, &value)
            .into_iter()
            .map(|r| (r.path, r.format, r.id))
            .collect();
        assert_eq!(
            found,
            [
                ("/log".to_string(), DISCORD_CHANNEL, 12),
                ("/mods/0".to_string(), DISCORD_ROLE, 34),
                ("/mods/1".to_string(), DISCORD_ROLE, 56),
                ("/nested/owner".to_string(), DISCORD_USER, 7),
            ]
        );
    }
}
