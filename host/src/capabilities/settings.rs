//! `settings`: this guild's settings for the cog, as JSON, validated against
//! the schema in the cog's manifest, with the schema's defaults filled in.
//! Writes come from admins (the API, later); cogs only read.

use super::CogState;
use crate::schema::merge;
use crate::wit::baseline::cog::settings::{Host, SettingsError};

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
