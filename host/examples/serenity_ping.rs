//! A minimal serenity bot: the reference point of the CPU benchmark
//! (`host/benches/cpu.rs`, `just bench-cpu`). It connects to a Discord
//! simulator the way the host does (`HttpBuilder::proxy`, rate limiter off),
//! registers `/fine`, and answers it ephemerally — no cogs, no storage, no
//! logging. Usage: `serenity_ping http://127.0.0.1:8090`.

use serenity::all::{
    ClientBuilder, Command, Context, CreateCommand, CreateInteractionResponse,
    CreateInteractionResponseMessage, EventHandler, GatewayIntents, HttpBuilder, Interaction,
    Ready,
};

struct Ping;

#[serenity::async_trait]
impl EventHandler for Ping {
    async fn ready(&self, ctx: Context, _ready: Ready) {
        let fine = CreateCommand::new("fine").description("Answer at once");
        if let Err(error) = Command::set_global_commands(&ctx.http, vec![fine]).await {
            eprintln!("registering /fine failed: {error}");
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if let Interaction::Command(command) = interaction {
            let answer = CreateInteractionResponseMessage::new()
                .content("fine")
                .ephemeral(true);
            if let Err(error) = command
                .create_response(&ctx.http, CreateInteractionResponse::Message(answer))
                .await
            {
                eprintln!("answering failed: {error}");
            }
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::args()
        .nth(1)
        .expect("usage: serenity_ping SIMULATOR_URL");
    let http = HttpBuilder::new("simulated-token")
        .proxy(&url)
        .ratelimiter_disabled(true)
        .build();
    let mut client = ClientBuilder::new_with_http(http, GatewayIntents::non_privileged())
        .event_handler(Ping)
        .await
        .expect("a serenity client");
    client
        .start_autosharded()
        .await
        .expect("the gateway connection");
}
