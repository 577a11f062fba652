//! A minimal twilight bot: the second reference point of the CPU benchmark
//! (`host/benches/cpu.rs`, `just bench-cpu`). twilight's gateway parses
//! only the events asked for (here INTERACTION_CREATE and READY); its HTTP
//! client talks to the simulator through `proxy` with the rate limiter off.
//! It registers `/fine` and answers it ephemerally — no cogs, no storage, no
//! logging. Usage: `twilight_ping http://127.0.0.1:8090`.

use std::sync::Arc;

use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_http::Client;
use twilight_model::application::command::CommandType;
use twilight_model::channel::message::MessageFlags;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};
use twilight_util::builder::command::CommandBuilder;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: twilight_ping SIMULATOR_URL");
    let address = url
        .strip_prefix("http://")
        .expect("an http:// simulator URL")
        .trim_end_matches('/')
        .to_string();
    let token = "simulated-token".to_string();
    let http = Arc::new(
        Client::builder()
            .proxy(address.clone(), true)
            .ratelimiter(None)
            .token(token.clone())
            .build(),
    );
    let config = ConfigBuilder::new(token, Intents::GUILDS)
        .proxy_url(format!("ws://{address}"))
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let wanted = EventTypeFlags::READY | EventTypeFlags::INTERACTION_CREATE;
    while let Some(item) = shard.next_event(wanted).await {
        let event = match item {
            Ok(event) => event,
            Err(error) => {
                eprintln!("gateway: {error}");
                continue;
            }
        };
        match event {
            Event::Ready(ready) => {
                let app = ready.application.id;
                let http = http.clone();
                tokio::spawn(async move {
                    let fine =
                        CommandBuilder::new("fine", "Answer at once", CommandType::ChatInput)
                            .build();
                    if let Err(error) = http.interaction(app).set_global_commands(&[fine]).await {
                        eprintln!("registering /fine failed: {error}");
                    }
                });
            }
            Event::InteractionCreate(interaction) => {
                let http = http.clone();
                tokio::spawn(async move {
                    let answer = InteractionResponse {
                        kind: InteractionResponseType::ChannelMessageWithSource,
                        data: Some(InteractionResponseData {
                            content: Some("fine".into()),
                            flags: Some(MessageFlags::EPHEMERAL),
                            ..Default::default()
                        }),
                    };
                    if let Err(error) = http
                        .interaction(interaction.application_id)
                        .create_response(interaction.id, &interaction.token, &answer)
                        .await
                    {
                        eprintln!("answering failed: {error}");
                    }
                });
            }
            _ => {}
        }
    }
}
