//! One module per API resource; shared concerns (auth, errors, JSON) live in `extract` and
//! `error`.

pub mod analytics;
mod body;
pub mod events;
pub mod identify;
pub mod lists;
mod pagination;
pub mod rules;
pub mod system;
pub mod visitors;
pub mod webhooks;
pub mod workspace;
