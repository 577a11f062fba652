//! Cog settings schemas — the one owner of their rules, used by the
//! runtime (compiled once at load), the `settings` capability (defaults),
//! the API (validation, 422 by field) and `baseline cog call --settings`:
//! a schema must be JSON Schema describing an object; its defaults are each
//! property's `default` (recursing into objects without one) and must
//! satisfy it; saved values merge over the defaults key by key; a value is
//! valid when the merged whole satisfies the schema.

use serde_json::Value;

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
        let validator = jsonschema::validator_for(&document)
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
}
