//! Discord's documented limits on what a bot sends (messages, embeds,
//! components, modals), enforced the way Discord does: 400 with code 50035
//! "Invalid Form Body" and an `errors` object naming the field. Written
//! apart from the host's own checks, from the same documentation, so a
//! host that forgot a limit is caught here.

use serde_json::Value;

use crate::error::ApiError;

fn chars(value: Option<&Value>) -> usize {
    value
        .and_then(Value::as_str)
        .map_or(0, |s| s.chars().count())
}

fn items(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// `path` is longer than `max` characters.
fn too_long(path: &str, max: usize) -> ApiError {
    ApiError::invalid(format!("{path}: Must be {max} or fewer in length."))
}

fn text(body: &Value, key: &str, path: &str, max: usize) -> Result<usize, ApiError> {
    let length = chars(body.get(key));
    if length > max {
        return Err(too_long(path, max));
    }
    Ok(length)
}

fn list<'a>(body: &'a Value, key: &str, path: &str, max: usize) -> Result<&'a [Value], ApiError> {
    let found = items(body.get(key));
    if found.len() > max {
        return Err(too_long(path, max));
    }
    Ok(found)
}

fn embeds(body: &Value) -> Result<(), ApiError> {
    let mut total = 0;
    for (i, embed) in list(body, "embeds", "embeds", 10)?.iter().enumerate() {
        let at = |field: &str| format!("embeds.{i}.{field}");
        total += text(embed, "title", &at("title"), 256)?;
        total += text(embed, "description", &at("description"), 4096)?;
        if let Some(footer) = embed.get("footer") {
            total += text(footer, "text", &at("footer.text"), 2048)?;
        }
        if let Some(author) = embed.get("author") {
            total += text(author, "name", &at("author.name"), 256)?;
        }
        for (f, field) in list(embed, "fields", &at("fields"), 25)?.iter().enumerate() {
            total += text(field, "name", &at(&format!("fields.{f}.name")), 256)?;
            total += text(field, "value", &at(&format!("fields.{f}.value")), 1024)?;
        }
    }
    if total > 6000 {
        return Err(ApiError::invalid(
            "embeds: Embed size exceeds maximum size of 6000",
        ));
    }
    Ok(())
}

fn components(body: &Value) -> Result<(), ApiError> {
    for (r, row) in list(body, "components", "components", 5)?
        .iter()
        .enumerate()
    {
        let at = format!("components.{r}.components");
        let inner = list(row, "components", &at, 5)?;
        let selects = inner
            .iter()
            .filter(|c| {
                c.get("type")
                    .and_then(Value::as_u64)
                    .is_some_and(|t| t != 2)
            })
            .count();
        if selects > 0 && inner.len() > 1 {
            return Err(ApiError::invalid(format!(
                "{at}: a select menu must be alone in its row"
            )));
        }
        for (c, component) in inner.iter().enumerate() {
            let at = format!("{at}.{c}");
            text(component, "custom_id", &format!("{at}.custom_id"), 100)?;
            text(component, "label", &format!("{at}.label"), 80)?;
            text(component, "placeholder", &format!("{at}.placeholder"), 150)?;
            for (o, option) in list(component, "options", &format!("{at}.options"), 25)?
                .iter()
                .enumerate()
            {
                for key in ["label", "value", "description"] {
                    text(option, key, &format!("{at}.options.{o}.{key}"), 100)?;
                }
            }
        }
    }
    Ok(())
}

/// A message body (create, edit, interaction response, webhook).
pub fn check_message(body: &Value) -> Result<(), ApiError> {
    text(body, "content", "content", 2000)?;
    embeds(body)?;
    components(body)?;
    list(body, "attachments", "attachments", 10)?;
    Ok(())
}

/// A modal (interaction callback type 9).
pub fn check_modal(data: &Value) -> Result<(), ApiError> {
    text(data, "custom_id", "data.custom_id", 100)?;
    text(data, "title", "data.title", 45)?;
    for (r, row) in list(data, "components", "data.components", 5)?
        .iter()
        .enumerate()
    {
        for (c, input) in items(row.get("components")).iter().enumerate() {
            let at = format!("data.components.{r}.components.{c}");
            text(input, "custom_id", &format!("{at}.custom_id"), 100)?;
            text(input, "label", &format!("{at}.label"), 45)?;
            text(input, "value", &format!("{at}.value"), 4000)?;
            text(input, "placeholder", &format!("{at}.placeholder"), 100)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn limits_name_the_field() {
        let fields: Vec<Value> = (0..200)
            .map(|i| json!({"name": format!("f{i}"), "value": "v"}))
            .collect();
        let error = check_message(&json!({"embeds": [{"fields": fields}]})).unwrap_err();
        assert_eq!(error.1, 50035);
        assert!(error.2.starts_with("embeds.0.fields:"), "{}", error.2);
        assert!(check_message(&json!({"content": "x".repeat(2001)})).is_err());
        assert!(check_message(&json!({"content": "é".repeat(2000)})).is_ok());
        let row = json!({"type": 1, "components": [{"type": 2, "custom_id": "a", "label": "b"}]});
        assert!(check_message(&json!({"components": vec![row.clone(); 5]})).is_ok());
        assert!(check_message(&json!({"components": vec![row; 6]})).is_err());
        assert!(check_modal(&json!({"custom_id": "m", "title": "t".repeat(46)})).is_err());
    }
}
