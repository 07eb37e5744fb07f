//! Checks of `Idempotency-Key` claims.

use std::sync::Arc;

use super::support::T0;
use crate::{IdempotencyClaim, Store, StoredResponse};

const OWNER: [u8; 32] = [1; 32];
const REQUEST: [u8; 32] = [2; 32];
const TTL: i64 = 86_400_000;
const STALE: i64 = 60_000;

fn answer() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"id":"rul_1"}"#.to_vec(),
    }
}

async fn claim(
    store: &dyn Store,
    owner: [u8; 32],
    key: &str,
    request: [u8; 32],
    now: i64,
) -> IdempotencyClaim {
    store
        .claim_idempotency_key(owner, key, request, now, TTL, STALE)
        .await
        .unwrap()
}

pub async fn idempotency_claim_then_replay(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0).await,
        IdempotencyClaim::Claimed
    );
    store
        .settle_idempotency_key(OWNER, "k1", Some(answer()))
        .await
        .unwrap();
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + 1_000).await,
        IdempotencyClaim::Replay(answer())
    );
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + STALE * 10).await,
        IdempotencyClaim::Replay(answer()),
        "an answered key is replayed until it expires, however old"
    );
}

pub async fn idempotency_in_flight_then_stale_takeover(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0).await,
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + 1).await,
        IdempotencyClaim::InFlight
    );
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + STALE - 1).await,
        IdempotencyClaim::InFlight
    );
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + STALE).await,
        IdempotencyClaim::Claimed,
        "an abandoned claim is taken over"
    );
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0 + STALE + 1).await,
        IdempotencyClaim::InFlight,
        "the takeover is a fresh claim"
    );
    // Two retries racing for one key: one of them runs.
    let (a, b) = tokio::join!(
        claim(s, OWNER, "k2", REQUEST, T0),
        claim(s, OWNER, "k2", REQUEST, T0)
    );
    let mut got = [a, b];
    got.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(got, [IdempotencyClaim::Claimed, IdempotencyClaim::InFlight]);
}

pub async fn idempotency_key_reused_for_another_request_is_a_mismatch(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0).await,
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        claim(s, OWNER, "k1", [3; 32], T0 + 1).await,
        IdempotencyClaim::Mismatch
    );
    store
        .settle_idempotency_key(OWNER, "k1", Some(answer()))
        .await
        .unwrap();
    assert_eq!(
        claim(s, OWNER, "k1", [3; 32], T0 + 2).await,
        IdempotencyClaim::Mismatch
    );
    assert_eq!(
        claim(s, [9; 32], "k1", [3; 32], T0 + 2).await,
        IdempotencyClaim::Claimed,
        "keys are per owner"
    );
}

pub async fn idempotency_settle_without_response_releases_the_key(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        claim(s, OWNER, "k1", REQUEST, T0).await,
        IdempotencyClaim::Claimed
    );
    store
        .settle_idempotency_key(OWNER, "k1", None)
        .await
        .unwrap();
    assert_eq!(
        claim(s, OWNER, "k1", [3; 32], T0 + 1).await,
        IdempotencyClaim::Claimed,
        "a failed request leaves nothing behind"
    );
    store
        .settle_idempotency_key(OWNER, "k1", Some(answer()))
        .await
        .unwrap();
    store
        .settle_idempotency_key(OWNER, "k1", None)
        .await
        .unwrap();
    assert_eq!(
        claim(s, OWNER, "k1", [3; 32], T0 + 2).await,
        IdempotencyClaim::Replay(answer()),
        "releasing never drops a kept answer"
    );
}

pub async fn idempotency_keys_expire_and_are_purged_per_owner(store: Arc<dyn Store>) {
    let s = store.as_ref();
    assert_eq!(
        claim(s, OWNER, "old", REQUEST, T0).await,
        IdempotencyClaim::Claimed
    );
    store
        .settle_idempotency_key(OWNER, "old", Some(answer()))
        .await
        .unwrap();
    assert_eq!(
        claim(s, OWNER, "old", [3; 32], T0 + TTL).await,
        IdempotencyClaim::Claimed,
        "an expired key is new again"
    );
    assert_eq!(
        claim(s, OWNER, "a", REQUEST, T0 + 10).await,
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        claim(s, OWNER, "b", REQUEST, T0 + 20).await,
        IdempotencyClaim::Claimed
    );
    assert_eq!(
        store.purge_idempotency_keys_before(T0 + 15).await.unwrap(),
        1
    );
    assert_eq!(
        claim(s, OWNER, "a", [3; 32], T0 + 30).await,
        IdempotencyClaim::Claimed,
        "a purged key is forgotten"
    );
    assert_eq!(
        claim(s, OWNER, "b", [3; 32], T0 + 30).await,
        IdempotencyClaim::Mismatch
    );
}
