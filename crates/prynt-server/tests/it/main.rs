//! End-to-end tests: each starts the real `prynt` binary on a loopback port with its own data
//! dir and talks HTTP to it.

mod analytics;
mod auth_isolation;
mod client;
mod contract;
mod dashboard;
mod demo;
mod erasure;
mod examples;
mod foundation;
mod harness;
mod idempotency;
mod identification;
mod input_hardening;
mod ipdata;
mod lifecycle;
mod limits;
mod listings;
mod multinode;
mod multinode_faults;
mod multinode_velocity;
mod receiver;
mod rules;
mod scores;
mod secrets_at_rest;
mod shared_limits;
mod slow_clients;
mod webhooks;
