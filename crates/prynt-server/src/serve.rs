//! `prynt serve`: opens the store, makes the first key pair of an empty store, binds the
//! listener (HTTP or HTTPS with rustls) behind the connection caps and deadlines of
//! [`crate::connections`], and shuts down gracefully on SIGTERM or Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use prynt_core::Environment;
use prynt_store::Store;

use crate::agent::AgentScripts;
use crate::cache::AuthCache;
use crate::config::ServeConfig;
use crate::connections::Guard;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::state::{AppState, Shared};
use crate::{app, CliError};
use prynt_signals::ip::IpIntel;

/// Loads the IP data. Missing data is not fatal: the server warns once and `ip` fields stay
/// `null`; a file that is present but unreadable is an error, so a typo is never silent.
fn load_ip_intel(cfg: &ServeConfig) -> Result<IpIntel, CliError> {
    let started = std::time::Instant::now();
    let intel = IpIntel::load(&cfg.ip_data)
        .map_err(|e| CliError::Runtime(format!("cannot load IP data: {e}")))?;
    if intel.has_geo() {
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "IP data loaded (IP Geolocation by DB-IP, CC BY 4.0, unless your own city file)"
        );
    } else {
        tracing::warn!(
            "no IP geolocation data in {}: ip fields will be null; run `prynt data fetch`",
            cfg.data_dir.join(crate::commands::data::IPDATA).display()
        );
    }
    Ok(intel)
}

/// The rate budgets: in this node's memory, or in Redis with `--redis-url`. A Redis that does
/// not answer at the start is not fatal (nodes must be able to start during an outage); an
/// unusable URL is.
async fn rate_limits(
    cfg: &ServeConfig,
    metrics: &Metrics,
) -> Result<crate::limits::RateLimits, CliError> {
    let Some(url) = &cfg.redis_url else {
        return Ok(Default::default());
    };
    let limits = crate::limits::RateLimits::with_redis(
        url,
        cfg.redis_limits_failure,
        Some(metrics.rate_limit_redis_failures.clone()),
    )
    .map_err(|e| CliError::Usage(format!("--redis-url: {e}")))?;
    match limits.probe().await {
        Some(Err(e)) => tracing::warn!(
            error = %e,
            failure_mode = ?cfg.redis_limits_failure,
            "Redis does not answer: rate limits follow the failure mode until it does"
        ),
        _ => tracing::info!("rate limits are shared through Redis"),
    }
    Ok(limits)
}

/// How long in-flight requests may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The caps and deadlines of client connections, the connection cap lowered to fit the
/// process's open-file limit (raised to its hard limit first).
fn connection_settings(cfg: &ServeConfig) -> crate::connections::Settings {
    let mut settings = cfg.connections;
    let open_files = crate::connections::raise_open_file_limit();
    let room = crate::connections::room_for_connections(open_files, cfg.database_pool_size);
    settings.descriptors = room;
    let cap = crate::connections::cap_within(settings.max_connections, room);
    if cap < settings.max_connections {
        tracing::warn!(
            wanted = settings.max_connections,
            max_connections = cap,
            open_files = open_files.unwrap_or(0),
            "the connection cap is lowered to fit the open-file limit (RLIMIT_NOFILE); raise \
             the limit to hold more connections"
        );
        settings.max_connections = cap;
    }
    tracing::info!(
        max_connections = settings.max_connections,
        per_address = settings.max_per_address,
        header_timeout_ms = settings.header_timeout.as_millis() as u64,
        body_timeout_ms = settings.body_timeout.as_millis() as u64,
        idle_timeout_ms = settings.idle_timeout.as_millis() as u64,
        open_files = open_files.unwrap_or(0),
        "connection limits"
    );
    settings
}

/// hyper's own limits: a read buffer for the request head (request line and headers) of
/// 72 KiB, and 100 headers at most, over HTTP/1 and HTTP/2 alike; hyper refuses anything
/// larger itself (with the JSON error body on HTTP/1, see `connections`). Within it,
/// `connections::head` holds heads to 64 KiB exactly, and a URI over 64 KiB is hyper's 414,
/// which the buffer's room above 64 KiB lets through.
macro_rules! limit_heads {
    ($server:expr) => {{
        $server
            .http_builder()
            .http1()
            .max_buf_size(HEAD_LIMIT)
            .max_headers(100);
        $server
            .http_builder()
            .http2()
            .max_header_list_size(HEAD_LIMIT as u32);
    }};
}

/// The read buffer of a request head.
const HEAD_LIMIT: usize = 72 << 10;

/// Connections the kernel completes ahead of the accept loop (it caps this at
/// `net.core.somaxconn`). The accept loop takes every connection at once, refused ones too, so
/// the queue only absorbs bursts: with the standard library's 128 a burst of new connections
/// overflows it and the kernel drops SYNs, which clients retry only after a second; a much
/// deeper one makes every newcomer wait behind a flood it has let in. 1024, as tokio binds.
const LISTEN_BACKLOG: u32 = 1024;

/// The listening socket, with address reuse as the standard library sets it and a deep
/// backlog.
fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)?.into_std()
}

pub async fn run(cfg: ServeConfig) -> Result<(), CliError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let limits = connection_settings(&cfg);
    // PostgreSQL's schema is brought up to date here too, under its migration lock.
    // The data dir holds the sealing key and the first keys whichever store is used.
    prynt_store::sqlite::private_dir(&cfg.data_dir).map_err(|e| {
        CliError::Runtime(format!(
            "cannot create data dir {}: {e}",
            cfg.data_dir.display()
        ))
    })?;
    let store: Arc<dyn Store> = crate::commands::open_store_at(
        cfg.database_url.as_deref(),
        &cfg.data_dir,
        cfg.database_pool_size,
    )
    .await?;
    if cfg.database_url.is_some() {
        tracing::info!(
            pool_size = cfg.database_pool_size,
            "store: PostgreSQL, schema up to date"
        );
    }
    if let Some(path) = crate::secrets::create_first_keys(store.as_ref(), &cfg.data_dir).await? {
        announce(&format!(
            "first start: the first key pair of workspace \"default\" (test) is in {} \
             (readable by this user only); store the keys elsewhere, then delete the file",
            path.display()
        ));
    }
    let sealing = crate::secrets::sealing_key(store.as_ref(), &cfg).await?;
    let token_key = crate::secrets::token_key(store.as_ref(), &sealing).await?;

    let metrics =
        Metrics::new().map_err(|e| CliError::Runtime(format!("metrics setup failed: {e}")))?;
    // Before the caches load: whatever commits while they load is read from the feed after.
    let feed_head = store
        .change_head()
        .await
        .map_err(|e| CliError::Runtime(format!("cannot read the change feed: {e}")))?;
    let started = std::time::Instant::now();
    let identity = Identity::load(store.as_ref(), token_key)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot load the matching index: {e}")))?;
    tracing::info!(
        visitors = identity.visitors(),
        ms = started.elapsed().as_millis() as u64,
        "matching index loaded"
    );
    let ip_intel = load_ip_intel(&cfg)?;
    let rate_limits = rate_limits(&cfg, &metrics).await?;
    let risk = crate::risk::Risk::for_server(
        cfg.redis_url.as_deref(),
        cfg.retention_days as i64 * 86_400_000,
        &identity.token_key,
        &store,
        &metrics.velocity_redis_failures,
    )
    .map_err(|e| CliError::Usage(format!("--redis-url: {e}")))?;
    let state = AppState::new(Shared {
        store: Arc::clone(&store),
        identity: Arc::new(identity),
        metrics: Arc::new(metrics),
        cache: AuthCache::default(),
        retention_ms: cfg.retention_days as i64 * 86_400_000,
        agent: AgentScripts::build(),
        ip_intel,
        risk,
        trusted_proxies: cfg.trusted_proxies.clone(),
        policy: crate::policy::Policy::new(Arc::clone(&store)),
        secret_box: sealing,
        webhook_config: cfg.webhooks.clone(),
        delivery_wake: Arc::new(tokio::sync::Notify::new()),
        identified: Default::default(),
        limits: rate_limits,
        auth_failures: crate::auth_failures::AuthFailures::new(cfg.auth_failures_per_minute),
        demo: Default::default(),
    });
    let connections = crate::connections::Registry::new(limits, cfg.trusted_proxies.clone())
        .and_then(|r| r.register_metrics(&state.metrics).map(|()| r))
        .map_err(|e| CliError::Runtime(format!("connection metrics setup failed: {e}")))?;
    tokio::spawn(Arc::clone(&connections).sweep());
    let client =
        prynt_webhooks::client::DeliveryClient::new(prynt_webhooks::client::ClientOptions {
            allow_loopback: cfg.webhooks.allow_loopback,
            extra_roots_pem: cfg.webhooks.extra_roots_pem.clone(),
            user_agent: format!("Prynt-Webhooks/{}", env!("CARGO_PKG_VERSION")),
        })
        .map_err(|e| CliError::Usage(format!("cannot set up webhook delivery: {e}")))?;
    crate::delivery::start(state.clone(), client)
        .map_err(|e| CliError::Runtime(format!("cannot start the webhook worker: {e}")))?;
    state
        .risk
        .start(state.store.as_ref())
        .await
        .map_err(|e| CliError::Runtime(format!("cannot rebuild velocity counts: {e}")))?;
    // Every environment that may have stored events waits for its account history; one
    // created from now on has none to wait for.
    let workspaces = state
        .store
        .list_workspaces()
        .await
        .map_err(|e| CliError::Runtime(format!("cannot list workspaces: {e}")))?;
    let scopes: Vec<_> = workspaces
        .iter()
        .flat_map(|ws| {
            [Environment::Test, Environment::Live].map(|env| prynt_core::Scope {
                workspace_id: ws.id.clone(),
                env,
            })
        })
        .collect();
    state.risk.begin_account_history(scopes.clone());
    tokio::spawn(purge_expired(state.clone()));
    // A store shared by several nodes: follow what the others write. SQLite has one process.
    if cfg.database_url.is_some() {
        tokio::spawn(crate::sync::follow(state.clone(), feed_head));
        tracing::info!("following the store's change feed");
    }
    let warm = state.clone();
    tokio::spawn(async move {
        // The account history first: live decisions need it, backtests wait for their table.
        load_account_history(&warm, scopes).await;
        warm_event_tables(warm).await;
    });
    let app = app::build(state.clone(), cfg.bench_endpoints)
        .layer(axum::middleware::from_fn_with_state(
            limits.body_timeout,
            crate::connections::body::deadline,
        ))
        .layer(axum::middleware::from_fn(crate::connections::head::limit))
        .into_make_service_with_connect_info::<SocketAddr>();

    let listener = listen(cfg.listen)
        .map_err(|e| CliError::Runtime(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Runtime(format!("cannot read the bound address: {e}")))?;

    // After the bind, so that a second server started by mistake on the same data dir fails
    // before it revokes the running one's demo key.
    if let Some(demo) = prepare_demo(state.store.as_ref(), &cfg, addr).await? {
        let _ = state.demo.set(demo);
    }

    let handle: Handle<SocketAddr> = Handle::new();
    tokio::spawn(shutdown_on_signal(handle.clone()));

    let served = match &cfg.tls {
        Some((cert, key)) => {
            let tls = RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
                CliError::Usage(format!(
                    "cannot load TLS certificate {} and key {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            // The handshake is part of the time to the first request head.
            let tls = RustlsAcceptor::new(tls).handshake_timeout(limits.header_timeout);
            let mut server = axum_server::from_tcp(listener)
                .map_err(|e| CliError::Runtime(e.to_string()))?
                .acceptor(Guard::new(tls, Arc::clone(&connections), false))
                .handle(handle);
            limit_heads!(server);
            announce(&format!("listening on https://{addr}"));
            announce_demo(&state, &format!("https://{addr}"));
            server.serve(app).await
        }
        None => {
            let mut server = axum_server::from_tcp(listener)
                .map_err(|e| CliError::Runtime(e.to_string()))?
                .acceptor(Guard::new(DefaultAcceptor, Arc::clone(&connections), true))
                .handle(handle);
            limit_heads!(server);
            announce(&format!("listening on http://{addr}"));
            announce_demo(&state, &format!("http://{addr}"));
            server.serve(app).await
        }
    };
    served.map_err(|e| CliError::Runtime(format!("server error: {e}")))?;

    // Every request has finished; make sure nothing queued for the store is lost.
    store
        .close()
        .await
        .map_err(|e| CliError::Runtime(format!("flushing the store failed: {e}")))?;
    announce("shutdown complete");
    Ok(())
}

/// Deletes events past retention and expired Idempotency-Keys, at start and then hourly.
async fn purge_expired(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        state.risk.prune(prynt_core::timefmt::now_unix());
        match state
            .store
            .purge_events_before(state.retention_floor_ms())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "expired events purged"),
            Err(prynt_store::StoreError::Closed) => return,
            Err(e) => tracing::warn!("purging expired events failed: {e}"),
        }
        // A node further behind than a day has been cut off long enough to restart anyway.
        let feed_floor = prynt_core::timefmt::now_unix_ms() - 86_400_000;
        match state.store.purge_changes_before(feed_floor).await {
            Ok(_) => {}
            Err(prynt_store::StoreError::Closed) => return,
            Err(e) => tracing::warn!("purging the change feed failed: {e}"),
        }
        let floor = prynt_core::timefmt::now_unix_ms() - crate::idempotency::TTL_MS;
        match state.store.purge_idempotency_keys_before(floor).await {
            Ok(_) => {}
            Err(prynt_store::StoreError::Closed) => return,
            Err(e) => tracing::warn!("purging expired Idempotency-Keys failed: {e}"),
        }
    }
}

fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

async fn shutdown_on_signal(handle: Handle<SocketAddr>) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
    handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
}

/// Revokes the previous runs' demo keys and, on a server listening on loopback only, makes this
/// run's (see [`crate::demo`]).
async fn prepare_demo(
    store: &dyn Store,
    cfg: &ServeConfig,
    addr: SocketAddr,
) -> Result<Option<crate::demo::Demo>, CliError> {
    let local = crate::demo::loopback_only(addr);
    if cfg.demo && !local {
        tracing::info!(
            listen = %addr,
            "no demo key: the server listens beyond loopback"
        );
    }
    let demo = crate::demo::prepare(store, cfg.demo && local)
        .await
        .map_err(|e| CliError::Runtime(format!("cannot set up the demo key: {e}")))?;
    if let Some(d) = &demo {
        tracing::info!(key = %d.key_id, "demo key made for this run; earlier ones revoked");
    }
    Ok(demo)
}

fn announce_demo(state: &AppState, base: &str) {
    if state.demo.get().is_some() {
        announce(&format!(
            "demo: open {base}/demo to identify this browser (a demo key of workspace \"{}\", test, made for this run)",
            crate::demo::WORKSPACE
        ));
    }
}

/// Rebuilds each environment's account history (`newDeviceForAccount`) from the stored events
/// with a linked id, in the background after the start, one environment at a time. A failed
/// load is retried from the start after 10 s; the environment's events report
/// `newDeviceForAccount: false` until it succeeds.
async fn load_account_history(state: &AppState, scopes: Vec<prynt_core::Scope>) {
    // Counts in Redis are seeded whole, account history included.
    let Some(velocity) = state.risk.local() else {
        return;
    };
    for scope in scopes {
        loop {
            let started = std::time::Instant::now();
            let now = prynt_core::timefmt::now_unix_ms();
            match velocity
                .load_account_history(state.store.as_ref(), &scope, now)
                .await
            {
                Ok(uses) => {
                    tracing::info!(
                        workspace = %scope.workspace_id,
                        env = scope.env.as_str(),
                        uses,
                        ms = started.elapsed().as_millis() as u64,
                        "account history loaded"
                    );
                    break;
                }
                Err(prynt_store::StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!("cannot load the account history, retrying in 10 s: {e}");
                    tokio::time::sleep(Duration::from_secs(10)).await;
                }
            }
        }
    }
}

/// Loads each environment's event table (backtests and analytics) in the background after the
/// start, one environment at a time, so the first such query after a restart does not wait
/// for it. Environments without events in the retention are skipped.
async fn warm_event_tables(state: AppState) {
    let Ok(workspaces) = state.store.list_workspaces().await else {
        return;
    };
    for ws in workspaces {
        for env in [prynt_core::Environment::Test, prynt_core::Environment::Live] {
            let scope = prynt_core::Scope {
                workspace_id: ws.id.clone(),
                env,
            };
            let floor = state.retention_floor_ms();
            match state.store.events_ascending(&scope, floor, None, 1).await {
                Ok(first) if !first.is_empty() => {}
                _ => continue,
            }
            let Ok(policy) = state.policy.scope(&scope).await else {
                continue;
            };
            let started = std::time::Instant::now();
            let now = prynt_core::timefmt::now_unix_ms();
            match policy
                .with_table(state.store.as_ref(), &scope, now, floor, |t| t.len())
                .await
            {
                Ok(rows) => tracing::info!(
                    workspace = %ws.name,
                    env = env.as_str(),
                    rows,
                    ms = started.elapsed().as_millis() as u64,
                    "event table loaded"
                ),
                Err(e) => tracing::warn!("cannot load the event table: {e}"),
            }
        }
    }
}
