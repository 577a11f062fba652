//! WIT 0.3.0's events through the simulator, as a cog sees them: what was
//! there before each update (the host's memories) and who did it (the
//! audit log's entries, matched to the events they explain). The test cog
//! `witness` keeps the last event of each kind, as JSON.

use std::time::{Duration, Instant};

use baseline_discord_sim::world::{BOT_ID, DEMO_CHANNEL, DEMO_GUILD};
use serde_json::{Value, json};

use super::{Harness, content};

impl Harness {
    /// Ask the simulator as the bot, giving a reason for the audit log.
    async fn as_moderator(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        reason: &str,
    ) -> u16 {
        let mut request = self
            .http
            .request(method, format!("{}/api/v10{path}", self.sim.http_url()))
            .header("authorization", "Bot simulated-token")
            .header("x-audit-log-reason", reason);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap().status().as_u16()
    }

    /// Send a gateway event as Discord would (for what the simulator does
    /// not model with an action of its own yet).
    async fn dispatch(&self, t: &str, d: Value) {
        self.control(
            reqwest::Method::POST,
            "/_sim/dispatch",
            json!({"t": t, "d": d}),
        )
        .await;
    }

    /// The last event of `kind` the witness saw in `guild` once `done`
    /// says it is the one awaited: `{"event": …, "actor": "id"}`.
    async fn witnessed(&self, guild: u64, kind: &str, done: impl Fn(&Value) -> bool) -> Value {
        let started = Instant::now();
        loop {
            let answer = self
                .command(json!({"name": "witnessed", "guild_id": guild.to_string(), "options": {"kind": kind}}))
                .await;
            let text = content(&answer);
            if let Ok(seen) = serde_json::from_str::<Value>(text)
                && done(&seen)
            {
                return seen;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no {kind} as awaited; the last: {text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The moderator and reason of an attribution, or its case's name.
fn by(event: &Value) -> (String, Option<String>) {
    match &event["by"] {
        Value::Object(by) if by.contains_key("AuditLog") => (
            by["AuditLog"]["moderator"]["id"].to_string(),
            by["AuditLog"]["reason"].as_str().map(str::to_string),
        ),
        other => (other.as_str().unwrap_or("?").to_string(), None),
    }
}

fn id(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or_else(|| panic!("not an id: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderation_reaches_a_0_3_cog_with_the_state_before_and_who_did_it() {
    use reqwest::Method;
    let h = Harness::start(&["witness", "wit-0-2"], |config| {
        config.discord.attribution_wait_ms = 1_000;
    })
    .await;
    let guild = format!("/guilds/{DEMO_GUILD}");
    let bot = BOT_ID.to_string();

    let joined = h
        .control(Method::POST, "/_sim/members", json!({"username": "troll"}))
        .await;
    let troll = id(&joined["user"]["id"]);
    let seen = h
        .witnessed(DEMO_GUILD, "MemberJoin", |s| {
            s["event"]["member"]["user"]["id"] == troll
        })
        .await;
    assert_eq!(seen["event"]["member"]["user"]["username"], "troll");

    // A nickname set by the bot, with a reason: the member as they were,
    // and the moderator and reason from the audit log.
    let status = h
        .as_moderator(
            Method::PATCH,
            &format!("{guild}/members/{troll}"),
            Some(json!({"nick": "calm"})),
            "be nice",
        )
        .await;
    assert_eq!(status, 200);
    let seen = h
        .witnessed(DEMO_GUILD, "MemberUpdate", |s| {
            s["event"]["after"]["nick"] == "calm"
        })
        .await;
    assert_eq!(seen["event"]["before"]["nick"], Value::Null, "{seen}");
    assert_eq!(seen["event"]["before"]["user"]["id"], troll, "{seen}");
    assert_eq!(by(&seen["event"]), (bot.clone(), Some("be nice".into())));
    assert_eq!(seen["actor"], bot, "the moderator is the event's actor");

    // A timeout of two seconds: set by the bot, then over — an event
    // Discord never sends, from the host.
    let until =
        humantime::format_rfc3339_millis(std::time::SystemTime::now() + Duration::from_secs(2))
            .to_string();
    let status = h
        .as_moderator(
            Method::PATCH,
            &format!("{guild}/members/{troll}"),
            Some(json!({"communication_disabled_until": until})),
            "cool off",
        )
        .await;
    assert_eq!(status, 200);
    let seen = h
        .witnessed(DEMO_GUILD, "MemberUpdate", |s| {
            !s["event"]["after"]["communication_disabled_until"].is_null()
        })
        .await;
    assert_eq!(by(&seen["event"]), (bot.clone(), Some("cool off".into())));
    assert_eq!(seen["event"]["before"]["nick"], "calm");
    let set_at = Instant::now();
    let expired = h
        .witnessed(DEMO_GUILD, "TimeoutExpired", |s| {
            s["event"]["member"]["user"]["id"] == troll
        })
        .await;
    assert!(
        set_at.elapsed() > Duration::from_millis(500),
        "not before its time"
    );
    assert_eq!(expired["event"]["member"]["nick"], "calm");

    // A kick: a `member-kick` with the member as they were (roles held,
    // nickname) and the reason; not a `member-leave`.
    let status = h
        .as_moderator(
            Method::DELETE,
            &format!("{guild}/members/{troll}"),
            None,
            "bye",
        )
        .await;
    assert_eq!(status, 204);
    let seen = h
        .witnessed(DEMO_GUILD, "MemberKick", |s| {
            s["event"]["user"]["id"] == troll
        })
        .await;
    assert_eq!(seen["event"]["before"]["nick"], "calm");
    assert_eq!(by(&seen["event"]), (bot.clone(), Some("bye".into())));

    // Leaving on one's own: a `member-leave`, with the member as they were.
    let joined = h
        .control(
            Method::POST,
            "/_sim/members",
            json!({"username": "drifter"}),
        )
        .await;
    let drifter = id(&joined["user"]["id"]);
    h.witnessed(DEMO_GUILD, "MemberJoin", |s| {
        s["event"]["member"]["user"]["id"] == drifter
    })
    .await;
    h.control(
        Method::DELETE,
        &format!("/_sim/members/{DEMO_GUILD}/{drifter}"),
        json!({}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "MemberLeave", |s| {
            s["event"]["user"]["id"] == drifter
        })
        .await;
    assert_eq!(seen["event"]["before"]["user"]["username"], "drifter");
    let kick = h.witnessed(DEMO_GUILD, "MemberKick", |_| true).await;
    assert_eq!(kick["event"]["user"]["id"], troll, "a leave is no kick");

    // A ban, with the reason.
    let joined = h
        .control(
            Method::POST,
            "/_sim/members",
            json!({"username": "spammer"}),
        )
        .await;
    let spammer = id(&joined["user"]["id"]);
    let status = h
        .as_moderator(
            Method::PUT,
            &format!("{guild}/bans/{spammer}"),
            Some(json!({})),
            "spam",
        )
        .await;
    assert_eq!(status, 204);
    let seen = h
        .witnessed(DEMO_GUILD, "MemberBan", |s| {
            s["event"]["user"]["id"] == spammer
        })
        .await;
    assert_eq!(by(&seen["event"]), (bot.clone(), Some("spam".into())));

    // Deletions: a member's message deleted by a moderator names them; a
    // second one of the same author in the same channel is folded into
    // the first entry by Discord (no entry announced), so it is honestly
    // `not-recorded`; so is an author deleting their own.
    let mut posted = Vec::new();
    for words in ["one", "two", "three"] {
        let message = h
            .control(
                Method::POST,
                "/_sim/messages",
                json!({"content": words, "user_id": spammer.to_string()}),
            )
            .await;
        posted.push(id(&message["id"]));
    }
    for (n, message) in posted.iter().take(2).enumerate() {
        let status = h
            .as_moderator(
                Method::DELETE,
                &format!("/channels/{DEMO_CHANNEL}/messages/{message}"),
                None,
                "cleanup",
            )
            .await;
        assert_eq!(status, 204);
        let seen = h
            .witnessed(DEMO_GUILD, "MessageDelete", |s| {
                s["event"]["id"] == *message
            })
            .await;
        let expected = if n == 0 {
            (bot.clone(), Some("cleanup".to_string()))
        } else {
            ("NotRecorded".to_string(), None)
        };
        assert_eq!(by(&seen["event"]), expected, "deletion {n}: {seen}");
    }
    h.control(
        Method::DELETE,
        &format!("/_sim/messages/{}", posted[2]),
        json!({}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "MessageDelete", |s| {
            s["event"]["id"] == posted[2]
        })
        .await;
    assert_eq!(by(&seen["event"]).0, "NotRecorded");
    assert_eq!(seen["event"]["before"]["content"], "three");

    // A role renamed (no audit entry: Discord's event alone), with its
    // name before.
    let role = h
        .control(Method::POST, "/_sim/roles", json!({"name": "Mods"}))
        .await;
    let role_id = id(&role["id"]);
    h.witnessed(DEMO_GUILD, "RoleCreate", |s| {
        s["event"]["role"]["id"] == role_id
    })
    .await;
    let mut renamed = role.clone();
    renamed["name"] = json!("Moderators");
    h.dispatch(
        "GUILD_ROLE_UPDATE",
        json!({"guild_id": DEMO_GUILD.to_string(), "role": renamed}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "RoleUpdate", |s| {
            s["event"]["role"]["name"] == "Moderators"
        })
        .await;
    assert_eq!(seen["event"]["before"]["name"], "Mods");
    assert_eq!(by(&seen["event"]).0, "NotRecorded");

    // Voice: joining, then moving, each with where the member was.
    let voice = |channel: u64| {
        json!({"guild_id": DEMO_GUILD.to_string(), "channel_id": channel.to_string(),
            "user_id": spammer.to_string(), "session_id": "s", "deaf": false, "mute": false,
            "self_deaf": false, "self_mute": true, "self_video": false, "suppress": false,
            "request_to_speak_timestamp": null})
    };
    h.dispatch("VOICE_STATE_UPDATE", voice(DEMO_CHANNEL)).await;
    let seen = h
        .witnessed(DEMO_GUILD, "VoiceUpdate", |s| {
            !s["event"]["after"].is_null()
        })
        .await;
    assert_eq!(seen["event"]["before"], Value::Null, "joined: {seen}");
    h.dispatch("VOICE_STATE_UPDATE", voice(DEMO_CHANNEL + 1))
        .await;
    let seen = h
        .witnessed(DEMO_GUILD, "VoiceUpdate", |s| {
            s["event"]["after"]["channel_id"] == DEMO_CHANNEL + 1
        })
        .await;
    assert_eq!(seen["event"]["before"]["channel_id"], DEMO_CHANNEL);

    // The 0.2.0 cog in the same host still answers, and got the ban in
    // its old shape.
    let said = h
        .command(json!({"name": "new", "options": {"word": "still"}}))
        .await;
    assert_eq!(content(&said), "0.2.0 says still");
    let seen = h.command(json!({"name": "new-seen"})).await;
    assert!(
        content(&seen).starts_with("0.2.0 saw the deletion of"),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_view_audit_log_who_did_it_is_no_access_at_once() {
    use reqwest::Method;
    let h = Harness::start(&["witness"], |config| {
        // Long: an event that waited for an entry would show.
        config.discord.attribution_wait_ms = 10_000;
    })
    .await;
    // A guild where the bot has only @everyone's permissions.
    let made = h
        .control(Method::POST, "/_sim/guilds", json!({"name": "No Audit"}))
        .await;
    let other = id(&made["guild_id"]);
    let joined = h
        .control(
            Method::POST,
            "/_sim/members",
            json!({"username": "vandal", "guild_id": other.to_string()}),
        )
        .await;
    let vandal = id(&joined["user"]["id"]);
    h.witnessed(other, "MemberJoin", |s| {
        s["event"]["member"]["user"]["id"] == vandal
    })
    .await;
    let started = Instant::now();
    let status = h
        .as_moderator(
            Method::PUT,
            &format!("/guilds/{other}/bans/{vandal}"),
            Some(json!({})),
            "vandalism",
        )
        .await;
    assert_eq!(status, 204);
    let seen = h
        .witnessed(other, "MemberBan", |s| s["event"]["user"]["id"] == vandal)
        .await;
    assert_eq!(by(&seen["event"]).0, "NoAccess", "{seen}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no wait for an entry that cannot come"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_posted_before_a_restart_and_edited_after_it_has_its_before() {
    use reqwest::Method;
    let mut h = Harness::start(&["witness"], |_| {}).await;
    let posted = h
        .control(
            Method::POST,
            "/_sim/messages",
            json!({"content": "before the restart"}),
        )
        .await;
    let message = id(&posted["id"]);
    h.witnessed(DEMO_GUILD, "MessageCreate", |s| s["event"]["id"] == message)
        .await;
    // A restart: the memory goes with the process, the store stays.
    h.discord.take().unwrap().shutdown().await;
    h.connect().await;
    h.control(
        Method::PATCH,
        &format!("/_sim/messages/{message}"),
        json!({"content": "after the restart"}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "MessageUpdate", |s| {
            s["event"]["after"]["id"] == message
        })
        .await;
    assert_eq!(seen["event"]["before"]["content"], "before the restart");
    assert_eq!(seen["event"]["after"]["content"], "after the restart");

    // Once more across a restart: the deletion has the edited text, and the
    // store forgets the message.
    h.discord.take().unwrap().shutdown().await;
    h.connect().await;
    h.control(
        Method::DELETE,
        &format!("/_sim/messages/{message}"),
        json!({}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "MessageDelete", |s| s["event"]["id"] == message)
        .await;
    assert_eq!(seen["event"]["before"]["content"], "after the restart");
    let store = baseline_host::store::remembered::RememberedMessages::new(h.db.clone());
    let started = Instant::now();
    while !store.get(&[message]).await.unwrap().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the deleted message is still remembered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_run_once_when_due_even_after_a_restart() {
    let mut h = Harness::start(&["witness"], |_| {}).await;
    // A short one runs while the host is up.
    let set = h
        .command(json!({"name": "witness-timer", "options": {"name": "soon", "delay": 300}}))
        .await;
    assert_eq!(content(&set), "timer soon set", "{set}");
    let seen = h
        .witnessed(DEMO_GUILD, "Timer", |s| s["name"] == "soon")
        .await;
    assert_eq!(seen["payload"], "payload of soon");
    assert_eq!(seen["guild"], DEMO_GUILD.to_string());

    // One due while the host is down runs after the restart, once.
    let set = h
        .command(json!({"name": "witness-timer", "options": {"name": "later", "delay": 1500}}))
        .await;
    assert_eq!(content(&set), "timer later set", "{set}");
    h.discord.take().unwrap().shutdown().await;
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let timers = baseline_host::store::timers::Timers::new(h.db.clone());
    assert_eq!(
        timers.pending("witness", DEMO_GUILD).await.unwrap().len(),
        1,
        "kept while nobody runs it"
    );
    h.connect().await;
    h.witnessed(DEMO_GUILD, "Timer", |s| s["name"] == "later")
        .await;
    assert!(
        timers
            .pending("witness", DEMO_GUILD)
            .await
            .unwrap()
            .is_empty(),
        "taken when run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_not_granted_schedule_sets_no_timer() {
    let h = Harness::start(&["witness"], |config| {
        config
            .cogs
            .entry("witness".into())
            .or_default()
            .deny
            .push("schedule".into());
    })
    .await;
    let answer = h
        .command(json!({"name": "witness-timer", "options": {"name": "nope", "delay": 0}}))
        .await;
    assert_ne!(content(&answer), "timer nope set", "{answer}");
    let timers = baseline_host::store::timers::Timers::new(h.db.clone());
    assert!(
        timers
            .pending("witness", DEMO_GUILD)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_in_one_guild_sheds_none_of_another_guilds_events() {
    use reqwest::Method;
    let h = Harness::start(&["witness"], |config| {
        config.runtime.event_queue = 64;
        config.runtime.event_queue_per_guild = 32;
        config.cogs.entry("witness".into()).or_default().concurrency = Some(2);
    })
    .await;
    let made = h
        .control(Method::POST, "/_sim/guilds", json!({"name": "Quiet"}))
        .await;
    let quiet = id(&made["guild_id"]);
    // 2 000 messages a second into the demo guild, each a millisecond of
    // the cog's computing: far more than it keeps up with.
    let flood = h
        .control(
            Method::POST,
            "/_sim/flood",
            json!({"count": 2_000, "per_second": 2_000}),
        )
        .await;
    assert_eq!(flood["count"], 2_000);
    // Meanwhile the quiet guild talks, and runs a command.
    for i in 0..40 {
        h.control(
            Method::POST,
            "/_sim/messages",
            json!({"content": format!("quiet {i}"), "guild_id": quiet.to_string()}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let witness = h.runtime.registry().get("witness").unwrap();
    assert_eq!(
        witness.share.shed_events_of(Some(quiet)),
        0,
        "none of the quiet guild's events was shed"
    );
    assert!(
        witness.share.shed_events_of(Some(DEMO_GUILD)) > 0,
        "the flood was more than the cog could take"
    );
    let counted = h
        .witnessed(quiet, "count:MessageCreate", |count| {
            count.as_u64() == Some(40)
        })
        .await;
    assert_eq!(
        counted, 40,
        "every message of the quiet guild was delivered"
    );
    assert_eq!(witness.share.queued_events_of(Some(quiet)), 0);
    let flooded = h
        .witnessed(DEMO_GUILD, "count:MessageCreate", |count| count.is_u64())
        .await;
    // The figures docs/benchmarks.md records ("Fairness per guild").
    eprintln!(
        "flood: 2000 sent, {flooded} delivered, {} shed; quiet guild: 40 of 40 delivered",
        witness.share.shed_events()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_emojis_stickers_invites_webhooks_automod_pins_and_the_guild_reach_a_0_3_cog() {
    use reqwest::Method;
    let h = Harness::start(&["witness"], |config| {
        config.discord.attribution_wait_ms = 300;
    })
    .await;
    let g = DEMO_GUILD.to_string();
    let channel = DEMO_CHANNEL.to_string();
    let thread = "7000000000000000001";
    let thread_json = |archived: bool| {
        json!({"id": thread, "type": 11, "guild_id": g, "parent_id": channel, "name": "help",
            "owner_id": DEMO_GUILD.to_string(), "message_count": 0, "member_count": 1,
            "rate_limit_per_user": 0,
            "thread_metadata": {"archived": archived, "auto_archive_duration": 1440,
                "archive_timestamp": "2026-12-08T00:00:00.000000+00:00", "locked": false}})
    };
    // Threads: created, archived (with the thread as it was), members, deleted.
    h.dispatch("THREAD_CREATE", thread_json(false)).await;
    h.witnessed(DEMO_GUILD, "ThreadCreate", |s| {
        s["event"]["channel"]["name"] == "help"
    })
    .await;
    h.dispatch("THREAD_UPDATE", thread_json(true)).await;
    let seen = h
        .witnessed(DEMO_GUILD, "ThreadUpdate", |s| {
            s["event"]["channel"]["thread"]["archived"] == true
        })
        .await;
    assert_eq!(seen["event"]["before"]["thread"]["archived"], false);
    assert_eq!(
        seen["event"]["channel"]["thread"]["auto_archive_minutes"],
        1440
    );
    h.dispatch(
        "THREAD_MEMBERS_UPDATE",
        json!({"id": thread, "guild_id": g, "member_count": 2, "removed_member_ids": [],
            "added_members": [{"id": thread, "user_id": "4000000000000000005",
                "join_timestamp": "2026-12-08T00:00:00.000000+00:00", "flags": 0}]}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "ThreadMembers", |s| {
            s["event"]["member_count"] == 2
        })
        .await;
    assert_eq!(seen["event"]["added"][0], 4_000_000_000_000_000_005u64);
    h.dispatch(
        "THREAD_DELETE",
        json!({"id": thread, "guild_id": g, "parent_id": channel, "type": 11}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "ThreadDelete", |s| {
            s["event"]["channel"]["id"].is_u64()
        })
        .await;
    assert_eq!(
        seen["event"]["channel"]["name"], "help",
        "the thread as it was"
    );

    // Emojis: Discord sends the whole list; the host says what changed.
    let emoji = |id: &str, name: &str| {
        json!({"id": id, "name": name, "roles": [], "require_colons": true,
            "managed": false, "animated": false, "available": true})
    };
    h.dispatch(
        "GUILD_EMOJIS_UPDATE",
        json!({"guild_id": g, "emojis": [emoji("81", "blob"), emoji("82", "cat")]}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "EmojisUpdate", |s| {
            s["event"]["created"]
                .as_array()
                .is_some_and(|c| c.len() == 2)
        })
        .await;
    assert_eq!(seen["event"]["by"], "NotRecorded");
    h.dispatch(
        "GUILD_EMOJIS_UPDATE",
        json!({"guild_id": g, "emojis": [emoji("81", "blobby")]}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "EmojisUpdate", |s| {
            s["event"]["deleted"]
                .as_array()
                .is_some_and(|d| d.len() == 1)
        })
        .await;
    assert_eq!(seen["event"]["deleted"][0]["name"], "cat");
    assert_eq!(seen["event"]["updated"][0][0]["name"], "blob");
    assert_eq!(seen["event"]["updated"][0][1]["name"], "blobby");

    // Stickers (read by the host itself: twilight 0.18 drops them).
    h.dispatch(
        "GUILD_STICKERS_UPDATE",
        json!({"guild_id": g, "stickers": [{"id": "91", "name": "wave", "description": null,
            "tags": "wave", "type": 2, "format_type": 1, "available": true, "guild_id": g}]}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "StickersUpdate", |s| {
            s["event"]["created"][0]["name"] == "wave"
        })
        .await;
    assert_eq!(seen["event"]["created"][0]["tags"], "wave");

    // Invites, webhooks, auto-moderation, pins.
    h.dispatch(
        "INVITE_CREATE",
        json!({"channel_id": channel, "code": "abc", "created_at": "2026-12-08T00:00:00.000000+00:00",
            "guild_id": g, "max_age": 86400, "max_uses": 5, "temporary": false, "uses": 0,
            "inviter": {"id": "4000000000000000005", "username": "grace", "discriminator": "0",
                "avatar": null, "global_name": null}}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "InviteCreate", |s| s["event"]["code"] == "abc")
        .await;
    assert_eq!(seen["event"]["inviter"]["username"], "grace");
    assert_eq!(seen["event"]["max_uses"], 5);
    h.dispatch(
        "INVITE_DELETE",
        json!({"channel_id": channel, "guild_id": g, "code": "abc"}),
    )
    .await;
    h.witnessed(DEMO_GUILD, "InviteDelete", |s| s["event"]["code"] == "abc")
        .await;
    h.dispatch(
        "WEBHOOKS_UPDATE",
        json!({"channel_id": channel, "guild_id": g}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "WebhooksUpdate", |s| {
            s["event"]["channel_id"] == DEMO_CHANNEL
        })
        .await;
    assert_eq!(seen["event"]["by"], "NotRecorded");
    h.dispatch(
        "AUTO_MODERATION_ACTION_EXECUTION",
        json!({"guild_id": g, "action": {"type": 1, "metadata": {}}, "rule_id": "95",
            "rule_trigger_type": 1, "user_id": "4000000000000000005", "channel_id": channel,
            "content": "a bad word", "matched_keyword": "bad", "matched_content": "bad"}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "AutomodAction", |s| s["event"]["rule_id"] == 95)
        .await;
    assert_eq!(seen["event"]["response"], "BlockMessage");
    assert_eq!(seen["event"]["matched_keyword"], "bad");
    h.dispatch(
        "CHANNEL_PINS_UPDATE",
        json!({"guild_id": g, "channel_id": channel,
            "last_pin_timestamp": "2026-12-08T00:00:00.000000+00:00"}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "PinsUpdate", |s| {
            s["event"]["last_pin_timestamp"].is_string()
        })
        .await;
    assert_eq!(seen["event"]["by"], "NotRecorded");

    // The guild's settings: an ownership transfer, with the owner before.
    h.control(
        Method::PATCH,
        &format!("/_sim/guilds/{DEMO_GUILD}"),
        json!({"owner_id": "4000000000000000005"}),
    )
    .await;
    let seen = h
        .witnessed(DEMO_GUILD, "GuildUpdate", |s| {
            s["event"]["after"]["owner_id"] == 4_000_000_000_000_000_005u64
        })
        .await;
    assert_eq!(
        seen["event"]["before"]["owner_id"],
        baseline_discord_sim::world::DEMO_OWNER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_read_only_with_its_grant() {
    use reqwest::Method;
    let h = Harness::start(&["witness"], |config| {
        config
            .cogs
            .entry("witness".into())
            .or_default()
            .grant
            .push("discord.audit-log".into());
    })
    .await;
    let joined = h
        .control(Method::POST, "/_sim/members", json!({"username": "raider"}))
        .await;
    let raider = id(&joined["user"]["id"]);
    let status = h
        .as_moderator(
            Method::PUT,
            &format!("/guilds/{DEMO_GUILD}/bans/{raider}"),
            Some(json!({})),
            "raid",
        )
        .await;
    assert_eq!(status, 204);
    let answer = h.command(json!({"name": "witness-audit"})).await;
    let entries: Value = serde_json::from_str(content(&answer)).expect("a list");
    assert_eq!(entries[0]["action"], 22, "{entries}");
    assert_eq!(entries[0]["target_id"], raider);
    assert_eq!(entries[0]["reason"], "raid");
    assert_eq!(entries[0]["user_id"], BOT_ID);

    // Not granted: refused as a value, nothing read.
    let h = Harness::start(&["witness"], |_| {}).await;
    let answer = h.command(json!({"name": "witness-audit"})).await;
    let said = content(&answer);
    assert!(
        said.starts_with("refused:") && said.contains("Denied") && said.contains("not granted"),
        "{answer}"
    );
}
