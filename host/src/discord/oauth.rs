//! Discord's OAuth2, for signing people in to the dashboard and the API:
//! the authorize URL a browser is sent to (authorization code with PKCE),
//! the code exchange and token refresh (with the client's secret, which
//! never leaves the host), and the two reads a sign-in needs —
//! `users/@me` and `users/@me/guilds` — read with twilight's model types.
//! Against discord.com or the simulator alike; only the base URL differs.

use std::time::Duration;

use twilight_model::user::{CurrentUser, CurrentUserGuild};

use crate::store::access::MemberGuild;
use crate::store::now_millis;

/// Why an OAuth2 call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Discord refused (a used or wrong code, a revoked token, a bad secret).
    #[error("Discord refused: {0}")]
    Refused(String),
    /// Discord did not answer, or answered something unreadable.
    #[error("Discord unavailable: {0}")]
    Unavailable(String),
}

/// A user's OAuth2 tokens (kept server side only).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tokens {
    /// The bearer token.
    pub access_token: String,
    /// The token that gets a new one.
    pub refresh_token: Option<String>,
    /// When the bearer token expires, ms since the epoch.
    pub expires_at_ms: i64,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

/// The client of one Discord application.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    /// Where browsers are sent (`https://discord.com` or the simulator).
    authorize_base: String,
    /// The API (`…/api/v10`).
    api_base: String,
    client_id: u64,
    client_secret: String,
    redirect_uri: String,
}

/// Who owns the application (`GET /oauth2/applications/@me`): the members
/// of its team who accepted the invitation (`membership_state` 2) and are
/// not read-only, or its owner when it has no team. Read from the JSON value
/// because only these two paths matter and the rest of the application
/// object changes often.
pub fn application_team(application: &serde_json::Value) -> Vec<u64> {
    let id = |user: &serde_json::Value| user["id"].as_str().and_then(|id| id.parse().ok());
    match application["team"]["members"].as_array() {
        Some(members) => members
            .iter()
            .filter(|m| m["membership_state"].as_u64() == Some(2))
            .filter(|m| m["role"].as_str() != Some("read_only"))
            .filter_map(|m| id(&m["user"]))
            .collect(),
        None => id(&application["owner"]).into_iter().collect(),
    }
}

/// The scopes a sign-in asks for: who you are and your guilds.
pub const SCOPES: &str = "identify guilds";

impl OAuthClient {
    /// A client for application `client_id` at `base` (`https://discord.com`
    /// or a simulator's URL), sending people back to `redirect_uri`.
    pub fn new(base: &str, client_id: u64, client_secret: &str, redirect_uri: &str) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS backend is compiled in"),
            authorize_base: base.to_string(),
            api_base: format!("{base}/api/v10"),
            client_id,
            client_secret: client_secret.to_string(),
            redirect_uri: redirect_uri.to_string(),
        }
    }

    /// The application id.
    pub fn client_id(&self) -> u64 {
        self.client_id
    }

    /// Where the browser goes to approve: with the one-time `state` and the
    /// PKCE `challenge` (S256), plus `extra` parameters.
    pub fn authorize_url(&self, state: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
        let client_id = self.client_id.to_string();
        let mut params = vec![
            ("client_id", client_id.as_str()),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "none"),
        ];
        params.extend_from_slice(extra);
        reqwest::Url::parse_with_params(
            &format!("{}/oauth2/authorize", self.authorize_base),
            params,
        )
        .map(String::from)
        .unwrap_or_default()
    }

    /// The page that adds the bot to `guild`.
    pub fn invite_url(&self, guild: u64) -> String {
        format!(
            "{}/oauth2/authorize?client_id={}&scope=bot%20applications.commands&guild_id={guild}&disable_guild_select=true",
            self.authorize_base, self.client_id
        )
    }

    /// Exchange an authorization code (with its PKCE verifier).
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, OAuthError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("code_verifier", verifier),
        ])
        .await
    }

    /// A new bearer token from a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, OAuthError> {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, OAuthError> {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.api_base))
            .basic_auth(self.client_id, Some(&self.client_secret))
            .form(form)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(OAuthError::Unavailable(
                "the token endpoint is rate limited".into(),
            ));
        }
        if status.is_client_error() {
            let detail: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            return Err(OAuthError::Refused(
                detail["error"].as_str().unwrap_or("refused").to_string(),
            ));
        }
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!(
                "token endpoint answered {status}"
            )));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| OAuthError::Unavailable(format!("unreadable token answer: {e}")))?;
        Ok(Tokens {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            expires_at_ms: now_millis() + answer.expires_in.unwrap_or(3_600).max(0) * 1_000,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        access_token: &str,
    ) -> Result<T, OAuthError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_base))
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(OAuthError::Refused(format!("{path}: {status}")));
        }
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!("{path}: {status}")));
        }
        response
            .json()
            .await
            .map_err(|e| OAuthError::Unavailable(format!("{path}: unreadable answer: {e}")))
    }

    /// Who the token belongs to: id and username.
    pub async fn me(&self, access_token: &str) -> Result<(u64, String), OAuthError> {
        let user: CurrentUser = self.get("/users/@me", access_token).await?;
        Ok((user.id.get(), user.name))
    }

    /// The guilds the token's user is in, with their permissions.
    pub async fn guilds(&self, access_token: &str) -> Result<Vec<MemberGuild>, OAuthError> {
        let guilds: Vec<CurrentUserGuild> = self.get("/users/@me/guilds", access_token).await?;
        Ok(guilds
            .into_iter()
            .map(|g| MemberGuild {
                id: g.id.get(),
                name: g.name,
                icon: g.icon.map(|i| i.to_string()),
                owner: g.owner,
                permissions: g.permissions.bits(),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::application_team;
    use serde_json::json;

    #[test]
    fn the_developer_team_is_the_applications_team_or_owner() {
        let team = json!({"owner": {"id": "1"}, "team": {"members": [
            {"user": {"id": "2"}, "membership_state": 2, "role": "admin"},
            {"user": {"id": "3"}, "membership_state": 2, "role": "developer"},
            {"user": {"id": "4"}, "membership_state": 1, "role": "developer"},
            {"user": {"id": "5"}, "membership_state": 2, "role": "read_only"},
            {"user": {"id": "x"}, "membership_state": 2}]}});
        assert_eq!(application_team(&team), [2, 3], "accepted, not read-only");
        assert_eq!(
            application_team(&json!({"owner": {"id": "1"}, "team": null})),
            [1]
        );
        assert!(application_team(&json!({})).is_empty());
    }
}
