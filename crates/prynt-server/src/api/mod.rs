//! One module per API resource; shared concerns (auth, errors, JSON) live in `extract` and
//! `error`.

pub mod analytics;
mod body;
#[cfg(test)]
mod cursor_fuzz;
pub mod events;
pub mod identify;
pub mod lists;
pub mod openapi;
mod pagination;
pub mod rules;
pub mod system;
pub mod visitors;
pub mod webhooks;
pub mod workspace;

/// A stored time (Unix ms) as the API writes times: RFC 3339 UTC, whole seconds.
pub(crate) fn ts(ms: i64) -> String {
    prynt_core::timefmt::rfc3339(ms.div_euclid(1000))
}

/// Checks a `<prefix>_` + 12 hex id from a path; a malformed one is a 400 naming `field`.
pub(crate) fn check_hex_id(
    id: &str,
    prefix: &str,
    field: &str,
) -> Result<(), crate::error::ApiError> {
    if prynt_core::ids::is_prefixed_hex_id(id, prefix) {
        Ok(())
    } else {
        Err(crate::error::ApiError::validation(
            field,
            format!("'{field}' must look like {prefix}_ followed by 12 hex digits, e.g. {prefix}_9a7f2c4e8b1d."),
        ))
    }
}
