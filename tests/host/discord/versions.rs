//! Cogs of every released WIT version, in one host, through Discord: the
//! test cogs `tests/cogs/wit-0-1` and `wit-0-2` are built against the
//! released WIT (`wit/released/`) and kept forever, so a host that stops
//! loading either fails here.

use std::time::Duration;

use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_GUILD};
use serde_json::{Value, json};

use super::{Harness, content};
use crate::support::eventually;

impl Harness {
    /// Ask the simulator as the bot (`method` on `/api/v10{path}`): the
    /// status and the body.
    pub(super) async fn as_bot(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/api/v10{path}", self.sim.http_url()))
            .header("authorization", "Bot simulated-token");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Change a user's message as the simulator's control API does.
    pub(super) async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sim.http_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
        response.json().await.unwrap_or(Value::Null)
    }

    /// What `command` answers once it says `expected`.
    async fn seen(&self, command: &str, expected: &str) -> String {
        let started = std::time::Instant::now();
        loop {
            let answer = self.command(json!({"name": command})).await;
            let text = content(&answer).to_string();
            if text.contains(expected) || started.elapsed() > Duration::from_secs(10) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Click the first button of `answer`'s message; the answer to the click.
async fn click(h: &Harness, answer: &Value) -> (String, Value) {
    let id = answer["reply"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no button: {answer}"))
        .to_string();
    let (status, clicked) = h
        .post(
            "/_sim/components",
            json!({"message_id": answer["reply"]["id"], "custom_id": id}),
        )
        .await;
    assert_eq!(status, 200, "{clicked}");
    (id, clicked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_1_cog_and_a_0_2_cog_answer_in_the_same_host() {
    let h = Harness::start(&["wit-0-1", "wit-0-2"], |config| {
        // The 0.2.0 cog under a name of the operator's choosing.
        config.cogs.entry("modern".into()).or_default().file = Some("wit-0-2.wasm".into());
    })
    .await;
    let registry = h.runtime.registry();
    let old = registry.get("wit-0-1").expect("the 0.1.0 cog loads");
    let new = registry
        .get("modern")
        .expect("the 0.2.0 cog loads, renamed");
    assert_eq!(old.facts.wit_version, "0.1.0");
    assert_eq!(new.facts.wit_version, "0.2.0");
    assert_eq!(new.declared_name.as_deref(), Some("wit-0-2"));

    // Commands and a button round trip each. The 0.1.0 cog wrote its name
    // into its custom id itself; the 0.2.0 cog's id is its own, put in the
    // operator's name for it by the host, and handed back without it.
    let said = h
        .command(json!({"name": "old", "options": {"word": "hi"}}))
        .await;
    assert_eq!(content(&said), "0.1.0 says hi", "{said}");
    let (id, clicked) = click(&h, &said).await;
    assert_eq!(id, "wit-0-1:echo:hi");
    assert_eq!(content(&clicked), "0.1.0 echoed hi, click 1", "{clicked}");

    let said = h
        .command(json!({"name": "new", "options": {"word": "yo"}}))
        .await;
    assert_eq!(content(&said), "0.2.0 says yo", "{said}");
    let (id, clicked) = click(&h, &said).await;
    assert_eq!(id, "modern:echo:yo");
    assert_eq!(content(&clicked), "0.2.0 echoed yo, click 1", "{clicked}");
    let (_, clicked) = click(&h, &said).await;
    assert_eq!(content(&clicked), "0.2.0 echoed yo, click 2", "{clicked}");

    // An edit: the 0.2.0 cog learns what the message said before; the
    // 0.1.0 cog gets the edit in its old shape.
    let posted = h
        .control(
            reqwest::Method::POST,
            "/_sim/messages",
            json!({"content": "first words"}),
        )
        .await;
    let message = posted["id"].as_str().unwrap().to_string();
    h.control(
        reqwest::Method::PATCH,
        &format!("/_sim/messages/{message}"),
        json!({"content": "second words"}),
    )
    .await;
    let seen = h.seen("new-seen", "an edit").await;
    assert_eq!(
        seen,
        "0.2.0 saw an edit from Some(\"first words\") to \"second words\""
    );
    let seen = h.seen("old-seen", "an edit").await;
    assert_eq!(seen, "0.1.0 saw an edit to \"second words\"");

    // A deletion: the message as it was last, for 0.2.0; the id for 0.1.0.
    h.control(
        reqwest::Method::DELETE,
        &format!("/_sim/messages/{message}"),
        json!({}),
    )
    .await;
    let seen = h.seen("new-seen", "deletion").await;
    assert_eq!(
        seen,
        format!("0.2.0 saw the deletion of {message} (Some(\"second words\"))")
    );
    let seen = h.seen("old-seen", "deletion").await;
    assert_eq!(seen, format!("0.1.0 saw the deletion of {message}"));

    // A purge and a ban reach the 0.2.0 cog only (0.1.0 has no such events).
    let mut ids = Vec::new();
    for words in ["one", "two"] {
        let posted = h
            .control(
                reqwest::Method::POST,
                "/_sim/messages",
                json!({"content": words}),
            )
            .await;
        ids.push(posted["id"].as_str().unwrap().to_string());
    }
    let (status, _) = h
        .as_bot(
            reqwest::Method::POST,
            &format!("/channels/{DEMO_CHANNEL}/messages/bulk-delete"),
            Some(json!({"messages": ids})),
        )
        .await;
    assert_eq!(status, 204);
    let seen = h.seen("new-seen", "purge").await;
    assert_eq!(seen, "0.2.0 saw a purge of 2 ([\"one\", \"two\"])");

    let joined = h
        .control(
            reqwest::Method::POST,
            "/_sim/members",
            json!({"username": "troll"}),
        )
        .await;
    let troll = joined["user"]["id"].as_str().unwrap().to_string();
    let (status, _) = h
        .as_bot(
            reqwest::Method::PUT,
            &format!("/guilds/{DEMO_GUILD}/bans/{troll}"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 204);
    let seen = h.seen("new-seen", "ban").await;
    assert_eq!(seen, "0.2.0 saw the ban of troll");
    let old_seen = h.command(json!({"name": "old-seen"})).await;
    assert_eq!(
        content(&old_seen),
        format!("0.1.0 saw the deletion of {message}"),
        "the 0.1.0 cog saw neither the purge nor the ban"
    );

    // Both draw their dashboard pages.
    for (cog, route, expected) in [
        ("wit-0-1", "old", "a page of WIT 0.1.0"),
        ("modern", "new", "a page of WIT 0.2.0"),
    ] {
        let cog = registry.get(cog).unwrap();
        let view = h
            .runtime
            .invoke(
                &cog,
                baseline_host::capabilities::Scope {
                    cog: cog.name().into(),
                    guild_id: Some(DEMO_GUILD),
                    ..Default::default()
                },
                baseline_host::runtime::Call::Render(baseline_host::wit::types::PageContext {
                    guild_id: DEMO_GUILD,
                    user_id: 1,
                    route: route.into(),
                    query: vec![],
                }),
            )
            .await;
        let text = format!("{view:?}");
        assert!(text.contains(expected), "{text}");
    }
    eventually("nothing failed", Duration::from_secs(1), || {
        registry.failures().is_empty()
    })
    .await;
}
