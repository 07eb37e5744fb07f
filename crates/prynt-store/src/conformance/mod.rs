//! The backend conformance suite: the behaviour of a store the server relies on, checked the
//! same way for every backend. Compiled only with the `conformance` feature.
//!
//! A backend's test file instantiates it with a factory of fresh stores:
//!
//! ```ignore
//! prynt_store::conformance_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = SqliteStore::open(dir.path()).unwrap();
//!     (Arc::new(store) as Arc<dyn Store>, dir)
//! });
//! ```
//!
//! which expands to one `#[tokio::test]` per check (the crate needs `tokio` with the `macros`
//! and `rt-multi-thread` features). The factory is called once per check and must give a
//! fresh, migrated store that holds nothing but what a new store holds (the `default`
//! workspace and the token key); it returns the store, or the store and a guard (a temporary
//! directory, a database to drop) that lives until the check ends.
//!
//! Each check is a public function of [`checks`], `async fn(Arc<dyn Store>)`, that panics when
//! the store misbehaves, so a backend can also call one directly.

mod accounts;
mod delivery;
mod erasure;
mod events;
mod feed;
mod idempotency;
mod isolation;
mod policy;
mod support;

use std::any::Any;
use std::sync::Arc;

use crate::Store;

/// Every check of the suite, by name.
pub mod checks {
    pub use super::accounts::*;
    pub use super::delivery::*;
    pub use super::erasure::*;
    pub use super::events::*;
    pub use super::feed::*;
    pub use super::idempotency::*;
    pub use super::isolation::*;
    pub use super::policy::*;
}

/// A store under test and whatever must outlive it.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    _guard: Box<dyn Any + Send>,
}

impl From<Arc<dyn Store>> for Fixture {
    fn from(store: Arc<dyn Store>) -> Self {
        Fixture {
            store,
            _guard: Box::new(()),
        }
    }
}

impl<G: Send + 'static> From<(Arc<dyn Store>, G)> for Fixture {
    fn from((store, guard): (Arc<dyn Store>, G)) -> Self {
        Fixture {
            store,
            _guard: Box::new(guard),
        }
    }
}

impl Fixture {
    /// Closes the store (a check may have closed it already) before its guard goes.
    pub async fn finish(self) {
        let _ = self.store.close().await;
    }
}

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh store from
/// `$factory` (called as `($factory)().await`, giving `Arc<dyn Store>` or
/// `(Arc<dyn Store>, guard)`). See [`conformance`](crate::conformance).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_each!(
            $factory;
            a_new_store_has_a_default_workspace_and_a_stable_token_key,
            the_token_key_is_replaced_only_from_its_current_value,
            workspace_is_found_by_name_and_listed,
            workspace_names_are_unique,
            workspace_plan_update_sets_and_clears_custom_limits,
            key_authenticates_by_hash_with_its_workspace,
            initial_keys_are_created_exactly_once,
            revoked_key_is_refused_and_listed_as_revoked,
            keys_are_listed_per_workspace_oldest_first,
            env_settings_roundtrip_per_environment,
            ping_answers_and_close_refuses_later_writes,
            recorded_event_reads_back_with_first_seen_at,
            event_past_retention_is_invisible,
            events_come_newest_first_with_one_more_than_the_limit,
            events_page_on_from_a_cursor,
            events_filter_by_visitor_verdict_bot_type_and_country,
            events_filter_by_time_range,
            duplicate_request_id_is_refused,
            visitor_id_of_another_scope_is_refused,
            visitor_summary_counts_visits_devices_addresses_links_and_lists,
            delete_visitor_erases_events_links_and_list_entries,
            delete_visitor_erases_its_webhook_payloads_and_kept_answers,
            purge_events_before_deletes_old_events_of_every_workspace,
            profiles_page_walks_every_scope_by_visitor_id,
            events_ascending_pages_oldest_first_from_a_time,
            linked_uses_ascending_reads_only_linked_events,
            identification_applies_list_effects_and_rule_matches,
            rule_is_created_with_its_first_version_and_next_priority,
            rules_are_listed_by_priority_with_status_filter_and_total,
            rule_update_writes_a_new_version,
            rule_update_of_an_unknown_rule_is_not_found,
            rule_delete_hides_the_rule_and_its_versions,
            rule_with_a_taken_id_is_a_duplicate,
            list_names_are_unique_per_scope,
            lists_are_filtered_by_type_with_total,
            list_entries_are_added_and_removed_with_counts,
            expired_list_entries_do_not_count,
            list_entries_search_is_literal_and_ignores_ascii_case,
            deleting_a_list_removes_its_entries,
            changing_entries_of_an_unknown_list_is_not_found,
            all_list_entries_gives_each_list_its_live_entries,
            webhook_is_created_read_updated_and_deleted,
            webhooks_without_a_scope_lists_every_scope,
            fan_out_makes_one_delivery_per_subscribed_webhook,
            identification_payload_is_the_stored_event,
            claimed_deliveries_are_leased_until_the_lease_expires,
            concurrent_claims_never_share_a_delivery,
            deliveries_of_a_paused_webhook_are_not_claimed,
            attempts_move_deliveries_and_are_listed_newest_first,
            redeliver_makes_a_finished_delivery_due_again,
            released_leases_are_claimable_at_once,
            deleting_a_webhook_cancels_its_pending_deliveries,
            list_change_queues_its_outbox_row,
            idempotency_claim_then_replay,
            idempotency_in_flight_then_stale_takeover,
            idempotency_key_reused_for_another_request_is_a_mismatch,
            idempotency_settle_without_response_releases_the_key,
            idempotency_keys_expire_and_are_purged_per_owner,
            scope_isolation_of_events_and_visitors,
            scope_isolation_of_rules,
            scope_isolation_of_lists,
            scope_isolation_of_webhooks_and_deliveries,
            scope_isolation_of_settings_and_list_effects,
            feed_gives_changes_in_order_and_resumes_after_a_cursor,
            feed_marks_each_change_with_its_resource_and_scope,
            feed_wakes_a_waiting_reader_after_a_write,
            concurrent_writers_never_make_a_reader_skip_a_change,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_each {
    ($factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let fixture = $crate::conformance::Fixture::from(($factory)().await);
                $crate::conformance::checks::$check(::std::sync::Arc::clone(&fixture.store))
                    .await;
                fixture.finish().await;
            }
        )*
    };
}
