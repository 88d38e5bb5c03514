//! Model responses of a simulated Realtime session: one reply item with transcript and audio deltas, then usage.

use serde_json::{Value, json};

use super::events::{event, id};
use super::realtime::Realtime;
use super::turns::per_second;
use crate::simulate::session::Step;

/// Length of the model's speech per word of its reply.
const MILLIS_PER_WORD: u64 = 400;
/// Fewest and most words in a reply.
const REPLY_WORDS: (usize, usize) = (3, 20);
/// Output audio tokens per second (one per 50 ms of model audio).
const OUTPUT_AUDIO_TOKENS_PER_SECOND: u64 = 20;

impl Realtime {
    /// One complete response: item, content part, transcript and audio deltas, and `response.done` with usage.
    pub(super) fn respond(&mut self, step: &mut Step, params: &Value) {
        let modalities = params
            .get("output_modalities")
            .or_else(|| self.session.get("output_modalities"))
            .cloned()
            .unwrap_or_else(|| json!(["audio"]));
        let audio = modalities
            .as_array()
            .is_none_or(|list| list.iter().any(|m| m == "audio"));
        let format = self.output_format();
        let response_id = id("resp");
        let item_id = id("item");
        let count = self.heard_words.clamp(REPLY_WORDS.0, REPLY_WORDS.1);
        let words: Vec<String> = (0..count)
            .map(|_| self.words.next_word().punctuated)
            .collect();
        let text = words.join(" ");
        let millis = if audio {
            count as u64 * MILLIS_PER_WORD
        } else {
            0
        };
        let mut response = json!({
            "object": "realtime.response", "id": response_id, "status": "in_progress",
            "status_details": null, "output": [], "conversation_id": self.conversation_id,
            "output_modalities": modalities, "max_output_tokens": "inf", "metadata": null, "usage": null,
            "audio": {"output": {"format": self.session["audio"]["output"]["format"],
                                 "voice": self.session["audio"]["output"]["voice"]}},
        });
        step.push(event(
            json!({"type": "response.created", "response": response}),
        ));
        let pending = json!({"id": item_id, "object": "realtime.item", "type": "message",
                             "status": "in_progress", "role": "assistant", "content": []});
        let previous = self.last_item.replace(item_id.clone());
        let at = json!({"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0});
        let with = |mut base: Value, extra: Value| {
            if let (Some(target), Some(fields)) = (base.as_object_mut(), extra.as_object()) {
                target.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            event(base)
        };
        step.push(event(json!({"type": "conversation.item.added", "previous_item_id": previous, "item": pending})));
        step.push(event(
            json!({"type": "response.output_item.added", "response_id": response_id,
                               "output_index": 0, "item": pending}),
        ));
        let (part_type, content_type, text_event) = if audio {
            ("audio", "output_audio", "response.output_audio_transcript")
        } else {
            ("text", "output_text", "response.output_text")
        };
        let text_key = if audio { "transcript" } else { "text" };
        step.push(with(
            at.clone(),
            json!({"type": "response.content_part.added",
                                          "part": {"type": part_type, text_key: ""}}),
        ));
        for (index, word) in words.iter().enumerate() {
            let delta = if index == 0 {
                word.clone()
            } else {
                format!(" {word}")
            };
            step.push(with(
                at.clone(),
                json!({"type": format!("{text_event}.delta"), "delta": delta}),
            ));
        }
        if audio {
            for delta in format.silent_deltas(millis) {
                step.push(with(
                    at.clone(),
                    json!({"type": "response.output_audio.delta", "delta": delta}),
                ));
            }
            step.push(with(
                at.clone(),
                json!({"type": "response.output_audio.done"}),
            ));
        }
        step.push(with(
            at.clone(),
            json!({"type": format!("{text_event}.done"), text_key: text}),
        ));
        step.push(with(
            at.clone(),
            json!({"type": "response.content_part.done",
                                          "part": {"type": part_type, text_key: text}}),
        ));
        let done = json!({"id": item_id, "object": "realtime.item", "type": "message", "status": "completed",
                          "role": "assistant", "content": [{"type": content_type, text_key: text}]});
        step.push(event(
            json!({"type": "conversation.item.done", "previous_item_id": previous, "item": done}),
        ));
        step.push(event(
            json!({"type": "response.output_item.done", "response_id": response_id,
                               "output_index": 0, "item": done}),
        ));
        response["status"] = json!("completed");
        response["output"] = json!([done]);
        response["usage"] = self.usage(
            per_second(OUTPUT_AUDIO_TOKENS_PER_SECOND, millis),
            count as u64,
        );
        step.push(event(
            json!({"type": "response.done", "response": response}),
        ));
    }

    /// Usage of one response: the whole conversation is input, the reply is output; then the reply joins the context.
    fn usage(&mut self, output_audio: u64, output_text: u64) -> Value {
        let instructions = self.session["instructions"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .count() as u64;
        let input_text = instructions + self.context_text_tokens;
        let input_audio = self.context_audio_tokens;
        let input = input_text + input_audio;
        let output = output_audio + output_text;
        self.context_audio_tokens += output_audio;
        self.context_text_tokens += output_text;
        json!({
            "total_tokens": input + output, "input_tokens": input, "output_tokens": output,
            "input_token_details": {
                "text_tokens": input_text, "audio_tokens": input_audio, "image_tokens": 0, "cached_tokens": 0,
                "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
            },
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
        })
    }
}
