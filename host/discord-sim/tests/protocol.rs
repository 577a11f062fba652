//! The simulator's payloads, read back with serenity's own model types, and
//! a gateway session driven over a real WebSocket.

use std::net::SocketAddr;

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{BOT_ID, DEMO_CHANNEL, DEMO_GUILD, DEMO_OWNER};
use futures_util::{SinkExt, StreamExt};
use serenity::model::event::{Event, GatewayEvent};
use tokio_tungstenite::tungstenite::Message;

async fn simulator() -> Simulator {
    Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

async fn next_frame(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> String {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("a frame in time")
            .unwrap()
            .unwrap()
        {
            Message::Text(text) => return text.to_string(),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn identify_gets_ready_and_complete_guilds_serenity_can_read() {
    let sim = simulator().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/?v=10&encoding=json", sim.addr()))
            .await
            .unwrap();

    let hello: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    assert!(matches!(hello, GatewayEvent::Hello(1000)), "{hello:?}");

    let identify = serde_json::json!({"op": 2, "d": {"token": "sim", "intents": 0, "properties": {}, "shard": [0, 1]}});
    ws.send(Message::Text(identify.to_string().into()))
        .await
        .unwrap();

    let ready: GatewayEvent =
        serde_json::from_str(&next_frame(&mut ws).await).expect("READY parses with serenity");
    let GatewayEvent::Dispatch(1, Event::Ready(ready)) = ready else {
        panic!("{ready:?}")
    };
    assert_eq!(
        ready.ready.application.id.get(),
        baseline_discord_sim::world::BOT_ID
    );
    assert_eq!(ready.ready.guilds[0].id.get(), DEMO_GUILD);

    let guild: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await)
        .expect("GUILD_CREATE parses with serenity");
    let GatewayEvent::Dispatch(2, Event::GuildCreate(create)) = guild else {
        panic!("{guild:?}")
    };
    assert_eq!(create.guild.owner_id.get(), DEMO_OWNER);
    assert!(
        create
            .guild
            .channels
            .keys()
            .any(|id| id.get() == DEMO_CHANNEL),
        "channels parse: {:?}",
        create.guild.channels.keys()
    );
    assert_eq!(create.guild.members.len(), 4, "members parse");
    assert_eq!(create.guild.roles.len(), 3, "roles parse");

    ws.send(Message::Text(r#"{"op": 1, "d": 2}"#.into()))
        .await
        .unwrap();
    let ack: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    assert!(matches!(ack, GatewayEvent::HeartbeatAck), "{ack:?}");
}

/// Send and read the JSON answer (any status).
trait SendJson {
    async fn send_json<T: serde::de::DeserializeOwned>(self) -> T;
    async fn send_ok(self) -> reqwest::Response;
}

impl SendJson for reqwest::RequestBuilder {
    async fn send_json<T: serde::de::DeserializeOwned>(self) -> T {
        self.send().await.unwrap().json().await.unwrap()
    }
    async fn send_ok(self) -> reqwest::Response {
        self.send().await.unwrap()
    }
}

/// A REST client acting as the bot.
fn bot_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", "Bot simulated".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect and IDENTIFY as shard `[0, 1]`; READY and the demo guild's
/// GUILD_CREATE are read. Returns the socket and the session id.
async fn identified(sim: &Simulator) -> (Ws, String) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/?v=10", sim.addr()))
        .await
        .unwrap();
    next_frame(&mut ws).await;
    let identify = serde_json::json!({"op": 2, "d": {"token": "sim", "intents": 0, "properties": {}, "shard": [0, 1]}});
    ws.send(Message::Text(identify.to_string().into()))
        .await
        .unwrap();
    let ready: serde_json::Value = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    next_frame(&mut ws).await;
    (ws, ready["d"]["session_id"].as_str().unwrap().to_string())
}

/// The next dispatch, parsed by serenity.
async fn dispatch(ws: &mut Ws) -> (u64, Event) {
    let text = next_frame(ws).await;
    match serde_json::from_str::<GatewayEvent>(&text) {
        Ok(GatewayEvent::Dispatch(seq, event)) => (seq, event),
        other => panic!("not a dispatch serenity reads: {other:?} from {text}"),
    }
}

#[tokio::test]
async fn rest_objects_parse_with_serenity_and_errors_have_discords_shape() {
    let sim = simulator().await;
    let http = bot_client();
    let base = format!("{}/api/v10", sim.http_url());
    let me: serenity::model::user::CurrentUser =
        http.get(format!("{base}/users/@me")).send_json().await;
    assert!(me.bot);
    let gateway: serenity::model::gateway::BotGateway =
        http.get(format!("{base}/gateway/bot")).send_json().await;
    assert_eq!(gateway.shards, 1);
    // What client libraries other than serenity read at login.
    for path in ["applications/@me", "oauth2/applications/@me"] {
        let app: serenity::model::application::CurrentApplicationInfo =
            http.get(format!("{base}/{path}")).send_json().await;
        assert_eq!(app.id.get(), BOT_ID);
        assert_eq!(app.owner.map(|o| o.id.get()), Some(DEMO_OWNER));
    }
    // Discord's limits, with Discord's error shape (200 embed fields: 25 allowed).
    let fields: Vec<serde_json::Value> = (0..200)
        .map(|i| serde_json::json!({"name": format!("f{i}"), "value": "v"}))
        .collect();
    let refused = http
        .post(format!("{base}/channels/{DEMO_CHANNEL}/messages"))
        .json(&serde_json::json!({"embeds": [{"title": "t", "fields": fields}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], 50035);
    assert_eq!(body["message"], "Invalid Form Body");
    assert_eq!(
        body["errors"]["embeds"]["0"]["fields"]["_errors"][0]["code"], "BASE_TYPE_MAX_LENGTH",
        "{body}"
    );
    let channel: serenity::model::channel::GuildChannel = http
        .get(format!("{base}/channels/{DEMO_CHANNEL}"))
        .send_json()
        .await;
    assert_eq!(channel.guild_id.get(), DEMO_GUILD);
    let roles: Vec<serenity::model::guild::Role> = http
        .get(format!("{base}/guilds/{DEMO_GUILD}/roles"))
        .send_json()
        .await;
    assert_eq!(roles.len(), 3);
    let channels: Vec<serenity::model::channel::GuildChannel> = http
        .get(format!("{base}/guilds/{DEMO_GUILD}/channels"))
        .send_json()
        .await;
    assert_eq!(channels.len(), 2);
    let member: serenity::model::guild::PartialMember = http
        .get(format!("{base}/guilds/{DEMO_GUILD}/members/{DEMO_OWNER}"))
        .send_json()
        .await;
    assert_eq!(member.roles.len(), 1);

    let sent: serenity::model::channel::Message = http
        .post(format!("{base}/channels/{DEMO_CHANNEL}/messages"))
        .json(&serde_json::json!({"content": "hello", "embeds": [{"title": "t"}]}))
        .send_json()
        .await;
    assert_eq!(
        (sent.content.as_str(), sent.author.id.get()),
        ("hello", BOT_ID)
    );
    let edited: serenity::model::channel::Message = http
        .patch(format!(
            "{base}/channels/{DEMO_CHANNEL}/messages/{}",
            sent.id
        ))
        .json(&serde_json::json!({"content": "edited"}))
        .send_json()
        .await;
    assert!(edited.edited_timestamp.is_some());
    let status = http
        .put(format!(
            "{base}/channels/{DEMO_CHANNEL}/messages/{}/reactions/%F0%9F%8E%B2/@me",
            sent.id
        ))
        .send_ok()
        .await
        .status();
    assert_eq!(status, 204);
    let read: serenity::model::channel::Message = http
        .get(format!(
            "{base}/channels/{DEMO_CHANNEL}/messages/{}",
            sent.id
        ))
        .send_json()
        .await;
    assert_eq!(read.reactions.len(), 1);

    // Multipart with files, as attachments are uploaded.
    let form = reqwest::multipart::Form::new()
        .text("payload_json", r#"{"content": "with a file"}"#)
        .part(
            "files[0]",
            reqwest::multipart::Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("data.csv"),
        );
    let uploaded: serenity::model::channel::Message = http
        .post(format!("{base}/channels/{DEMO_CHANNEL}/messages"))
        .multipart(form)
        .send_json()
        .await;
    assert_eq!(uploaded.attachments[0].filename, "data.csv");
    assert_eq!(uploaded.attachments[0].size, 8);

    // Errors: unknown route, unknown message, empty message, no authorization.
    let cases = [
        (http.get(format!("{base}/nothing/here")), 404, 0),
        (
            http.get(format!("{base}/channels/{DEMO_CHANNEL}/messages/1")),
            404,
            10008,
        ),
        (
            http.post(format!("{base}/channels/{DEMO_CHANNEL}/messages"))
                .json(&serde_json::json!({"content": ""})),
            400,
            50006,
        ),
        (
            http.post(format!("{base}/channels/{DEMO_CHANNEL}/messages"))
                .body("{not json")
                .header("content-type", "application/json"),
            400,
            50109,
        ),
        (
            reqwest::Client::new().get(format!("{base}/users/@me")),
            401,
            0,
        ),
        (http.get(format!("{base}/channels/12345")), 404, 10003),
    ];
    for (request, status, code) in cases {
        let response = request.send_ok().await;
        assert_eq!(response.status(), status);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{body}");
        assert!(body["message"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn a_command_round_trips_and_every_dispatch_parses_with_serenity() {
    let sim = simulator().await;
    let http = bot_client();
    let base = format!("{}/api/v10", sim.http_url());
    let (mut ws, _) = identified(&sim).await;

    // The bot registers /echo (with a subcommand-free option).
    let registered: Vec<serenity::model::application::Command> = http
        .put(format!("{base}/applications/{BOT_ID}/commands"))
        .json(
            &serde_json::json!([{"name": "echo", "description": "Echo", "type": 1,
            "options": [{"type": 3, "name": "text", "description": "What", "required": true}]}]),
        )
        .send_json()
        .await;
    assert_eq!(registered[0].name, "echo");

    // A user runs it; the control API waits for the bot's answer.
    let control = sim.http_url();
    let user = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{control}/_sim/commands"))
            .json(&serde_json::json!({"name": "echo", "options": {"text": "hi"}}))
            .send_ok()
            .await
    });
    let (_, event) = dispatch(&mut ws).await;
    let Event::InteractionCreate(create) = event else {
        panic!("{event:?}")
    };
    let command = create.interaction.as_command().expect("a command").clone();
    assert_eq!(command.data.options[0].value.as_str(), Some("hi"));
    assert_eq!(command.member.as_ref().unwrap().user.id.get(), DEMO_OWNER);
    let callback = http
        .post(format!("{base}/interactions/{}/{}/callback", command.id, command.token))
        .json(&serde_json::json!({"type": 4, "data": {"content": "hi back", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Again", "custom_id": "echo:again"}]}]}}))
        .send_ok().await;
    assert_eq!(callback.status(), 204);
    // Answering twice is refused, as Discord does.
    let twice = http
        .post(format!(
            "{base}/interactions/{}/{}/callback",
            command.id, command.token
        ))
        .json(&serde_json::json!({"type": 4, "data": {"content": "again"}}))
        .send_ok()
        .await;
    assert_eq!(twice.status(), 400);

    let answer = user.await.unwrap();
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer["reply"]["content"], "hi back");
    let reply: serenity::model::channel::Message =
        serde_json::from_value(answer["reply"].clone()).unwrap();
    // The response is also a MESSAGE_CREATE the bot sees.
    let (_, event) = dispatch(&mut ws).await;
    assert!(matches!(event, Event::MessageCreate(_)), "{event:?}");

    // Clicking the button is a component interaction serenity reads, with the message.
    let control = sim.http_url();
    let message_id = reply.id.to_string();
    let click = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{control}/_sim/components"))
            .json(&serde_json::json!({"message_id": message_id, "custom_id": "echo:again", "timeout_ms": 3000}))
            .send_ok().await
    });
    let (_, event) = dispatch(&mut ws).await;
    let Event::InteractionCreate(create) = event else {
        panic!("{event:?}")
    };
    let component = create
        .interaction
        .as_message_component()
        .expect("a component")
        .clone();
    assert_eq!(component.data.custom_id, "echo:again");
    // A deferred update, then the edit of the original message.
    http.post(format!(
        "{base}/interactions/{}/{}/callback",
        component.id, component.token
    ))
    .json(&serde_json::json!({"type": 6}))
    .send_ok()
    .await;
    let edited = http
        .patch(format!(
            "{base}/webhooks/{BOT_ID}/{}/messages/@original",
            component.token
        ))
        .json(&serde_json::json!({"content": "clicked"}))
        .send_ok()
        .await;
    assert_eq!(edited.status(), 200);
    let clicked: serde_json::Value = click.await.unwrap().json().await.unwrap();
    assert_eq!(clicked["reply"]["content"], "clicked");
    let (_, event) = dispatch(&mut ws).await;
    let Event::MessageUpdate(update) = event else {
        panic!("{event:?}")
    };
    assert_eq!(update.content.as_deref(), Some("clicked"));

    // Posting, reacting, joining and leaving as users all reach the bot as dispatches serenity reads.
    let control = reqwest::Client::new();
    let posted: serde_json::Value = control
        .post(format!("{}/_sim/messages", sim.http_url()))
        .json(&serde_json::json!({"content": "hello bot", "user_id": (DEMO_OWNER + 1).to_string()}))
        .send_json()
        .await;
    control
        .post(format!("{}/_sim/reactions", sim.http_url()))
        .json(&serde_json::json!({"message_id": posted["id"], "emoji": "👍"}))
        .send_ok()
        .await;
    control
        .patch(format!(
            "{}/_sim/messages/{}",
            sim.http_url(),
            posted["id"].as_str().unwrap()
        ))
        .json(&serde_json::json!({"content": "edited"}))
        .send_ok()
        .await;
    control
        .delete(format!(
            "{}/_sim/messages/{}",
            sim.http_url(),
            posted["id"].as_str().unwrap()
        ))
        .send_ok()
        .await;
    control
        .post(format!("{}/_sim/members", sim.http_url()))
        .json(&serde_json::json!({"user_id": "5000000000000000005", "username": "newbie"}))
        .send_ok()
        .await;
    control
        .delete(format!(
            "{}/_sim/members/{DEMO_GUILD}/5000000000000000005",
            sim.http_url()
        ))
        .send_ok()
        .await;
    control
        .post(format!("{}/_sim/roles", sim.http_url()))
        .json(&serde_json::json!({"name": "Dicers"}))
        .send_ok()
        .await;
    control
        .post(format!("{}/_sim/channels", sim.http_url()))
        .json(&serde_json::json!({"name": "new-channel"}))
        .send_ok()
        .await;
    let mut kinds = Vec::new();
    for _ in 0..8 {
        let (_, event) = dispatch(&mut ws).await;
        kinds.push(event.name().unwrap_or_default());
    }
    assert_eq!(
        kinds,
        [
            "MESSAGE_CREATE",
            "MESSAGE_REACTION_ADD",
            "MESSAGE_UPDATE",
            "MESSAGE_DELETE",
            "GUILD_MEMBER_ADD",
            "GUILD_MEMBER_REMOVE",
            "GUILD_ROLE_CREATE",
            "CHANNEL_CREATE"
        ]
    );

    // The bot joins a new guild and is removed from it.
    let added: serde_json::Value = control
        .post(format!("{}/_sim/guilds", sim.http_url()))
        .json(&serde_json::json!({"name": "Second"}))
        .send_json()
        .await;
    let (_, event) = dispatch(&mut ws).await;
    let Event::GuildCreate(create) = event else {
        panic!("{event:?}")
    };
    assert_eq!(create.guild.name, "Second");
    control
        .delete(format!(
            "{}/_sim/guilds/{}",
            sim.http_url(),
            added["guild_id"].as_str().unwrap()
        ))
        .send_ok()
        .await;
    let (_, event) = dispatch(&mut ws).await;
    let Event::GuildDelete(delete) = event else {
        panic!("{event:?}")
    };
    assert!(!delete.guild.unavailable, "removed, not an outage");
    // Removed, the bot cannot post there any more.
    let refused = http
        .post(format!(
            "{base}/channels/{}/messages",
            added["channel_id"].as_str().unwrap()
        ))
        .json(&serde_json::json!({"content": "still here?"}))
        .send_ok()
        .await;
    assert_eq!(refused.status(), 403);

    // A modal submission and an autocomplete request parse as serenity's too.
    let url = sim.http_url();
    let submit = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/_sim/modals"))
            .json(&serde_json::json!({"custom_id": "echo:form", "fields": {"name": "Ada"}}))
            .send_json::<serde_json::Value>()
            .await
    });
    let (_, event) = dispatch(&mut ws).await;
    let Event::InteractionCreate(create) = event else {
        panic!("{event:?}")
    };
    let modal = create
        .interaction
        .as_modal_submit()
        .expect("a modal submission")
        .clone();
    assert_eq!(modal.data.custom_id, "echo:form");
    http.post(format!(
        "{base}/interactions/{}/{}/callback",
        modal.id, modal.token
    ))
    .json(&serde_json::json!({"type": 4, "data": {"content": "thanks"}}))
    .send_ok()
    .await;
    assert_eq!(submit.await.unwrap()["reply"]["content"], "thanks");
    let (_, event) = dispatch(&mut ws).await;
    assert!(
        matches!(event, Event::MessageCreate(_)),
        "the reply: {event:?}"
    );

    let url = sim.http_url();
    let typing = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/_sim/autocomplete"))
            .json(&serde_json::json!({"name": "echo", "options": {"text": "h"}, "focused": "text"}))
            .send_json::<serde_json::Value>()
            .await
    });
    let (_, event) = dispatch(&mut ws).await;
    let Event::InteractionCreate(create) = event else {
        panic!("{event:?}")
    };
    let autocomplete = create
        .interaction
        .as_autocomplete()
        .expect("autocomplete")
        .clone();
    assert_eq!(autocomplete.data.autocomplete().unwrap().value, "h");
    http.post(format!(
        "{base}/interactions/{}/{}/callback",
        autocomplete.id, autocomplete.token
    ))
    .json(
        &serde_json::json!({"type": 8, "data": {"choices": [{"name": "hello", "value": "hello"}]}}),
    )
    .send_ok()
    .await;
    assert_eq!(typing.await.unwrap()["choices"][0]["name"], "hello");
}

#[tokio::test]
async fn a_command_nobody_answers_gives_504_with_what_was_sent() {
    let sim = simulator().await;
    let http = bot_client();
    http.put(format!(
        "{}/api/v10/applications/{BOT_ID}/commands",
        sim.http_url()
    ))
    .json(&serde_json::json!([{"name": "quiet", "description": "No answer"}]))
    .send_ok()
    .await;
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/commands", sim.http_url()))
        .json(&serde_json::json!({"name": "quiet", "timeout_ms": 200}))
        .send_ok()
        .await;
    assert_eq!(response.status(), 504);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["answered"], false);
    assert!(body["message"].as_str().unwrap().contains("200 ms"));
    // An unregistered command is refused with the list of registered ones.
    let response = reqwest::Client::new()
        .post(format!("{}/_sim/commands", sim.http_url()))
        .json(&serde_json::json!({"name": "nope"}))
        .send_ok()
        .await;
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("/quiet"),
        "{body}"
    );
}

#[tokio::test]
async fn resume_replays_what_the_session_missed_then_resumed() {
    let sim = simulator().await;
    let (mut ws, session) = identified(&sim).await;
    ws.close(None).await.unwrap();
    drop(ws);
    // Three messages while the bot is away.
    let control = reqwest::Client::new();
    for n in 0..3 {
        control
            .post(format!("{}/_sim/messages", sim.http_url()))
            .json(&serde_json::json!({"content": format!("missed {n}")}))
            .send_ok()
            .await;
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/?v=10", sim.addr()))
        .await
        .unwrap();
    next_frame(&mut ws).await; // HELLO
    let resume =
        serde_json::json!({"op": 6, "d": {"token": "sim", "session_id": session, "seq": 2}});
    ws.send(Message::Text(resume.to_string().into()))
        .await
        .unwrap();
    for expected in 3..=5 {
        let (seq, event) = dispatch(&mut ws).await;
        assert_eq!(seq, expected);
        let Event::MessageCreate(create) = event else {
            panic!("{event:?}")
        };
        assert_eq!(create.message.content, format!("missed {}", expected - 3));
    }
    let (seq, event) = dispatch(&mut ws).await;
    assert_eq!(seq, 6);
    assert!(matches!(event, Event::Resumed(_)), "{event:?}");

    // An unknown session cannot resume.
    let (mut other, _) = tokio_tungstenite::connect_async(format!("ws://{}/?v=10", sim.addr()))
        .await
        .unwrap();
    next_frame(&mut other).await;
    let resume =
        serde_json::json!({"op": 6, "d": {"token": "sim", "session_id": "nope", "seq": 1}});
    other
        .send(Message::Text(resume.to_string().into()))
        .await
        .unwrap();
    let invalid: GatewayEvent = serde_json::from_str(&next_frame(&mut other).await).unwrap();
    assert!(
        matches!(invalid, GatewayEvent::InvalidateSession(false)),
        "{invalid:?}"
    );
}

#[tokio::test]
async fn gateway_and_rest_faults_are_injected_on_demand() {
    let sim = simulator().await;
    let (mut ws, _) = identified(&sim).await;
    let control = reqwest::Client::new();
    let inject = |body: serde_json::Value| {
        control
            .post(format!("{}/_sim/faults/gateway", sim.http_url()))
            .json(&body)
            .send()
    };
    inject(serde_json::json!({"action": "reconnect"}))
        .await
        .unwrap();
    let frame: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    assert!(matches!(frame, GatewayEvent::Reconnect), "{frame:?}");
    inject(serde_json::json!({"action": "invalid_session", "resumable": true}))
        .await
        .unwrap();
    let frame: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    assert!(
        matches!(frame, GatewayEvent::InvalidateSession(true)),
        "{frame:?}"
    );
    inject(serde_json::json!({"action": "close", "code": 4004}))
        .await
        .unwrap();
    let close = loop {
        match tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(u16::from(close.unwrap().code), 4004);

    // REST: a 429 with Discord's headers and body, then normal service.
    control
        .post(format!("{}/_sim/faults/rest", sim.http_url()))
        .json(&serde_json::json!({"path": "/users/@me", "status": 429, "retry_after_ms": 1500}))
        .send_ok()
        .await;
    let http = bot_client();
    let limited = http
        .get(format!("{}/api/v10/users/@me", sim.http_url()))
        .send_ok()
        .await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "2");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert_eq!(body["retry_after"], 1.5);
    let fine = http
        .get(format!("{}/api/v10/users/@me", sim.http_url()))
        .send_ok()
        .await;
    assert_eq!(fine.status(), 200);
    assert_eq!(fine.headers()["x-ratelimit-remaining"], "49");
    // A delay, then a 500.
    control
        .post(format!("{}/_sim/faults/rest", sim.http_url()))
        .json(&serde_json::json!({"path": "/gateway/bot", "status": 500, "delay_ms": 300}))
        .send_ok()
        .await;
    let started = std::time::Instant::now();
    let failed = http
        .get(format!("{}/api/v10/gateway/bot", sim.http_url()))
        .send_ok()
        .await;
    assert_eq!(failed.status(), 500);
    assert!(started.elapsed() >= std::time::Duration::from_millis(300));
}

/// Authorize as `user` with a PKCE challenge for `verifier`; the code.
async fn authorize(sim: &Simulator, client: &reqwest::Client, user: u64, verifier: &str) -> String {
    let challenge = baseline_discord_sim::oauth::s256(verifier);
    let redirect = client
        .get(format!(
            "{}/oauth2/authorize?client_id={BOT_ID}&response_type=code&scope=identify%20guilds&redirect_uri=http://dash.example/callback&state=xyz&as_user={user}&code_challenge={challenge}&code_challenge_method=S256",
            sim.http_url()
        ))
        .send_ok().await;
    assert_eq!(redirect.status(), 303);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://dash.example/callback?code="),
        "{location}"
    );
    assert!(location.ends_with("&state=xyz"));
    location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

fn exchange<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", "http://dash.example/callback"),
        ("code_verifier", verifier),
        ("client_secret", baseline_discord_sim::oauth::CLIENT_SECRET),
    ]
}

#[tokio::test]
async fn oauth2_approves_as_a_chosen_user() {
    let sim = simulator().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let grace = DEMO_OWNER + 1;
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let code = authorize(&sim, &client, grace, verifier).await;
    let app = BOT_ID.to_string();
    let mut form = exchange(&code, verifier);
    form.push(("client_id", &app));
    let token: serde_json::Value = client
        .post(format!("{}/api/v10/oauth2/token", sim.http_url()))
        .form(&form)
        .send_json()
        .await;
    assert_eq!(token["token_type"], "Bearer");
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let me: serenity::model::user::CurrentUser = client
        .get(format!("{}/api/v10/users/@me", sim.http_url()))
        .header("authorization", &bearer)
        .send_json()
        .await;
    assert_eq!((me.id.get(), me.name.as_str()), (grace, "grace"));
    let guilds: Vec<serenity::model::guild::GuildInfo> = client
        .get(format!("{}/api/v10/users/@me/guilds", sim.http_url()))
        .header("authorization", &bearer)
        .send_json()
        .await;
    assert_eq!(guilds.len(), 1);
    assert!(!guilds[0].owner);
    // A code works once.
    let again = client
        .post(format!("{}/api/v10/oauth2/token", sim.http_url()))
        .form(&form)
        .send_ok()
        .await;
    assert_eq!(again.status(), 400);
    // Expired access tokens are refused; the refresh token gets a new one, once.
    client
        .post(format!("{}/_sim/oauth/expire", sim.http_url()))
        .send_ok()
        .await;
    let expired = client
        .get(format!("{}/api/v10/users/@me", sim.http_url()))
        .header("authorization", &bearer)
        .send_ok()
        .await;
    assert_eq!(expired.status(), 401);
    let refresh = token["refresh_token"].as_str().unwrap();
    let refreshed: serde_json::Value = client
        .post(format!("{}/api/v10/oauth2/token", sim.http_url()))
        .basic_auth(&app, Some(baseline_discord_sim::oauth::CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send_json()
        .await;
    let me: serenity::model::user::CurrentUser = client
        .get(format!("{}/api/v10/users/@me", sim.http_url()))
        .header(
            "authorization",
            format!("Bearer {}", refreshed["access_token"].as_str().unwrap()),
        )
        .send_json()
        .await;
    assert_eq!(me.id.get(), grace);
    let reused = client
        .post(format!("{}/api/v10/oauth2/token", sim.http_url()))
        .basic_auth(&app, Some(baseline_discord_sim::oauth::CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send_ok()
        .await;
    assert_eq!(reused.status(), 400);
}

#[tokio::test]
async fn oauth2_refuses_what_discord_refuses() {
    let sim = simulator().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let app = BOT_ID.to_string();
    let token_url = format!("{}/api/v10/oauth2/token", sim.http_url());
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    // Each refusal spends the code: a new one per case.
    type Change = Box<dyn Fn(&mut Vec<(&'static str, String)>)>;
    let cases: [(&str, Change, u16); 4] = [
        (
            "wrong secret",
            Box::new(|f| f.retain(|(k, _)| *k != "client_secret")),
            401,
        ),
        (
            "wrong verifier",
            Box::new(|f| {
                f.iter_mut().for_each(|(k, v)| {
                    if *k == "code_verifier" {
                        *v = "x".repeat(50)
                    }
                })
            }),
            400,
        ),
        (
            "no verifier",
            Box::new(|f| f.retain(|(k, _)| *k != "code_verifier")),
            400,
        ),
        (
            "another redirect",
            Box::new(|f| {
                f.iter_mut().for_each(|(k, v)| {
                    if *k == "redirect_uri" {
                        *v = "http://evil.example/cb".into()
                    }
                })
            }),
            400,
        ),
    ];
    for (what, change, status) in cases {
        let code = authorize(&sim, &client, DEMO_OWNER, verifier).await;
        let mut form: Vec<(&'static str, String)> = exchange(&code, verifier)
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect();
        form.push(("client_id", app.clone()));
        change(&mut form);
        let refused = client.post(&token_url).form(&form).send_ok().await;
        assert_eq!(refused.status(), status, "{what}");
    }
    // No client id, and a bad challenge, are refused at the authorize page.
    for query in [
        "redirect_uri=http://dash.example/cb&as_user=1".to_string(),
        format!(
            "client_id={BOT_ID}&redirect_uri=http://dash.example/cb&code_challenge=short&code_challenge_method=S256"
        ),
    ] {
        let page = client
            .get(format!("{}/oauth2/authorize?{query}", sim.http_url()))
            .send_ok()
            .await;
        assert_eq!(page.status(), 400, "{query}");
    }
    // Without `as_user` the consent screen lists the people to sign in as.
    let page = client
        .get(format!(
            "{}/oauth2/authorize?client_id={BOT_ID}&redirect_uri=http://dash.example/cb&state=s",
            sim.http_url()
        ))
        .send_ok()
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Authorize as <b>grace</b>"), "{page}");
    assert!(
        page.contains(&format!("as_user={}", DEMO_OWNER + 1)),
        "{page}"
    );
}
