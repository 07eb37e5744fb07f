//! The Rust client (prynt-client) against the real binary: every method of it once or more,
//! its typed answers checked against what the server did, refusals as typed error kinds, event
//! pages followed to the end, and webhook deliveries checked with the client's signature
//! verification.

use std::pin::Pin;
use std::time::Duration;

use prynt_client::reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use prynt_client::{
    verify_webhook_signature, verify_webhook_signature_with, Action, BacktestParams, Client,
    Condition, EntriesChange, ErrorKind, EventAnalyticsParams, EventGroupBy, EventListParams,
    GroupOperator, ListListParams, ListType, NewList, NewRule, NewWebhook, Operator, PageParams,
    RuleListParams, RuleStatus, RuleUpdate, SideEffect, SignalAnalyticsParams, SignalGroupBy,
    Stream, UnsavedBacktest, Verdict, VerifyOptions, VisitorEventsParams, WebhookEvent,
    WebhookFilters, WebhookListParams, WebhookStatus, WebhookUpdate, WorkspaceUpdate,
};
use serde_json::json;

use crate::harness::{payload, TestServer};
use crate::receiver::{self, Hit, Receiver};

/// The next item of a client stream.
async fn next<T>(s: &mut Pin<Box<dyn Stream<Item = T> + Send>>) -> Option<T> {
    std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await
}

/// An ISO 8601 time `offset_s` seconds from now, in whole seconds.
fn iso_from_now(offset_s: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_s);
    t.replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .expect("a formatted time")
}

#[tokio::test]
async fn events_and_visitors_through_the_client() {
    let s = TestServer::start();
    let api = s.api(&s.secret_key);

    // One browser twice (the second time with its token), another once.
    let first = api.identify(&payload(1)).await.expect("identify");
    assert!(first.visitor_id.starts_with("pv_") && !first.visitor_found);
    let token = first.visitor_token.clone().expect("a visitor token");
    let mut again = payload(1);
    again["token"] = json!(token);
    let second = api.identify(&again).await.expect("identify");
    assert_eq!(second.visitor_id, first.visitor_id);
    assert!(second.visitor_found);
    let other = api.identify(&payload(2)).await.expect("identify");
    assert_ne!(other.visitor_id, first.visitor_id);

    let ev = api.get_event(&second.request_id).await.expect("event");
    assert_eq!(ev.request_id, second.request_id);
    assert_eq!(ev.visitor_id, first.visitor_id);
    assert!(ev.visitor_found && ev.confidence > 0.0);
    assert_eq!(ev.identified_by.as_deref(), Some("token"));
    let device = ev.device.expect("device");
    assert_eq!(device.platform.as_deref(), Some("macOS"));
    assert!(ev.signals.is_some() && ev.scores.is_some() && ev.ip.is_some());
    assert_eq!(ev.verdict, None, "no live rule yet");

    // One page with everything, newest first; pages of one followed to the end give the same.
    let all = api
        .list_events(&EventListParams::default())
        .await
        .expect("events");
    assert_eq!(all.data.len(), 3);
    assert!(!all.has_more && all.next_cursor.is_none());
    assert_eq!(all.data[0].request_id, other.request_id);
    let one = EventListParams {
        limit: Some(1),
        ..Default::default()
    };
    let page = api.list_events(&one).await.expect("events");
    assert_eq!(page.data.len(), 1);
    assert!(page.has_more && page.next_cursor.is_some());
    let paged = api
        .events_pager(one.clone())
        .expect("pager")
        .collect_all()
        .await
        .expect("every page");
    let ids = |v: &[prynt_client::EventSummary]| {
        v.iter().map(|e| e.request_id.clone()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&paged), ids(&all.data));
    let mut stream = api
        .events_pager(EventListParams {
            visitor_id: Some(first.visitor_id.clone()),
            ..one.clone()
        })
        .expect("pager")
        .into_stream();
    let mut streamed = Vec::new();
    while let Some(e) = next(&mut stream).await {
        streamed.push(e.expect("a page").request_id);
    }
    assert_eq!(
        streamed,
        [second.request_id.clone(), first.request_id.clone()]
    );
    // The client is a script to the server, so its identifications are bots.
    let bots = EventListParams {
        bot: Some(true),
        ..Default::default()
    };
    assert_eq!(api.list_events(&bots).await.expect("events").data.len(), 3);
    let humans = EventListParams {
        bot: Some(false),
        ..Default::default()
    };
    assert!(api
        .list_events(&humans)
        .await
        .expect("events")
        .data
        .is_empty());
    let blocked = EventListParams {
        verdict: Some(Verdict::Block),
        ..Default::default()
    };
    assert!(api
        .list_events(&blocked)
        .await
        .expect("events")
        .data
        .is_empty());

    let v = api.get_visitor(&first.visitor_id).await.expect("visitor");
    assert_eq!(v.visitor_id, first.visitor_id);
    assert_eq!(v.total_visits, 2);
    assert!(!v.devices.is_empty() && !v.ips.is_empty() && v.lists.is_empty());
    let history = api
        .list_visitor_events(
            &first.visitor_id,
            &VisitorEventsParams {
                limit: Some(1),
                ..Default::default()
            },
        )
        .await
        .expect("visitor events");
    assert_eq!(history.data.len(), 1);
    assert!(history.has_more);
    assert_eq!(history.data[0].signals.bot, Some(true));
    let all_history = api
        .visitor_events_pager(
            &first.visitor_id,
            VisitorEventsParams {
                limit: Some(1),
                ..Default::default()
            },
        )
        .expect("pager")
        .collect_all()
        .await
        .expect("every page");
    let history_ids: Vec<_> = all_history.iter().map(|e| e.request_id.clone()).collect();
    assert_eq!(
        history_ids,
        [second.request_id.clone(), first.request_id.clone()]
    );

    // Erasure: the visitor and its events are gone.
    let del = api.delete_visitor(&first.visitor_id).await.expect("delete");
    assert!(del.deleted);
    assert_eq!(del.visitor_id, first.visitor_id);
    let err = api.get_visitor(&first.visitor_id).await.expect_err("gone");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.code(), Some("not_found"));
    assert!(
        err.request_id().is_some_and(|r| r.starts_with("req_")),
        "{err:?}"
    );
    let err = api.get_event(&first.request_id).await.expect_err("gone");
    assert!(err.is_not_found());
    let err = api
        .list_visitor_events(&first.visitor_id, &VisitorEventsParams::default())
        .await
        .expect_err("gone");
    assert!(err.is_not_found());
    let left = api
        .list_events(&EventListParams::default())
        .await
        .expect("events");
    assert_eq!(ids(&left.data), [other.request_id]);

    // Malformed ids and parameters are refused naming them.
    let err = api.get_event("req_bad").await.expect_err("malformed");
    assert!(err.is_validation());
    assert_eq!(err.field(), Some("requestId"));
    let err = api
        .list_events(&EventListParams {
            limit: Some(101),
            ..Default::default()
        })
        .await
        .expect_err("limit");
    assert_eq!(err.field(), Some("limit"));
}

#[tokio::test]
async fn rules_lists_and_backtests_through_the_client() {
    let s = TestServer::start();
    let api = s.api(&s.secret_key);
    let login = api.identify(&payload(3)).await.expect("identify");

    let list = api
        .create_list(&NewList {
            description: Some("Confirmed fraud devices".into()),
            ttl: Some(2_592_000),
            ..NewList::new("blocked_devices", ListType::Visitor)
        })
        .await
        .expect("list");
    assert!(list.id.starts_with("lst_"));
    assert_eq!(list.list_type, ListType::Visitor);
    assert_eq!((list.entry_count, list.ttl), (0, Some(2_592_000)));
    let err = api
        .create_list(&NewList::new("blocked_devices", ListType::Visitor))
        .await
        .expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::Conflict);

    // The reference's example: two visitors added, one that is not there removed.
    let changed = api
        .update_list_entries(
            &list.id,
            &EntriesChange {
                add: vec![login.visitor_id.clone(), "pv_4xN7qKmR9sT2p".into()],
                remove: vec!["pv_old_visitor_id".into()],
                ttl: None,
            },
        )
        .await
        .expect("entries");
    assert_eq!(changed.list_id, list.id);
    assert_eq!(
        (changed.added, changed.removed, changed.entry_count),
        (2, 0, 2)
    );
    let got = api
        .get_list(&list.id, &PageParams::default())
        .await
        .expect("list");
    assert_eq!(got.list.entry_count, 2);
    assert_eq!(got.entries.total, Some(2));
    assert!(got
        .entries
        .data
        .iter()
        .any(|e| e.value == login.visitor_id && e.expires_at.is_some()));
    let visitor = api.get_visitor(&login.visitor_id).await.expect("visitor");
    assert_eq!(visitor.lists, ["blocked_devices"]);
    let removed = api
        .remove_list_entries(&list.id, ["pv_4xN7qKmR9sT2p"])
        .await
        .expect("entries");
    assert_eq!((removed.removed, removed.entry_count), (1, 1));
    let added = api
        .add_list_entries(&list.id, ["pv_4xN7qKmR9sT2p"])
        .await
        .expect("entries");
    assert_eq!((added.added, added.entry_count), (1, 2));

    // More lists than the event listings' page: the listing returns them all.
    for i in 0..21 {
        api.create_list(&NewList::new(format!("ips_{i:02}"), ListType::Ip))
            .await
            .expect("list");
    }
    let lists = api
        .list_lists(&ListListParams::default())
        .await
        .expect("lists");
    assert_eq!(lists.data.len(), 22);
    assert!(!lists.has_more);
    assert_eq!(lists.total, Some(22));
    let ip_lists = api
        .list_lists(&ListListParams {
            list_type: Some(ListType::Ip),
            ..Default::default()
        })
        .await
        .expect("lists");
    assert_eq!(ip_lists.data.len(), 21);

    // The reference's rule.
    let rule = NewRule {
        name: "Block Bot Registrations".into(),
        priority: Some(1),
        status: Some(RuleStatus::Live),
        conditions: Condition::all([
            Condition::equals("signals.bot.detected", true),
            Condition::equals("event.type", "registration"),
        ]),
        action: Action {
            verdict: Verdict::Block,
            side_effects: vec![SideEffect::AddToList {
                list: "blocked_devices".into(),
                ttl: None,
            }],
        },
    };
    let created = api.create_rule(&rule).await.expect("rule");
    assert!(created.id.starts_with("rul_"));
    assert_eq!(created.status, RuleStatus::Live);
    assert!(created.propagated);
    let full = api.get_rule(&created.id).await.expect("rule");
    assert_eq!(full.conditions, rule.conditions);
    assert_eq!(full.action, rule.action);
    assert_eq!(full.stats.match_count, 0);

    // A registration the rule blocks, and its side effect.
    let mut registration = payload(4);
    registration["type"] = json!("registration");
    let blocked = api.identify(&registration).await.expect("identify");
    let ev = api.get_event(&blocked.request_id).await.expect("event");
    assert_eq!(ev.verdict, Some(Verdict::Block));
    assert_eq!(ev.event_type.as_deref(), Some("registration"));
    assert_eq!(
        ev.matched_rule.map(|r| r.id),
        Some(created.id.clone()),
        "decided by the rule"
    );
    let block_events = api
        .list_events(&EventListParams {
            verdict: Some(Verdict::Block),
            ..Default::default()
        })
        .await
        .expect("events");
    assert_eq!(block_events.data.len(), 1);
    assert_eq!(block_events.data[0].request_id, blocked.request_id);
    assert_eq!(
        api.get_rule(&created.id)
            .await
            .expect("rule")
            .stats
            .match_count,
        1
    );
    let got = api
        .get_list(&list.id, &PageParams::default())
        .await
        .expect("list");
    assert_eq!(got.list.entry_count, 3);

    // More rules than the event listings' page: the listing returns them all.
    for i in 0..20 {
        api.create_rule(&NewRule {
            name: format!("draft {i}"),
            conditions: Condition::all([Condition::equals("event.type", "login")]),
            action: Action::new(Verdict::Allow),
            priority: None,
            status: None,
        })
        .await
        .expect("rule");
    }
    let rules = api
        .list_rules(&RuleListParams::default())
        .await
        .expect("rules");
    assert_eq!(rules.data.len(), 21);
    assert!(!rules.has_more);
    let live = api
        .list_rules(&RuleListParams {
            status: Some(RuleStatus::Live),
            ..Default::default()
        })
        .await
        .expect("rules");
    assert_eq!(live.data.len(), 1);
    assert_eq!(live.data[0].id, created.id);
    assert_eq!(live.data[0].action, Verdict::Block);
    assert_eq!(live.data[0].conditions.operator, Some(GroupOperator::And));
    assert_eq!(live.data[0].conditions.count, 2);

    let updated = api
        .update_rule(
            &created.id,
            &RuleUpdate {
                status: Some(RuleStatus::Paused),
                side_effects: Some(Vec::new()),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(updated.status, RuleStatus::Paused);
    assert!(updated.version > created.version);
    let full = api.get_rule(&created.id).await.expect("rule");
    assert_eq!(full.action, Action::new(Verdict::Block));
    let patched = api
        .patch_rule(
            &created.id,
            &RuleUpdate {
                priority: Some(5),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!((patched.priority, patched.status), (5, RuleStatus::Paused));
    assert!(patched.version > updated.version);

    // Backtests, saved (whatever its status) and unsaved.
    let bt = api
        .backtest_rule(
            &created.id,
            &BacktestParams {
                days: Some(30),
                sample_size: Some(5),
            },
        )
        .await
        .expect("backtest");
    assert_eq!(bt.rule_id.as_deref(), Some(created.id.as_str()));
    assert_eq!((bt.match_count, bt.total_events, bt.days), (1, 2, 30));
    assert_eq!(bt.sample.len(), 1);
    assert_eq!(bt.sample[0].request_id, blocked.request_id);
    let unsaved = api
        .backtest_unsaved_rule(&UnsavedBacktest::new(Condition::all([Condition::equals(
            "signals.bot.detected",
            true,
        )])))
        .await
        .expect("backtest");
    assert_eq!(unsaved.rule_id, None);
    assert_eq!(unsaved.match_count, 2);

    // A rule the server refuses names the field.
    let err = api
        .create_rule(&NewRule {
            conditions: Condition::all([Condition::leaf("signals.bot.detected", Operator::Gt, 3)]),
            ..rule.clone()
        })
        .await
        .expect_err("invalid");
    assert!(err.is_validation());
    assert_eq!(err.field(), Some("conditions.rules[0].operator"));

    let del = api.delete_rule(&created.id).await.expect("delete");
    assert!(del.deleted);
    assert_eq!(del.rule_id, created.id);
    assert!(api
        .get_rule(&created.id)
        .await
        .expect_err("gone")
        .is_not_found());
    let del = api.delete_list(&list.id).await.expect("delete");
    assert!(del.deleted);
    assert_eq!(del.list_id, list.id);
    assert!(api
        .get_list(&list.id, &PageParams::default())
        .await
        .expect_err("gone")
        .is_not_found());
}

/// The headers of a received delivery as a header map.
fn header_map(hit: &Hit) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in &hit.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k.as_str()), HeaderValue::from_str(v)) {
            map.insert(k, v);
        }
    }
    map
}

/// The receiver's hits once `pred` holds, for at most 20 s.
async fn hits_when(rx: &Receiver, what: &str, pred: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
    for _ in 0..400 {
        let hits = rx.hits();
        if pred(&hits) {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn payload_id(hit: &Hit) -> String {
    hit.json()["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn webhooks_through_the_client_with_verified_deliveries() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = TestServer::start_in(tmp.path(), &["--dev-allow-loopback-webhooks"]);
    let api = s.api(&s.secret_key);
    let rx = Receiver::start(receiver::OK, 0);

    let created = api
        .create_webhook(&NewWebhook {
            events: Some(vec![WebhookEvent::RuleMatch]),
            filters: Some(WebhookFilters {
                verdict: vec![Verdict::Block, Verdict::Challenge],
                ..Default::default()
            }),
            description: Some("fraud team".into()),
            ..NewWebhook::new(rx.url("http"))
        })
        .await
        .expect("webhook");
    let id = created.webhook.id.clone();
    assert!(id.starts_with("whk_"));
    assert!(created.secret.starts_with("whsec_"));
    assert_eq!(created.webhook.status, WebhookStatus::Active);
    assert_eq!(created.webhook.events, [WebhookEvent::RuleMatch]);
    assert_eq!(
        created.webhook.filters.verdict,
        [Verdict::Block, Verdict::Challenge]
    );

    let listed = api
        .list_webhooks(&WebhookListParams::default())
        .await
        .expect("webhooks");
    assert_eq!(listed.data.len(), 1);
    assert_eq!(listed.total, Some(1));
    let paused = api
        .list_webhooks(&WebhookListParams {
            status: Some(WebhookStatus::Paused),
            ..Default::default()
        })
        .await
        .expect("webhooks");
    assert!(paused.data.is_empty());
    let got = api.get_webhook(&id).await.expect("webhook");
    assert_eq!(got.url, rx.url("http"));
    assert_eq!(got.description.as_deref(), Some("fraud team"));
    let up = api
        .update_webhook(
            &id,
            &WebhookUpdate {
                status: Some(WebhookStatus::Paused),
                events: Some(vec![WebhookEvent::Identification, WebhookEvent::ListUpdate]),
                ..Default::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(up.status, WebhookStatus::Paused);
    assert_eq!(
        up.events,
        [WebhookEvent::Identification, WebhookEvent::ListUpdate]
    );
    let up = api
        .patch_webhook(
            &id,
            &WebhookUpdate {
                status: Some(WebhookStatus::Active),
                ..Default::default()
            },
        )
        .await
        .expect("patch");
    assert_eq!(up.status, WebhookStatus::Active);

    // A test delivery, signed as the reference says and verified by the client.
    let queued = api.test_webhook(&id).await.expect("test");
    assert!(queued.queued);
    let hits = hits_when(&rx, "the test delivery", |h| {
        h.iter().any(|h| payload_id(h) == queued.payload_id)
    })
    .await;
    let hit = hits
        .iter()
        .find(|h| payload_id(h) == queued.payload_id)
        .expect("the hit");
    let signature = hit
        .headers
        .get("x-prynt-signature")
        .cloned()
        .unwrap_or_default();
    assert!(
        signature.len() == 64
            && signature
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "bare lower-case hex: {signature:?}"
    );
    let headers = header_map(hit);
    assert!(verify_webhook_signature(
        &hit.body,
        &headers,
        &created.secret
    ));
    assert!(!verify_webhook_signature(
        &hit.body,
        &headers,
        "whsec_not_the_secret"
    ));
    let mut tampered = hit.body.clone();
    tampered.push(b' ');
    assert!(!verify_webhook_signature(
        &tampered,
        &headers,
        &created.secret
    ));

    // The delivery, as the server recorded it.
    let mut delivery = None;
    for _ in 0..200 {
        let page = api
            .list_webhook_deliveries(&id, &PageParams::default())
            .await
            .expect("deliveries");
        delivery = page
            .data
            .into_iter()
            .find(|d| d.payload_id == queued.payload_id && d.status == "succeeded");
        if delivery.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let delivery = delivery.expect("a succeeded delivery");
    assert!(delivery.id.starts_with("dlv_"));
    assert_eq!(delivery.event, "test");
    assert_eq!(delivery.attempts[0].status_code, Some(200));

    // Rotation: both secrets verify while the previous one still signs.
    let rotated = api.rotate_webhook_secret(&id).await.expect("rotate");
    assert_eq!(rotated.id, id);
    assert!(rotated.secret.starts_with("whsec_") && rotated.secret != created.secret);
    assert!(!rotated.previous_secret_expires_at.is_empty());
    let second = api.test_webhook(&id).await.expect("test");
    let hits = hits_when(&rx, "the second test delivery", |h| {
        h.iter().any(|h| payload_id(h) == second.payload_id)
    })
    .await;
    let hit = hits
        .iter()
        .find(|h| payload_id(h) == second.payload_id)
        .expect("the hit");
    assert!(hit.headers.contains_key("x-prynt-signature-previous"));
    let headers = header_map(hit);
    assert!(verify_webhook_signature(
        &hit.body,
        &headers,
        &rotated.secret
    ));
    assert!(verify_webhook_signature(
        &hit.body,
        &headers,
        &created.secret
    ));
    assert!(!verify_webhook_signature(
        &hit.body,
        &headers,
        "whsec_not_the_secret"
    ));
    // The Standard Webhooks signature, with replay protection, under either secret.
    let fresh = VerifyOptions {
        tolerance: Some(Duration::from_secs(300)),
        now: None,
    };
    for secret in [&rotated.secret, &created.secret] {
        assert!(verify_webhook_signature_with(
            &hit.body,
            &headers,
            &[secret],
            &fresh
        ));
    }
    let replayed = VerifyOptions {
        now: Some(std::time::SystemTime::now() + Duration::from_secs(3600)),
        ..fresh
    };
    assert!(!verify_webhook_signature_with(
        &hit.body,
        &headers,
        &[&rotated.secret],
        &replayed
    ));

    // A finished delivery sent again by hand, with the same payload id.
    let again = api
        .retry_webhook_delivery(&id, &delivery.id)
        .await
        .expect("redeliver");
    assert!(again.queued);
    assert_eq!(again.delivery_id, delivery.id);
    hits_when(&rx, "the redelivery", |h| {
        h.iter()
            .filter(|h| payload_id(h) == queued.payload_id)
            .count()
            == 2
    })
    .await;

    let err = api
        .create_webhook(&NewWebhook::new("ftp://hooks.example/prynt"))
        .await
        .expect_err("not a web URL");
    assert!(err.is_validation());
    assert_eq!(err.field(), Some("url"));

    let del = api.delete_webhook(&id).await.expect("delete");
    assert!(del.deleted);
    assert_eq!(del.webhook_id, id);
    assert!(api.get_webhook(&id).await.expect_err("gone").is_not_found());
    assert!(api
        .list_webhook_deliveries(&id, &PageParams::default())
        .await
        .expect_err("gone")
        .is_not_found());
}

#[tokio::test]
async fn analytics_workspace_and_refusals_through_the_client() {
    let s = TestServer::start();
    let api = s.api(&s.secret_key);
    for seed in 0..3 {
        api.identify(&payload(seed)).await.expect("identify");
    }
    let (from, to) = (iso_from_now(-3600), iso_from_now(3600));

    let by_verdict = api
        .event_analytics(&EventAnalyticsParams {
            group_by: Some(EventGroupBy::Verdict),
            ..EventAnalyticsParams::new(&from, &to)
        })
        .await
        .expect("analytics");
    assert_eq!(by_verdict.total, 3);
    let groups = by_verdict.groups.expect("groups");
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].key_of("verdict"), None, "no rule, no verdict");
    assert_eq!((groups[0].count, groups[0].pct), (3, 1.0));
    let plain = api
        .event_analytics(&EventAnalyticsParams::new(&from, &to))
        .await
        .expect("analytics");
    assert_eq!(plain.total, 3);
    assert!(plain.groups.is_none());

    let signals = api
        .signal_analytics(&SignalAnalyticsParams::new(&from, &to))
        .await
        .expect("analytics");
    assert_eq!(signals.total, 3);
    let bot = signals
        .signals
        .expect("per signal")
        .into_iter()
        .find(|f| f.signal == "bot")
        .expect("bot");
    assert_eq!((bot.count, bot.rate), (3, 1.0));
    let daily = api
        .signal_analytics(&SignalAnalyticsParams {
            group_by: Some(SignalGroupBy::Day),
            signal: Some("bot".into()),
            ..SignalAnalyticsParams::new(&from, &to)
        })
        .await
        .expect("analytics");
    let series = daily.series.expect("series");
    assert_eq!(series.iter().map(|p| p.total).sum::<u64>(), 3);
    let err = api
        .event_analytics(&EventAnalyticsParams::new(&to, &from))
        .await
        .expect_err("from after to");
    assert_eq!(err.field(), Some("from"));

    let ws = api.get_workspace().await.expect("workspace");
    assert_eq!((ws.environment.as_str(), ws.plan.as_str()), ("test", "pro"));
    assert_eq!(ws.limits.management_api_per_minute, 100);
    assert!(!ws.mask_ip && ws.allowed_origins.is_empty());
    let ws = api
        .update_workspace(&WorkspaceUpdate {
            allowed_origins: Some(vec!["https://Shop.Example:443".into()]),
            mask_ip: Some(true),
            ..Default::default()
        })
        .await
        .expect("update");
    assert_eq!(ws.allowed_origins, ["https://shop.example"]);
    assert!(ws.mask_ip);

    // Refusals as typed kinds, with the reference's codes.
    let client = |key: &str| {
        Client::builder(key)
            .base_url(&s.base)
            .build()
            .expect("client")
    };
    for key in ["sk_test_000000000000000000000000", ""] {
        let err = client(key).get_workspace().await.expect_err("refused");
        assert!(err.is_auth(), "{key:?}: {err:?}");
        assert_eq!(err.code(), Some("invalid_api_key"), "{key:?}");
        assert!(err.request_id().is_some());
    }
    let err = client(&s.public_key)
        .get_workspace()
        .await
        .expect_err("refused");
    assert!(err.is_permission());
    assert_eq!(err.code(), Some("insufficient_permissions"));
    let err = api.get_rule("rul_000000000000").await.expect_err("none");
    assert!(err.is_not_found());
}
