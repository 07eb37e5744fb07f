//! Request extractors shared by every resource: the JSON body with precise validation errors
//! (duplicate object keys included), and API-key authentication scoped to a workspace and
//! environment.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use prynt_core::keys::{self, KeyType};
use prynt_core::Scope;
use prynt_store::Workspace;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::middleware::RateSlot;
use crate::state::AppState;

/// A JSON body whose errors name the offending field (`conditions.rules[1].value`).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !reads_as_json(req.headers()) {
            return Err(not_json());
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON object body that may be left out entirely (then it is `{}`).
pub struct OptionalObject(pub serde_json::Map<String, serde_json::Value>);

impl<S: Send + Sync> FromRequest<S> for OptionalObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let as_json = reads_as_json(req.headers());
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalObject(serde_json::Map::new()));
        }
        if !as_json {
            return Err(not_json());
        }
        parse_json(&bytes).map(OptionalObject)
    }
}

/// Query parameters whose errors name the parameter; unknown parameters are refused.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let field = match inner.strip_prefix("unknown field `") {
                    Some(rest) => rest.split('`').next().unwrap_or("query").to_owned(),
                    None if path == "." => "query".to_owned(),
                    None => path,
                };
                ApiError::validation(
                    field.clone(),
                    format!("Invalid query parameter '{field}': {inner}."),
                )
            })
    }
}

/// Buffers the body within the route's limit; an oversized body is a 413, never a 500.
pub async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge(crate::bounds::BODY_LIMIT)
        } else {
            ApiError::validation("body", format!("The body could not be read: {rej}"))
        }
    })
}

/// Parses JSON and reports the exact path of the first problem.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::validation(
            "body",
            "The request body is empty; a JSON object is expected.",
        ));
    }
    // serde would accept an array for a struct (as a tuple); every body of the API is an object.
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => {
            return Err(ApiError::validation(
                "body",
                "The request body is empty; a JSON object is expected.",
            ))
        }
        Some(_) => {
            return Err(ApiError::validation(
                "body",
                "The body must be a JSON object.",
            ))
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| {
                ApiError::validation("body", format!("Trailing data after the JSON value: {e}."))
            })?;
            v
        }
        // JSON has one number type: `5.0` is an integer to JSON Schema (and so to the OpenAPI
        // document), so an integer field takes it. serde does not, so a body refused for a
        // type is read again with whole floats turned into integers; this slow path only runs
        // for bodies that would otherwise be a 400.
        Err(e) if e.inner().is_data() => match with_whole_integers(bytes) {
            Some(v) => v,
            None => return Err(describe_json_error(e)),
        },
        Err(e) => return Err(describe_json_error(e)),
    };
    // Only a body that parsed is checked, so syntax and type errors keep their precise paths.
    unique_keys::check(bytes)?;
    Ok(value)
}

/// The refusal of a body that names one key twice in an object. JSON leaves duplicate names to
/// each reader (RFC 8259 §4), and serde_json keeps the last; a body that says two things is
/// refused instead, so that no proxy, signature check or log that read the first value sees
/// another request than the server acted on.
///
/// A second pass over the bytes that builds nothing: keys are borrowed from the body (only a
/// key with escapes is copied) onto one stack shared by every object, each object compares a
/// new key with its own keys on that stack until it holds [`FEW`] of them and uses a hash set
/// after that, and the path of a duplicate is put together only while its error unwinds.
mod unique_keys {
    use std::borrow::Cow;
    use std::collections::HashSet;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde::Deserialize;

    use crate::error::ApiError;

    /// Keys an object holds before a linear scan gives way to a hash set (SipHash, which an
    /// attacker choosing the keys cannot flood).
    const FEW: usize = 16;

    /// One step of the path to a duplicate, innermost first while it is being built.
    enum Segment {
        Key(String),
        Index(usize),
    }

    pub fn check(bytes: &[u8]) -> Result<(), ApiError> {
        let mut found = None;
        let mut keys = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let seed = Check {
            found: &mut found,
            keys: &mut keys,
        };
        match seed.deserialize(&mut de) {
            Ok(()) => Ok(()),
            Err(e) => Err(match found {
                Some(path) => duplicate(path),
                // The body already parsed once, so this is not expected; it is still a 400.
                None => ApiError::validation("body", format!("The body is not valid JSON: {e}.")),
            }),
        }
    }

    fn duplicate(innermost_first: Vec<Segment>) -> ApiError {
        // Written as serde_path_to_error writes paths (`conditions.rules[1].value`), like every
        // other validation error of a body.
        let mut field = String::new();
        for segment in innermost_first.iter().rev() {
            match segment {
                Segment::Key(k) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(k);
                }
                Segment::Index(i) => field.push_str(&format!("[{i}]")),
            }
        }
        let message = format!("Duplicate key '{field}': a key may appear only once in an object.");
        ApiError::validation(field, message)
    }

    /// Visits one value; records the path of the first duplicate key in `found`.
    struct Check<'a, 'de> {
        found: &'a mut Option<Vec<Segment>>,
        /// The keys of the objects being visited, outermost first.
        keys: &'a mut Vec<Cow<'de, str>>,
    }

    impl<'de> Check<'_, 'de> {
        fn child(&mut self) -> Check<'_, 'de> {
            Check {
                found: &mut *self.found,
                keys: &mut *self.keys,
            }
        }

        /// Adds the step to a failing child to the path, if the failure is a duplicate.
        fn through<E>(&mut self, segment: impl FnOnce() -> Segment, e: E) -> E {
            if let Some(path) = self.found.as_mut() {
                path.push(segment());
            }
            e
        }

        fn visit_object<A: MapAccess<'de>>(
            &mut self,
            map: &mut A,
            from: usize,
        ) -> Result<(), A::Error> {
            let mut many: Option<HashSet<Cow<'de, str>>> = None;
            while let Some(Key(key)) = map.next_key()? {
                let seen = match &many {
                    Some(set) => set.contains(&key),
                    None => self.keys[from..].contains(&key),
                };
                if seen {
                    *self.found = Some(vec![Segment::Key(key.into_owned())]);
                    return Err(de::Error::custom("duplicate key"));
                }
                if let Err(e) = map.next_value_seed(self.child()) {
                    return Err(self.through(|| Segment::Key(key.into_owned()), e));
                }
                match &mut many {
                    Some(set) => {
                        set.insert(key);
                    }
                    None if self.keys.len() - from < FEW => self.keys.push(key),
                    None => {
                        let mut set: HashSet<Cow<'de, str>> = self.keys.drain(from..).collect();
                        set.insert(key);
                        many = Some(set);
                    }
                }
            }
            Ok(())
        }
    }

    impl<'de> DeserializeSeed<'de> for Check<'_, 'de> {
        type Value = ();

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Check<'_, 'de> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
            let mut index = 0;
            loop {
                match seq.next_element_seed(self.child()) {
                    Ok(Some(())) => index += 1,
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(self.through(|| Segment::Index(index), e)),
                }
            }
        }

        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
            // This object's keys go on top of its parents'; they are dropped when it ends.
            let from = self.keys.len();
            let result = self.visit_object(&mut map, from);
            self.keys.truncate(from);
            result
        }
    }

    /// An object key, borrowed from the body unless it holds escapes.
    struct Key<'de>(Cow<'de, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_str(KeyVisitor)
        }
    }

    struct KeyVisitor;

    impl<'de> Visitor<'de> for KeyVisitor {
        type Value = Key<'de>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object key")
        }
        fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
            Ok(Key(Cow::Borrowed(s)))
        }
        fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
            Ok(Key(Cow::Owned(s.to_owned())))
        }
        fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
            Ok(Key(Cow::Owned(s)))
        }
    }
}

fn with_whole_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut loose = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    whole_floats_to_integers(&mut loose);
    serde_path_to_error::deserialize(loose).ok()
}

fn describe_json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let field = if path == "." || inner.is_syntax() || inner.is_eof() {
        "body".to_owned()
    } else {
        path
    };
    let message = if inner.is_syntax() || inner.is_eof() {
        format!("The body is not valid JSON: {inner}.")
    } else {
        format!("Invalid value for '{field}': {inner}.")
    };
    ApiError::validation(field, message)
}

/// Turns every float without a fractional part (within the range where floats are exact) into
/// an integer, recursively.
pub fn whole_floats_to_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(x) = n.as_f64() {
                const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
                if x.fract() == 0.0 && x.abs() <= EXACT {
                    *v = Value::from(x as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(whole_floats_to_integers),
        _ => {}
    }
}

/// The media type of the body, lowercased and without parameters; `None` when not declared.
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        ct.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Whether a body sent with these headers is read as JSON: when it says so, and also when it
/// declares no type or curl's default form type, because `curl -d '{...}'` (the reference's own
/// examples) sends exactly that. Any other declared type is refused rather than guessed at.
pub fn reads_as_json(headers: &HeaderMap) -> bool {
    media_type(headers).is_none_or(|m| {
        m == "application/json"
            || m == "application/x-www-form-urlencoded"
            || (m.starts_with("application/") && m.ends_with("+json"))
    })
}

fn not_json() -> ApiError {
    ApiError::UnsupportedMediaType(
        "The body must be JSON: send it with 'Content-Type: application/json' (or without a \
         content type)."
            .into(),
    )
}

/// Who is calling: the key, its workspace and the environment every lookup is confined to.
#[derive(Debug, Clone)]
pub struct AuthContext {
    /// The key's id: rate limits are per key.
    pub key_id: String,
    pub key_type: KeyType,
    pub scope: Scope,
    pub workspace: Workspace,
}

/// Resolves the bearer key of a request to its workspace and environment.
pub async fn authenticate(headers: &HeaderMap, state: &AppState) -> Result<AuthContext, ApiError> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingApiKey)?
        .to_str()
        .map_err(|_| ApiError::InvalidApiKey)?
        .trim();
    let (scheme, key) = raw.split_once(' ').unwrap_or((raw, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::InvalidApiKey);
    }
    let key = key.trim();
    if key.is_empty() {
        return Err(ApiError::MissingApiKey);
    }
    authenticate_key(key, state).await
}

/// Resolves a presented key string (header or body) to its context.
pub async fn authenticate_key(key: &str, state: &AppState) -> Result<AuthContext, ApiError> {
    let shape = keys::parse_key(key).map_err(|_| ApiError::InvalidApiKey)?;
    let digest = keys::hash_key(key);
    let found = state
        .cache
        .key(digest, || state.store.authenticate(digest))
        .await?
        .ok_or(ApiError::InvalidApiKey)?;
    // The index lookup found the row; the final check is constant-time and also confirms that
    // the prefix the caller sent agrees with what the key was issued as.
    if !keys::digests_equal(&found.key_hash, &digest)
        || found.key.env != shape.env
        || found.key.key_type != shape.key_type
    {
        return Err(ApiError::InvalidApiKey);
    }
    Ok(AuthContext {
        key_id: found.key.id.clone(),
        key_type: found.key.key_type,
        scope: Scope {
            workspace_id: found.workspace.id.clone(),
            env: found.key.env,
        },
        workspace: found.workspace,
    })
}

/// A secret key: the only kind allowed outside identify.
pub struct SecretKey(pub AuthContext);

impl FromRequestParts<AppState> for SecretKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = match authenticate(&parts.headers, state).await {
            Ok(ctx) => ctx,
            Err(e) => {
                let client = parts
                    .extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|peer| {
                        crate::client_ip::resolve(
                            peer.0.ip(),
                            &parts.headers,
                            &state.trusted_proxies,
                        )
                    });
                return Err(failed_auth(
                    state,
                    client,
                    parts.extensions.get::<RateSlot>(),
                    e,
                ));
            }
        };
        if ctx.key_type != KeyType::Secret {
            return Err(ApiError::InsufficientPermissions(
                "Public keys may only call POST /v1/identify; use a secret key.".into(),
            ));
        }
        if let Some(class) = crate::limits::Class::of_path(parts.uri.path()) {
            let slot = parts.extensions.get::<RateSlot>();
            spend(state, slot, &ctx.key_id, class, &ctx).await?;
        }
        Ok(SecretKey(ctx))
    }
}

/// A failed authentication, counted against the client's address (`crate::auth_failures`):
/// past the address's budget of failures, a key that fails is refused with a 429 naming that
/// budget instead of a 401. Only a key that was presented and failed counts.
pub fn failed_auth(
    state: &AppState,
    client: Option<std::net::IpAddr>,
    slot: Option<&RateSlot>,
    error: ApiError,
) -> ApiError {
    let (ApiError::InvalidApiKey, Some(ip)) = (&error, client) else {
        return error;
    };
    match state.auth_failures.failed(ip) {
        Ok(()) => error,
        Err((wait, status)) => {
            if let Some(slot) = slot {
                slot.set(status);
            }
            ApiError::AuthFailuresLimited {
                retry_after_s: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        }
    }
}

/// Spends one request of a rate budget, records the budget's state for the response headers,
/// and refuses with a 429 when it is spent (or a 503 when the shared budgets cannot be read and
/// the failure mode is closed).
pub async fn spend(
    state: &AppState,
    slot: Option<&RateSlot>,
    owner: &str,
    class: crate::limits::Class,
    ctx: &AuthContext,
) -> Result<(), ApiError> {
    use crate::limits::Refusal;
    let outcome = state
        .limits
        .check(owner, class, ctx.workspace.limits())
        .await;
    let status = match &outcome {
        Ok(s) => Some(*s),
        Err(Refusal::Spent(r)) => Some(r.status),
        Err(Refusal::Unavailable { .. }) => None,
    };
    if let (Some(slot), Some(status)) = (slot, status) {
        slot.set(status);
    }
    let seconds = |d: std::time::Duration| d.as_secs_f64().ceil().max(1.0) as u64;
    match outcome {
        Ok(_) => Ok(()),
        Err(Refusal::Spent(r)) => Err(ApiError::RateLimited {
            retry_after_s: seconds(r.retry_after),
        }),
        Err(Refusal::Unavailable { retry_after }) => Err(ApiError::LimitsUnavailable {
            retry_after_s: seconds(retry_after),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate_at(body: &str) -> Option<String> {
        match parse_json::<serde_json::Value>(body.as_bytes()) {
            Ok(_) => None,
            Err(ApiError::Validation { field, message }) => {
                assert!(message.starts_with("Duplicate key"), "{body}: {message}");
                field
            }
            Err(e) => panic!("{body}: {e}"),
        }
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        assert_eq!(duplicate_at(r#"{"a": 1, "a": 1}"#).as_deref(), Some("a"));
        assert_eq!(
            duplicate_at(r#"{"a": {"b": [1, {"c": 1}, {"c": 1, "d": {}, "c": 2}]}}"#).as_deref(),
            Some("a.b[2].c")
        );
        // The same name spelt with an escape is the same key.
        assert_eq!(
            duplicate_at(r#"{"x": [[{"k": 1, "\u006b": 2}]]}"#).as_deref(),
            Some("x[0][0].k")
        );
        // Past the short list of keys, the hash set finds them too.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let body = format!("{{{}, \"k3\": 0}}", many.join(", "));
        assert_eq!(duplicate_at(&body).as_deref(), Some("k3"));
        let body = format!("{{{}, \"k39\": 0}}", many.join(", "));
        assert_eq!(duplicate_at(&body).as_deref(), Some("k39"));
    }

    #[test]
    fn the_same_key_in_different_objects_is_no_duplicate() {
        let many: Vec<String> = (0..40)
            .map(|i| format!("\"k{i}\": {{\"k{i}\": [{{\"k{i}\": 1}}]}}"))
            .collect();
        for body in [
            r#"{"a": {"a": {"a": 1}}, "b": [{"a": 1}, {"a": 2}]}"#.to_owned(),
            r#"{"a": "a", "A": 1, "a ": 2}"#.to_owned(),
            format!("{{{}}}", many.join(", ")),
        ] {
            assert_eq!(duplicate_at(&body), None, "{body}");
        }
    }
}
