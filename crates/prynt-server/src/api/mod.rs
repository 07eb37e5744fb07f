//! One module per API resource; shared concerns (auth, errors, JSON) live in `extract` and
//! `error`.

pub mod system;
pub mod workspace;
