//! Prynt's signal engines: pure functions from the agent's raw measurements (and, later, the
//! client IP) to device data, Smart Signals and scores. No HTTP or SQL in here.

pub mod device;
pub mod gpu;
