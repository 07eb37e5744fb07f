//! Shared vocabulary of Prynt: identifiers, API keys, environments, plans and timestamps.
//!
//! Everything here is plain data and pure functions so that every other crate (engines, store,
//! server, clients) can agree on the same types without depending on each other.

pub mod agent;
pub mod ids;
pub mod keys;
pub mod plan;
pub mod scope;
pub mod shape;
pub mod timefmt;

pub use keys::{Environment, KeyType};
pub use plan::{Plan, PlanLimits};
pub use scope::{EnvSettings, Scope};
