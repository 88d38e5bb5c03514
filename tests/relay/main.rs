//! voxrelay integration tests: the real app on real sockets (127.0.0.1, port 0).

#![allow(unreachable_pub)] // a test binary has no public API
#![allow(clippy::result_large_err)] // tungstenite's handshake callback returns its ErrorResponse

mod access;
mod assemblyai;
mod assemblyai_refusals;
mod auth;
mod cartesia;
mod cartesia_stt;
mod cartesia_support;
mod churn;
mod clients;
mod cluster;
mod deploy;
mod docs;
mod drain_process;
mod elevenlabs;
mod elevenlabs_support;
mod elevenlabs_upstream;
mod elevenlabs_usage;
mod front;
mod front_process;
mod generic;
mod grant;
mod grant_scope;
mod helpers;
mod memory;
mod openai;
mod openai_beta;
mod openai_limits;
mod openai_rules;
mod openai_secrets;
mod openai_support;
mod openai_usage;
mod origins;
mod process;
mod query_params;
mod redis;
mod rejections;
mod relaying;
mod reload;
mod resilience;
mod rest;
mod rest_clients;
mod rest_memory;
mod rest_support;
mod rewriting;
mod seed_client;
mod shutdown;
mod telemetry;
mod tls;
mod tls_server;
mod upstream_refusals;
