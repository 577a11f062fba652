//! serenity itself, pointed at the simulator the way the host will point it
//! (`HttpBuilder::proxy` + `ratelimiter_disabled`, gateway URL from REST),
//! connects, gets READY and the demo guild.

use std::net::SocketAddr;

use std::time::Duration;

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{BOT_ID, DEMO_GUILD};
use serenity::all::{Context, EventHandler, GatewayIntents, Guild, HttpBuilder, Ready};
use tokio::sync::mpsc;

struct Handler(mpsc::UnboundedSender<String>);

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _: Context, ready: Ready) {
        let _ = self.0.send(format!(
            "ready {} {}",
            ready.application.id, ready.user.name
        ));
    }

    async fn guild_create(&self, _: Context, guild: Guild, _: Option<bool>) {
        let _ = self.0.send(format!("guild {} {}", guild.id, guild.name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenity_connects_and_sees_the_demo_guild() {
    let sim = Simulator::start(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let http = HttpBuilder::new("Bot simulated-token")
        .proxy(sim.http_url())
        .ratelimiter_disabled(true)
        .build();
    let (sender, mut events) = mpsc::unbounded_channel();
    let mut client =
        serenity::all::ClientBuilder::new_with_http(http, GatewayIntents::non_privileged())
            .event_handler(Handler(sender))
            .await
            .expect("client");
    let task = tokio::spawn(async move { client.start().await });
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(20), events.recv()).await {
            Ok(Some(event)) => seen.push(event),
            _ => break,
        }
    }
    task.abort();
    // serenity runs handlers on their own tasks: the order is not fixed.
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("guild {DEMO_GUILD} Baseline Demo"),
            format!("ready {BOT_ID} baseline"),
        ]
    );
}
