//! The simulator on the wire, as each provider's documented clients would
//! call it: plain HTTP with each provider's headers and JSON, streams read
//! as server-sent events.

use baseline_llm_sim::{LlmSimulator, Provider};
use serde_json::{Value, json};

async fn sim() -> LlmSimulator {
    LlmSimulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn openai(sim: &LlmSimulator, provider: Provider, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/chat/completions", sim.base_url(provider)))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn anthropic(sim: &LlmSimulator, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}/v1/messages", sim.base_url(Provider::Anthropic)))
        .header("x-api-key", "sk-ant-test")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn gemini(sim: &LlmSimulator, method: &str, body: Value) -> reqwest::Response {
    http()
        .post(format!(
            "{}/models/gemini-3.8-flash:{method}",
            sim.base_url(Provider::Gemini)
        ))
        .header("x-goog-api-key", "g-test")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The `data:` payloads of an SSE body, with their event names.
fn events(body: &str) -> Vec<(Option<String>, String)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut name = None;
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(event) = line.strip_prefix("event: ") {
                    name = Some(event.to_string());
                } else if let Some(payload) = line.strip_prefix("data: ") {
                    data.push_str(payload);
                }
            }
            (name, data)
        })
        .collect()
}

/// Three seconds of (silent) audio transcribed by `model`.
async fn transcribe(base: &str, model: &str) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("model", model.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(vec![0u8; 48_000]).file_name("voice.ogg"),
        );
    http()
        .post(format!("{base}/audio/transcriptions"))
        .bearer_auth("sk-test")
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn dice_tool_openai() -> Value {
    json!([{"type": "function", "function": {"name": "roll_dice", "description": "Roll dice",
        "parameters": {"type": "object", "properties": {"sides": {"type": "integer", "minimum": 2}}, "required": ["sides"]}}}])
}

#[tokio::test]
async fn openai_text_tools_json_and_stream_with_usage() {
    let sim = sim().await;
    let (status, answer) = openai(&sim, Provider::OpenAi, json!({"model": "gpt-6-luna",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["object"], "chat.completion");
    assert!(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("hello")
    );
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let usage = &answer["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );

    // A tool named in the question is called, its arguments a JSON string.
    let (_, called) = openai(
        &sim,
        Provider::OpenAi,
        json!({"model": "gpt-6-luna", "tools": dice_tool_openai(),
        "messages": [{"role": "user", "content": "roll dice please"}]}),
    )
    .await;
    let call = &called["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(called["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(call["function"]["name"], "roll_dice");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments, json!({"sides": 2}));
    // The tool's result comes back: the model answers with it.
    let (_, after) = openai(
        &sim,
        Provider::OpenAi,
        json!({"model": "gpt-6-luna", "tools": dice_tool_openai(),
        "messages": [{"role": "user", "content": "roll dice please"},
                     {"role": "assistant", "content": null, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": call["id"], "content": "4"}]}),
    )
    .await;
    assert_eq!(
        after["choices"][0]["message"]["content"],
        "The tool answered: 4."
    );

    // Structured output fits the schema.
    let (_, structured) = openai(&sim, Provider::OpenAi, json!({"model": "gpt-6-luna",
        "messages": [{"role": "user", "content": "a person"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "person", "strict": true,
            "schema": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
                       "required": ["name", "age"], "additionalProperties": false}}}})).await;
    let person: Value = serde_json::from_str(
        structured["choices"][0]["message"]["content"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(person, json!({"name": "example", "age": 0}));

    // A stream: deltas that add up to the answer, usage only when asked.
    let body = json!({"model": "gpt-6-luna", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]});
    let text = http()
        .post(format!(
            "{}/chat/completions",
            sim.base_url(Provider::OpenAi)
        ))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = events(&text);
    assert_eq!(frames.last().unwrap().1, "[DONE]");
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|(_, data)| serde_json::from_str(data).unwrap())
        .collect();
    let streamed: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(
        streamed,
        answer["choices"][0]["message"]["content"].as_str().unwrap()
    );
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"], answer["usage"]);
}

#[tokio::test]
async fn xai_reports_reasoning_outside_completion() {
    let sim = sim().await;
    let (status, answer) = openai(
        &sim,
        Provider::Xai,
        json!({"model": "grok-4.7",
        "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await;
    assert_eq!(status, 200);
    let usage = &answer["usage"];
    let reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap();
    assert!(reasoning > 0);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap()
            + usage["completion_tokens"].as_u64().unwrap()
            + reasoning
    );
}

#[tokio::test]
async fn openai_caches_a_repeated_long_prefix() {
    let sim = sim().await;
    let long = "The rules of the game, at length. ".repeat(200);
    let ask = |question: &str| {
        json!({"model": "gpt-6-luna",
        "messages": [{"role": "system", "content": long}, {"role": "user", "content": question}]})
    };
    let (_, first) = openai(&sim, Provider::OpenAi, ask("first")).await;
    assert_eq!(first["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    let (_, second) = openai(&sim, Provider::OpenAi, ask("second")).await;
    let cached = second["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert!(cached >= 1024 && cached % 128 == 0, "{second}");
    assert!(
        cached <= second["usage"]["prompt_tokens"].as_u64().unwrap(),
        "cached is part of the prompt"
    );
}

#[tokio::test]
async fn openai_images_transcription_and_counting() {
    let sim = sim().await;
    let base = sim.base_url(Provider::OpenAi);
    let image: Value = http()
        .post(format!("{base}/images/generations"))
        .bearer_auth("sk-test")
        .json(&json!({"model": "gpt-image-2", "prompt": "a d20 on a table", "quality": "low"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        image["data"][0]["b64_json"]
            .as_str()
            .unwrap()
            .starts_with("iVBOR")
    );
    assert_eq!(image["usage"]["output_tokens"], 272);
    let heard = transcribe(&base, "gpt-4o-transcribe").await;
    assert!(heard["text"].as_str().unwrap().contains("voice.ogg"));
    assert_eq!(heard["usage"]["type"], "tokens");
    assert_eq!(heard["usage"]["input_token_details"]["audio_tokens"], 30);
    let heard = transcribe(&base, "whisper-1").await;
    assert_eq!(heard["usage"], json!({"type": "duration", "seconds": 3}));
    let counted: Value = http()
        .post(format!("{base}/responses/input_tokens"))
        .bearer_auth("sk-test")
        .json(&json!({"model": "gpt-6-luna", "input": "hello"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(counted["input_tokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn anthropic_messages_tools_stream_and_cache_accounting() {
    let sim = sim().await;
    let (status, refused) = anthropic(
        &sim,
        json!({"model": "claude-haiku-5-5",
        "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 400, "max_tokens is required: {refused}");
    assert_eq!(refused["error"]["type"], "invalid_request_error");
    let (status, answer) = anthropic(
        &sim,
        json!({"model": "claude-haiku-5-5", "max_tokens": 200,
        "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["content"][0]["type"], "text");
    assert_eq!(answer["stop_reason"], "end_turn");

    let tools = json!([{"name": "roll_dice", "description": "Roll dice",
        "input_schema": {"type": "object", "properties": {"sides": {"type": "integer", "minimum": 4}}}}]);
    let (_, called) = anthropic(
        &sim,
        json!({"model": "claude-haiku-5-5", "max_tokens": 200, "tools": tools,
        "tool_choice": {"type": "tool", "name": "roll_dice"},
        "messages": [{"role": "user", "content": "go"}]}),
    )
    .await;
    assert_eq!(called["stop_reason"], "tool_use");
    assert_eq!(
        called["content"][0]["input"],
        json!({"sides": 4}),
        "input is an object"
    );

    // Caching: a long system prompt marked for the cache is written once
    // (5-minute TTL), then read; input_tokens never include it.
    let rules = "The rules of the game, at length. ".repeat(200);
    let ask = |question: &str| {
        json!({"model": "claude-haiku-5-5", "max_tokens": 200,
        "system": [{"type": "text", "text": rules, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": question}]})
    };
    let (_, first) = anthropic(&sim, ask("first")).await;
    let written = first["usage"]["cache_creation_input_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(
        written,
        (rules.chars().count() as u64).div_ceil(4),
        "{first}"
    );
    assert_eq!(
        first["usage"]["cache_creation"]["ephemeral_5m_input_tokens"],
        written
    );
    assert_eq!(first["usage"]["cache_read_input_tokens"], 0);
    let (_, second) = anthropic(&sim, ask("second")).await;
    assert_eq!(second["usage"]["cache_creation_input_tokens"], 0);
    assert_eq!(second["usage"]["cache_read_input_tokens"], written);
    assert_eq!(
        second["usage"]["input_tokens"], first["usage"]["input_tokens"],
        "the uncached rest"
    );
    // A 1-hour breakpoint is reported as such.
    let hour = json!({"model": "claude-haiku-5-5", "max_tokens": 50,
        "system": [{"type": "text", "text": format!("{rules} (hourly)"), "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        "messages": [{"role": "user", "content": "x"}]});
    let (_, hourly) = anthropic(&sim, hour).await;
    assert!(
        hourly["usage"]["cache_creation"]["ephemeral_1h_input_tokens"]
            .as_u64()
            .unwrap()
            > 1000
    );
    assert_eq!(
        hourly["usage"]["cache_creation"]["ephemeral_5m_input_tokens"],
        0
    );

    // The stream: named events, cumulative usage in message_delta.
    let text = http()
        .post(format!("{}/v1/messages", sim.base_url(Provider::Anthropic)))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(
            &json!({"model": "claude-haiku-5-5", "max_tokens": 200, "stream": true,
            "messages": [{"role": "user", "content": "hello"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = events(&text);
    let names: Vec<&str> = frames.iter().filter_map(|(n, _)| n.as_deref()).collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    let streamed: String = frames
        .iter()
        .filter(|(n, _)| n.as_deref() == Some("content_block_delta"))
        .map(|(_, d)| {
            serde_json::from_str::<Value>(d).unwrap()["delta"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(streamed, answer["content"][0]["text"].as_str().unwrap());
    let delta: Value = serde_json::from_str(
        &frames
            .iter()
            .find(|(n, _)| n.as_deref() == Some("message_delta"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert_eq!(
        delta["usage"]["output_tokens"],
        answer["usage"]["output_tokens"]
    );
}

#[tokio::test]
async fn gemini_generate_function_calls_schema_and_stream() {
    let sim = sim().await;
    let answer: Value = gemini(
        &sim,
        "generateContent",
        json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let usage = &answer["usageMetadata"];
    assert_eq!(
        usage["totalTokenCount"].as_u64().unwrap(),
        usage["promptTokenCount"].as_u64().unwrap()
            + usage["candidatesTokenCount"].as_u64().unwrap()
            + usage["thoughtsTokenCount"].as_u64().unwrap()
    );
    let called: Value = gemini(
        &sim,
        "generateContent",
        json!({
        "contents": [{"role": "user", "parts": [{"text": "roll dice"}]}],
        "tools": [{"functionDeclarations": [{"name": "roll_dice", "description": "Roll",
            "parameters": {"type": "OBJECT", "properties": {"sides": {"type": "INTEGER"}}}}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        called["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
        json!({"sides": 1})
    );
    let structured: Value = gemini(&sim, "generateContent", json!({
        "contents": [{"role": "user", "parts": [{"text": "a flag"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseSchema": {"type": "OBJECT", "properties": {"on": {"type": "BOOLEAN"}}}}}))
        .await
        .json()
        .await
        .unwrap();
    let text = structured["candidates"][0]["content"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        json!({"on": true})
    );
    let stream = gemini(
        &sim,
        "streamGenerateContent?alt=sse",
        json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
    )
    .await
    .text()
    .await
    .unwrap();
    let chunks: Vec<Value> = events(&stream)
        .iter()
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert!(!stream.contains("[DONE]"));
    assert_eq!(
        chunks.last().unwrap()["usageMetadata"],
        answer["usageMetadata"]
    );
    let counted: Value = gemini(
        &sim,
        "countTokens",
        json!({"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(counted["totalTokens"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn faults_keys_and_unknown_models_answer_in_each_providers_shape() {
    let sim = sim().await;
    let control = sim.control_url();
    let fault = |body: Value| {
        let control = control.clone();
        async move {
            http()
                .post(format!("{control}/_sim/faults"))
                .json(&body)
                .send()
                .await
                .unwrap();
        }
    };
    fault(json!({"provider": "openai", "kind": "rate-limit", "retry_after_s": 7})).await;
    let response = http()
        .post(format!(
            "{}/chat/completions",
            sim.base_url(Provider::OpenAi)
        ))
        .bearer_auth("sk-test")
        .json(&json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // Only the next request: the one after answers.
    let (status, _) = openai(
        &sim,
        Provider::OpenAi,
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(status, 200);

    fault(json!({"provider": "anthropic", "kind": "overloaded"})).await;
    let (status, body) = anthropic(
        &sim,
        json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}),
    )
    .await;
    assert_eq!(
        (status, body["error"]["type"].as_str()),
        (529, Some("overloaded_error"))
    );

    // A cut stream: a couple of chunks, then nothing — no usage, no [DONE].
    fault(json!({"provider": "openai", "kind": "cut-stream", "after_chunks": 2})).await;
    let text = http()
        .post(format!(
            "{}/chat/completions",
            sim.base_url(Provider::OpenAi)
        ))
        .bearer_auth("sk-test")
        .json(
            &json!({"model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "a longer question to answer"}]}),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(events(&text).len(), 2);
    assert!(!text.contains("[DONE]") && !text.contains("usage"));

    // Bad keys, missing version, unknown models.
    let response = http()
        .post(format!("{}/chat/completions", sim.base_url(Provider::Xai)))
        .bearer_auth("bad-key")
        .json(&json!({"model": "m", "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let response = http()
        .post(format!("{}/v1/messages", sim.base_url(Provider::Anthropic)))
        .header("x-api-key", "k")
        .json(&json!({"model": "m", "max_tokens": 5, "messages": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "anthropic-version is required");
    let response = gemini(
        &sim,
        "generateContent",
        json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let unknown = http()
        .post(format!(
            "{}/models/no-such-model:generateContent",
            sim.base_url(Provider::Gemini)
        ))
        .header("x-goog-api-key", "g")
        .json(&json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["status"], "NOT_FOUND");

    // What was sent is on record, keys masked.
    let log: Value = http()
        .get(format!("{control}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log.as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["provider"] == "xai" && e["auth"] == "refused")
    );
    assert!(
        entries
            .iter()
            .all(|e| !e["auth"].as_str().unwrap().contains("sk-test"))
    );
}
