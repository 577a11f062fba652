//! Metered images, transcription and token counts: reserved at their worst
//! case before the call, settled at what the provider reported, a usage
//! row for each — the same book as chats, so no path skips a budget.

use super::{Caller, Charged, LlmService, charged, error_kind};
use crate::llm::model::{
    ChatRequest, ImageAnswer, ImageRequest, LlmError, Transcript, TranscriptionRequest, Usage,
};

/// Output tokens of the dearest image OpenAI draws (high quality,
/// 1536×1024), reserved for any image.
const WORST_IMAGE_TOKENS: u64 = 6_240;
/// Most bytes of audio a transcription takes (OpenAI's limit).
pub const MAX_AUDIO_BYTES: usize = 25 << 20;

/// The longest `bytes` of compressed speech can last: at 8 kbit/s (the
/// lowest bitrate speech is sent at), one millisecond a byte.
fn worst_audio_ms(bytes: usize) -> u64 {
    bytes as u64
}

impl LlmService {
    /// Generate an image for `caller` (model: the request's or the
    /// default image model).
    pub async fn image(
        &self,
        caller: &Caller,
        mut request: ImageRequest,
    ) -> Result<(ImageAnswer, Charged), LlmError> {
        if request.model.is_empty() {
            request.model = self.image_model.clone();
        }
        let prompt = super::tokens_of(&request.prompt);
        let worst = Usage {
            input: prompt,
            output: WORST_IMAGE_TOKENS,
            images: 1,
            ..Usage::default()
        };
        let prepared = self.reserve(caller, &request.model, worst, prompt).await?;
        let result = self.gateway.image(&prepared.chain, &request).await;
        let (usage, served, outcome) = match &result {
            Ok((answer, served)) => (answer.usage, Some(served), "ok"),
            Err(error) => (Usage::default(), None, error_kind(error)),
        };
        let cost = self
            .conclude(caller, &prepared, "image", usage, served, outcome)
            .await?;
        let (answer, served) = result?;
        Ok((answer, charged(cost, &served)))
    }

    /// Transcribe speech for `caller` (model: the request's or the default
    /// transcription model).
    pub async fn transcribe(
        &self,
        caller: &Caller,
        mut request: TranscriptionRequest,
    ) -> Result<(Transcript, Charged), LlmError> {
        if request.model.is_empty() {
            request.model = self.transcription_model.clone();
        }
        if request.audio.is_empty() {
            return Err(LlmError::Invalid("the audio is empty".into()));
        }
        if request.audio.len() > MAX_AUDIO_BYTES {
            return Err(LlmError::Invalid(format!(
                "the audio is {} bytes; at most {MAX_AUDIO_BYTES} are transcribed",
                request.audio.len()
            )));
        }
        // Priced by the minute or by audio tokens (at most 50 a second in,
        // 10 a second of text out): reserve the longest the file can last.
        let ms = worst_audio_ms(request.audio.len());
        let worst = Usage {
            input: ms.div_ceil(1_000) * 50,
            output: ms.div_ceil(1_000) * 10,
            audio_ms: ms,
            ..Usage::default()
        };
        let prepared = self.reserve(caller, &request.model, worst, 0).await?;
        let result = self.gateway.transcribe(&prepared.chain, &request).await;
        let (usage, served, outcome) = match &result {
            Ok((answer, served)) => (answer.usage, Some(served), "ok"),
            Err(error) => (Usage::default(), None, error_kind(error)),
        };
        let cost = self
            .conclude(caller, &prepared, "transcription", usage, served, outcome)
            .await?;
        let (answer, served) = result?;
        Ok((answer, charged(cost, &served)))
    }

    /// Count `request`'s input tokens with its model's provider (free, but
    /// recorded, and refused like any call once a budget is spent).
    pub async fn count(&self, caller: &Caller, mut request: ChatRequest) -> Result<u64, LlmError> {
        if request.model.is_empty() {
            request.model = self.default_model.clone();
        }
        let prepared = self
            .reserve(caller, &request.model, Usage::default(), 0)
            .await?;
        let result = self.gateway.count(&prepared.chain, &request).await;
        let (usage, served, outcome) = match &result {
            Ok((tokens, served)) => (
                Usage {
                    input: *tokens,
                    ..Usage::default()
                },
                Some(served),
                "ok",
            ),
            Err(error) => (Usage::default(), None, error_kind(error)),
        };
        self.conclude(caller, &prepared, "count", usage, served, outcome)
            .await?;
        result.map(|(tokens, _)| tokens)
    }
}
