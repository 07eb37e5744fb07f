//! The API's size bounds: body limits and the largest collections one call may carry. A leaf
//! module, so that the handlers and middleware that enforce a bound, the extractors that
//! report it and the OpenAPI document that publishes it all read one constant without
//! depending on each other.

/// Body limit of every route but identify.
pub const BODY_LIMIT: usize = 1 << 20;
/// Body limit of `POST /v1/identify`.
pub const IDENTIFY_BODY_LIMIT: usize = 64 << 10;
/// List entries added and removed together in one call.
pub const MAX_BATCH: usize = 1_000;
/// Most allowed origins per environment.
pub const MAX_ORIGINS: usize = 100;
