//! Checks of the change feed: order, resuming after a cursor, markers with their scope, the
//! writer's tag, wake-ups, and that concurrent writers never make a reader skip a change.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use prynt_core::{Environment, KeyType, Plan};

use super::support::{identification, live, new_key, new_list, new_rule, record, workspace, T0};
use crate::{Change, ChangeCursor, ChangeItem, ChangedResource, EntryChange, Store};

/// How long a committed change may take to become readable: on a store with concurrent
/// writers it waits for every transaction that began before it to end (other checks running on
/// the same database server included).
const READABLE_WITHIN: Duration = Duration::from_secs(10);

/// The items after `after`, page by page of `page`, once at least `n` have been read and the
/// feed is caught up.
async fn read_n(store: &dyn Store, after: ChangeCursor, page: usize, n: usize) -> Vec<ChangeItem> {
    let deadline = std::time::Instant::now() + READABLE_WITHIN;
    let mut cursor = after;
    let mut items = Vec::new();
    loop {
        let got = store
            .changes_after(cursor, page)
            .await
            .expect("changes_after");
        assert!(got.cursor >= cursor, "the cursor never moves back");
        cursor = got.cursor;
        items.extend(got.items);
        if got.caught_up {
            if items.len() >= n {
                return items;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {n} changes became readable: {items:?}",
                items.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn identified_ids(items: &[ChangeItem]) -> Vec<String> {
    items
        .iter()
        .filter_map(|i| match &i.change {
            Change::Identified { event, .. } => Some(event.request_id.clone()),
            _ => None,
        })
        .collect()
}

fn markers(items: &[ChangeItem]) -> Vec<(ChangedResource, String, Option<Environment>)> {
    items
        .iter()
        .filter_map(|i| match &i.change {
            Change::Marker {
                resource,
                workspace_id,
                env,
            } => Some((*resource, workspace_id.clone(), *env)),
            _ => None,
        })
        .collect()
}

pub async fn feed_gives_changes_in_order_and_resumes_after_a_cursor(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let head = store.change_head().await.expect("change_head");
    for i in 0..5 {
        let mut rec = identification(&scope, &format!("req_{i}"), "pv_feed", T0 + i);
        // Two of the four returns recognised by fingerprint without a token.
        rec.matched = i == 2 || i == 3;
        record(store.as_ref(), rec).await;
    }
    store
        .create_rule(
            &scope,
            new_rule("rul_000000000001", "one", "live", None),
            T0,
        )
        .await
        .expect("create_rule");

    let all = read_n(store.as_ref(), head, 100, 6).await;
    assert_eq!(
        identified_ids(&all),
        ["req_0", "req_1", "req_2", "req_3", "req_4"],
        "identifications in commit order"
    );
    assert!(
        all.windows(2).all(|w| w[0].cursor < w[1].cursor),
        "cursors strictly increase"
    );
    let last = all.last().expect("items");
    assert!(
        matches!(
            last.change,
            Change::Marker {
                resource: ChangedResource::Rules,
                ..
            }
        ),
        "the rule came last: {:?}",
        last.change
    );
    for item in &all {
        assert_eq!(
            item.writer_id,
            store.writer_id(),
            "tagged with this store's writer id"
        );
    }
    let Change::Identified {
        scope: item_scope,
        event,
        visitor,
        ..
    } = &all[4].change
    else {
        panic!("an identification");
    };
    assert_eq!(item_scope, &scope);
    assert_eq!(event.ts_ms, T0 + 4);
    assert!(event.body.contains("req_4"), "the stored body");
    assert_eq!(visitor.visitor_id, "pv_feed");
    assert_eq!(
        (visitor.total_visits, visitor.matched_visits),
        (5, 2),
        "the visitor as stored now"
    );
    assert_eq!(visitor.first_seen_ms, T0);

    // Page by page, resuming after each page's cursor, gives the same items.
    let paged = read_n(store.as_ref(), head, 2, 6).await;
    assert_eq!(
        paged.iter().map(|i| i.cursor).collect::<Vec<_>>(),
        all.iter().map(|i| i.cursor).collect::<Vec<_>>()
    );
    // After the last cursor there is nothing, and reading again is harmless.
    let rest = store.changes_after(last.cursor, 100).await.expect("rest");
    assert!(rest.items.is_empty() && rest.caught_up);
    assert_eq!(rest.cursor, last.cursor);
    // A later head never lies past a change made after it. It may lie before changes already
    // read (a store with concurrent writers places it before every transaction that might
    // still commit), so a reader starting there may see those again, but nothing else.
    let later = store.change_head().await.expect("head");
    assert!(later >= head);
    record(
        store.as_ref(),
        identification(&scope, "req_after", "pv_feed", T0 + 9),
    )
    .await;
    let again: Vec<_> = read_n(store.as_ref(), later, 100, 1)
        .await
        .into_iter()
        .filter(|i| i.cursor > last.cursor)
        .collect();
    assert_eq!(identified_ids(&again), ["req_after"]);
}

pub async fn feed_marks_each_change_with_its_resource_and_scope(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let other = workspace(store.as_ref(), "globex").await;
    let other_live = live(&other);
    let head = store.change_head().await.expect("change_head");

    let list = store
        .create_list(&other_live, new_list("lst_000000000001", "bad", "ip"), T0)
        .await
        .expect("create_list");
    store
        .change_list_entries(
            &other_live,
            &list.id,
            EntryChange {
                add: vec![("192.0.2.1".into(), None)],
                remove: vec![],
            },
            None,
            T0,
        )
        .await
        .expect("change_list_entries");
    store
        .put_env_settings(&live(&scope), &Default::default())
        .await
        .expect("put_env_settings");
    let (_, key) = new_key(&other.workspace_id, Environment::Live, KeyType::Secret);
    let key = store.create_api_key(key).await.expect("create_api_key");
    store.revoke_api_key(&key.id).await.expect("revoke_api_key");
    store
        .update_workspace_plan("globex", Plan::Starter, None)
        .await
        .expect("update_workspace_plan");
    let hook = super::support::webhook(&scope, "wh_000000000001", T0);
    store.create_webhook(hook).await.expect("create_webhook");
    record(
        store.as_ref(),
        identification(&scope, "req_1", "pv_gone", T0),
    )
    .await;
    assert!(store
        .delete_visitor(&scope, "pv_gone")
        .await
        .expect("delete"));

    let items = read_n(store.as_ref(), head, 100, 7).await;
    let ws = |s: &prynt_core::Scope| s.workspace_id.clone();
    assert_eq!(
        markers(&items),
        [
            (ChangedResource::Lists, ws(&other), Some(Environment::Live)),
            (ChangedResource::Lists, ws(&other), Some(Environment::Live)),
            (
                ChangedResource::Settings,
                ws(&scope),
                Some(Environment::Live)
            ),
            (ChangedResource::Keys, ws(&other), Some(Environment::Live)),
            (ChangedResource::Keys, ws(&other), None),
            (
                ChangedResource::Webhooks,
                ws(&scope),
                Some(Environment::Test)
            ),
        ]
    );
    // The erased visitor's identification is gone with its event; its erasure is an item.
    let deleted: Vec<_> = items
        .iter()
        .filter_map(|i| match &i.change {
            Change::VisitorDeleted { scope, visitor_id } => {
                Some((scope.clone(), visitor_id.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(deleted, [(scope.clone(), "pv_gone".to_owned())]);
    assert!(
        identified_ids(&items).is_empty(),
        "an erased event is not handed out"
    );
}

pub async fn feed_wakes_a_waiting_reader_after_a_write(store: Arc<dyn Store>) {
    let scope = workspace(store.as_ref(), "acme").await;
    let head = store.change_head().await.expect("change_head");
    // Wake-ups left over from earlier writes are used up first.
    while store
        .wait_for_change(Duration::from_millis(200))
        .await
        .expect("wait")
    {}
    let writer = Arc::clone(&store);
    let scope_w = scope.clone();
    let write = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        record(
            writer.as_ref(),
            identification(&scope_w, "req_wake", "pv_w", T0),
        )
        .await;
    });
    let started = std::time::Instant::now();
    let woken = store
        .wait_for_change(Duration::from_secs(5))
        .await
        .expect("wait");
    assert!(woken, "woken by the write, not by the timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
    write.await.expect("writer");
    assert_eq!(
        identified_ids(&read_n(store.as_ref(), head, 100, 1).await),
        ["req_wake"]
    );
}

pub async fn concurrent_writers_never_make_a_reader_skip_a_change(store: Arc<dyn Store>) {
    const PER_WRITER: usize = 60;
    let scope = workspace(store.as_ref(), "acme").await;
    let head = store.change_head().await.expect("change_head");
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let store = Arc::clone(&store);
            let scope = scope.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let rec = identification(
                        &scope,
                        &format!("req_{w}_{i}"),
                        &format!("pv_{w}_{}", i % 7),
                        T0 + i as i64,
                    );
                    record(store.as_ref(), rec).await;
                    if i % 10 == 0 {
                        store
                            .create_rule(
                                &scope,
                                new_rule(&format!("rul_{w}{i:011}"), "r", "live", None),
                                T0,
                            )
                            .await
                            .expect("create_rule");
                    }
                }
            })
        })
        .collect();
    // The reader polls with small pages while the writers run.
    let mut cursor = head;
    let mut seen = Vec::new();
    let mut items_read = 0;
    // Items handed out ahead of the cursor, and every cursor handed out below it.
    let mut ahead = HashSet::new();
    let mut settled = HashSet::new();
    loop {
        let done = writers.iter().all(|w| w.is_finished());
        let page = store.changes_after(cursor, 7).await.expect("changes_after");
        assert!(page.cursor >= cursor);
        cursor = page.cursor;
        items_read += page.items.len();
        seen.extend(identified_ids(&page.items));
        settled.extend(page.items.iter().map(|i| i.cursor));
        for early in &page.ahead {
            assert!(
                early.cursor > cursor,
                "an item ahead lies beyond the cursor"
            );
            ahead.insert(early.cursor);
        }
        if done && page.caught_up {
            break;
        }
        if page.caught_up {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for w in writers {
        w.await.expect("writer");
    }
    // Whatever was committed after the reader's last look is still after its cursor.
    let total = 2 * (PER_WRITER + PER_WRITER.div_ceil(10));
    let rest = read_n(
        store.as_ref(),
        cursor,
        100,
        total.saturating_sub(items_read),
    )
    .await;
    seen.extend(identified_ids(&rest));
    settled.extend(rest.iter().map(|i| i.cursor));
    assert!(
        ahead.is_subset(&settled),
        "every item handed out ahead comes again below the cursor"
    );
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no change is handed out twice");
    let expected: HashSet<_> = (0..2)
        .flat_map(|w| (0..PER_WRITER).map(move |i| format!("req_{w}_{i}")))
        .collect();
    let missed: Vec<_> = expected.difference(&unique).collect();
    assert!(missed.is_empty(), "the reader skipped {missed:?}");
}
