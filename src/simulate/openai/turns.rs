//! Input turns of a simulated Realtime session: audio in, commits, their transcripts, and items the client adds.

use serde_json::{Value, json};

use super::Target;
use super::audio::{self, Format, Transition};
use super::events::{Fault, event, id};
use super::realtime::Realtime;
use crate::simulate::session::Step;

/// Shortest buffer a commit accepts.
const MIN_COMMIT_MS: u64 = 100;
/// Fake speaking rate of transcripts (words per second of input audio).
const HEARD_WORDS_PER_SECOND: f64 = 2.0;
/// Input audio tokens per second (one per 100 ms of user audio).
const INPUT_AUDIO_TOKENS_PER_SECOND: u64 = 10;
/// Transcription models billed by duration rather than tokens.
const DURATION_BILLED: [&str; 2] = ["whisper-1", "gpt-realtime-whisper"];

/// Rounds `units × millis / 1000` up.
pub(super) fn per_second(units: u64, millis: u64) -> u64 {
    (units * millis).div_ceil(1000)
}

impl Realtime {
    /// `input_audio_buffer.append`: buffer the audio; server VAD may end a turn.
    pub(super) fn append(&mut self, message: &Value) -> Result<Step, Fault> {
        let encoded = message
            .get("audio")
            .and_then(Value::as_str)
            .ok_or_else(|| Fault::missing("audio"))?;
        let pcm = audio::decode(encoded)
            .ok_or_else(|| Fault::invalid("audio", "expected base64-encoded audio."))?;
        let format = self.input_format();
        let offset_ms = format.millis(self.appended);
        self.appended += pcm.len() as u64;
        self.buffered += pcm.len() as u64;
        let mut step = Step::default();
        let Some(turn) = self.turn_detection().filter(|_| format == Format::Pcm) else {
            return Ok(step);
        };
        for transition in self
            .vad
            .feed(&pcm, offset_ms, turn.threshold, turn.silence_ms)
        {
            let item_id = self.pending_item.get_or_insert_with(|| id("item")).clone();
            match transition {
                Transition::Started(at) => step.push(event(json!({
                    "type": "input_audio_buffer.speech_started", "audio_start_ms": at, "item_id": item_id,
                }))),
                Transition::Stopped(at) => {
                    step.push(event(json!({
                        "type": "input_audio_buffer.speech_stopped", "audio_end_ms": at, "item_id": item_id,
                    })));
                    // Audio after the end of speech stays in the buffer for the next turn.
                    let after = format.millis(self.appended).saturating_sub(at);
                    let kept = (after * format.bytes_per_second() / 1000).min(self.buffered);
                    self.buffered -= kept;
                    let committed = self.commit_into(&mut step);
                    self.buffered += kept;
                    if let Err(fault) = committed {
                        step.push(fault.to_event(None));
                    } else if turn.create_response && matches!(self.target, Target::Conversation(_)) {
                        self.respond(&mut step, &Value::Null);
                    }
                }
            }
        }
        Ok(step)
    }

    /// `input_audio_buffer.commit`.
    pub(super) fn commit(&mut self) -> Result<Step, Fault> {
        let mut step = Step::default();
        self.commit_into(&mut step)?;
        self.vad.reset();
        Ok(step)
    }

    /// `input_audio_buffer.clear`.
    pub(super) fn clear(&mut self) -> Step {
        self.buffered = 0;
        self.pending_item = None;
        self.vad.reset();
        Step::json(event(json!({"type": "input_audio_buffer.cleared"})))
    }

    /// Turns the buffer into a user item (and its transcript when transcription is on).
    fn commit_into(&mut self, step: &mut Step) -> Result<(), Fault> {
        let millis = self.input_format().millis(self.buffered);
        if millis < MIN_COMMIT_MS {
            return Err(Fault::new(
                "input_audio_buffer_commit_empty",
                format!(
                    "Error committing input audio buffer: buffer too small. Expected at least \
                     {MIN_COMMIT_MS}ms of audio, but buffer only has {millis}.00ms of audio."
                ),
                None,
            ));
        }
        self.buffered = 0;
        let item_id = self.pending_item.take().unwrap_or_else(|| id("item"));
        let previous = self.last_item.replace(item_id.clone());
        step.push(event(json!({
            "type": "input_audio_buffer.committed", "item_id": item_id, "previous_item_id": previous,
        })));
        let item = json!({
            "id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_audio", "transcript": null}],
        });
        for kind in ["conversation.item.added", "conversation.item.done"] {
            step.push(event(
                json!({"type": kind, "previous_item_id": previous, "item": item}),
            ));
        }
        self.context_audio_tokens += per_second(INPUT_AUDIO_TOKENS_PER_SECOND, millis);
        let count = ((millis as f64 / 1000.0) * HEARD_WORDS_PER_SECOND)
            .round()
            .max(1.0) as usize;
        self.heard_words = count;
        if let Some(model) = self.transcription_model() {
            self.transcribe(step, &item_id, &model, millis, count);
        }
        Ok(())
    }

    /// Transcript deltas and the `completed` event with usage for one committed item.
    fn transcribe(
        &mut self,
        step: &mut Step,
        item_id: &str,
        model: &str,
        millis: u64,
        count: usize,
    ) {
        let words: Vec<String> = (0..count)
            .map(|_| self.words.next_word().punctuated)
            .collect();
        let transcript = words.join(" ");
        for (index, word) in words.iter().enumerate() {
            let delta = if index == 0 {
                word.clone()
            } else {
                format!(" {word}")
            };
            step.push(event(json!({
                "type": "conversation.item.input_audio_transcription.delta",
                "item_id": item_id, "content_index": 0, "delta": delta,
            })));
        }
        let usage = if DURATION_BILLED.contains(&model) {
            json!({"type": "duration", "seconds": millis as f64 / 1000.0})
        } else {
            let audio_tokens = per_second(INPUT_AUDIO_TOKENS_PER_SECOND, millis);
            json!({
                "type": "tokens", "input_tokens": audio_tokens, "output_tokens": count,
                "total_tokens": audio_tokens + count as u64,
                "input_token_details": {"audio_tokens": audio_tokens, "text_tokens": 0},
            })
        };
        step.push(event(json!({
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": item_id, "content_index": 0, "transcript": transcript, "usage": usage,
        })));
    }

    /// `conversation.item.create`: add the item as given (text counts towards the context).
    pub(super) fn create_item(&mut self, message: &Value) -> Result<Step, Fault> {
        let mut item = message
            .get("item")
            .filter(|item| item.is_object())
            .cloned()
            .ok_or_else(|| Fault::missing("item"))?;
        let item_id = match item.get("id").and_then(Value::as_str) {
            Some(existing) => existing.to_owned(),
            None => id("item"),
        };
        item["id"] = json!(item_id);
        item["object"] = json!("realtime.item");
        item["status"] = json!("completed");
        let text_words: usize = item["content"]
            .as_array()
            .map(|parts| {
                parts
                    .iter()
                    .filter_map(|part| part.get("text").and_then(Value::as_str))
                    .map(|text| text.split_whitespace().count())
                    .sum()
            })
            .unwrap_or(0);
        self.context_text_tokens += text_words as u64;
        let previous = self.last_item.replace(item_id);
        let mut step = Step::default();
        for kind in ["conversation.item.added", "conversation.item.done"] {
            step.push(event(
                json!({"type": kind, "previous_item_id": previous, "item": item}),
            ));
        }
        Ok(step)
    }

    /// `response.create`.
    pub(super) fn create_response(&mut self, message: &Value) -> Result<Step, Fault> {
        if matches!(self.target, Target::Transcription) {
            return Err(Fault::invalid(
                "type",
                "transcription sessions do not create responses.",
            ));
        }
        let mut step = Step::default();
        self.respond(&mut step, message.get("response").unwrap_or(&Value::Null));
        Ok(step)
    }
}
