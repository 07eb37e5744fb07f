//! Types several resources share: verdicts and the two page shapes (cursor pages of events,
//! offset pages of rules, lists, webhooks and deliveries).
//!
//! Response types accept fields they do not know (serde's default), and enums carry an
//! `Unknown` variant, so a newer server that adds a field or a value does not break an older
//! client.

use serde::{Deserialize, Serialize};

/// A rule decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Challenge,
    Block,
    /// A verdict this version of the client does not know.
    #[serde(other)]
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Challenge => "challenge",
            Verdict::Block => "block",
            Verdict::Unknown => "unknown",
        }
    }
}

/// A page of a cursor-paginated listing (events, a visitor's events), newest first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CursorPage<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    /// Pass as `cursor` for the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A page of an offset-paginated listing (rules, lists, webhooks, deliveries, list entries).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OffsetPage<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    /// Items in the whole listing.
    #[serde(default)]
    pub total: Option<u64>,
}

/// `limit` and `offset` of an offset listing; both left out by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_and_fields_do_not_break_decoding() {
        let v: Vec<Verdict> =
            serde_json::from_str(r#"["allow","challenge","block","quarantine"]"#).expect("json");
        assert_eq!(
            v,
            [
                Verdict::Allow,
                Verdict::Challenge,
                Verdict::Block,
                Verdict::Unknown
            ]
        );
        let p: OffsetPage<u32> =
            serde_json::from_str(r#"{"data":[1,2],"hasMore":false,"total":2,"newField":{"x":1}}"#)
                .expect("json");
        assert_eq!(p.data, [1, 2]);
        let p: CursorPage<u32> = serde_json::from_str(r#"{"data":[]}"#).expect("json");
        assert!(!p.has_more && p.next_cursor.is_none());
    }
}
