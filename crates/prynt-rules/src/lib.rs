//! Prynt's rules engine, as a pure library: values in, values out (no HTTP, SQL or I/O).
//!
//! - [`fields`]: the catalogue of event fields a rule may test.
//! - [`facts`]: the typed values of one event.
//! - [`condition`]: parsing and validating conditions and actions, and their canonical JSON.
//! - [`eval`]: compiled conditions, three-valued evaluation, rule sets and decisions.
//! - [`lists`]: list contents with expiry and CIDR ranges.
//! - [`backtest`]: a columnar table of stored events and rule replay over it.

pub mod analytics;
pub mod backtest;
mod columns;
pub mod condition;
mod dict;
pub mod eval;
pub mod facts;
pub mod fields;
pub mod lists;

pub use backtest::{backtest, BacktestOutcome, EventTable, Evidence, SampleRow};
pub use condition::{
    parse_action, parse_conditions, parse_side_effects, Action, Condition, GroupOp, ListCatalog,
    Operator, RuleError, SideEffect, Verdict,
};
pub use eval::{compile, Compiled, CompiledRule, Decision, ListLookup, RuleSet, Status, Tri};
pub use facts::{Facts, Value};
pub use fields::{FieldDef, FieldId, FieldType, ListType, FIELDS};
pub use lists::{normalise_entry, ListData, ListSet};
