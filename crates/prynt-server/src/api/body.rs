//! Reading management bodies field by field, for the resources whose fields need more than
//! serde can say (rule conditions): unknown fields, types and ranges, each error naming the
//! field.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A JSON object body, checked against the fields it may have.
pub struct Body(pub Map<String, Value>);

impl Body {
    pub fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Self, ApiError> {
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::validation(
                k.clone(),
                format!(
                    "Unknown field '{k}'. Allowed fields: {}.",
                    allowed.join(", ")
                ),
            ));
        }
        Ok(Body(map))
    }

    /// A present, non-null value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn require(&self, key: &str) -> Result<&Value, ApiError> {
        self.get(key)
            .ok_or_else(|| ApiError::validation(key, format!("'{key}' is required.")))
    }

    /// A string of 1 to `max` characters (trimmed).
    pub fn string(&self, key: &str, max: usize) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let s = v
            .as_str()
            .ok_or_else(|| ApiError::validation(key, format!("'{key}' must be a string.")))?
            .trim();
        if s.is_empty() || s.chars().count() > max {
            return Err(ApiError::validation(
                key,
                format!("'{key}' must be 1 to {max} characters long."),
            ));
        }
        Ok(Some(s.to_owned()))
    }

    /// An integer within `lo..=hi`.
    pub fn int(&self, key: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        // `5.0` is an integer to JSON Schema too.
        let whole = v.as_i64().or_else(|| {
            v.as_f64()
                .filter(|x| x.fract() == 0.0 && x.abs() < 1e15)
                .map(|x| x as i64)
        });
        match whole {
            Some(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::validation(
                key,
                format!("'{key}' must be an integer from {lo} to {hi}."),
            )),
        }
    }

    /// One of the given words.
    pub fn one_of(&self, key: &str, words: &[&str]) -> Result<Option<String>, ApiError> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        match v.as_str() {
            Some(s) if words.contains(&s) => Ok(Some(s.to_owned())),
            _ => Err(ApiError::validation(
                key,
                format!("'{key}' must be one of: {}.", words.join(", ")),
            )),
        }
    }
}
