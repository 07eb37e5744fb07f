//! One module per API resource; shared concerns (auth, errors, JSON) live in `extract` and
//! `error`.

pub mod events;
pub mod identify;
mod pagination;
pub mod system;
pub mod visitors;
pub mod workspace;
