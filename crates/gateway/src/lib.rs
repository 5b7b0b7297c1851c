//! The network edge of NexusScribe: bot ingest and viewer WebSockets, the REST API, the
//! per-meeting fan-out hub and the web pages. Speaks HTTP and HTTPS (rustls); knows no SQL and no
//! FFI (storage and the speech engine are reached through their traits and the scheduler).

pub mod access;
pub mod api;
pub mod app;
mod auth;
mod bodylimit;
mod bots;
pub mod config;
pub mod cors;
pub mod error;
pub mod follow;
mod headers;
pub mod health;
pub mod hub;
mod integrations;
pub mod invites;
pub mod jobs;
pub mod metrics;
pub mod outbound;
mod pages;
mod password;
pub mod ratelimit;
mod recordings;
pub mod redirect;
mod sharing;
mod signin;
pub mod tls;
mod transcript;
mod users;
pub mod ws;

#[cfg(test)]
mod api_tests;
#[cfg(test)]
mod testing;

pub use app::{router, serve, AppState, Parts};
pub use config::{GatewayConfig, WsLimits, DEFAULT_INVITE_TTL};
