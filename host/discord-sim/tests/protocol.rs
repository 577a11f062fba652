//! The simulator's payloads, read back with serenity's own model types, and
//! a gateway session driven over a real WebSocket.

use std::net::SocketAddr;

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_GUILD, DEMO_OWNER};
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
    assert_eq!(create.guild.roles.len(), 2, "roles parse");

    ws.send(Message::Text(r#"{"op": 1, "d": 2}"#.into()))
        .await
        .unwrap();
    let ack: GatewayEvent = serde_json::from_str(&next_frame(&mut ws).await).unwrap();
    assert!(matches!(ack, GatewayEvent::HeartbeatAck), "{ack:?}");
}

#[tokio::test]
async fn rest_basics_and_discord_shaped_404() {
    let sim = simulator().await;
    let get = |path: &str| {
        let addr = sim.addr();
        let path = path.to_string();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(
                    format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
                .await
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            let (head, body) = response.split_once("\r\n\r\n").unwrap();
            (head.lines().next().unwrap().to_string(), body.to_string())
        }
    };
    let (status, body) = get("/api/v10/users/@me").await;
    assert!(status.contains("200"), "{status}");
    let me: serenity::model::user::CurrentUser =
        serde_json::from_str(&body).expect("users/@me parses with serenity");
    assert!(me.bot);
    let (status, body) = get("/api/v10/gateway/bot").await;
    assert!(status.contains("200"));
    let bot: serenity::model::gateway::BotGateway =
        serde_json::from_str(&body).expect("gateway/bot parses with serenity");
    assert_eq!(bot.shards, 1);
    let (status, body) = get("/api/v10/nothing/here").await;
    assert!(status.contains("404"), "{status}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (error["code"].as_u64(), error["message"].as_str()),
        (Some(0), Some("404: Not Found"))
    );
}
