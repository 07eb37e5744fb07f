//! An axum app whose sign-up and login are protected by Prynt.
//!
//! The page loads the Prynt agent from the Prynt server, calls `identify()` when the form is
//! submitted and posts the `requestId` with the form. The backend never trusts what the browser
//! says about itself: it fetches the event with its secret key ([`prynt_client::Client::get_event`])
//! and acts on Prynt's decision: the rules' verdict, or the bot signal when no rule decided.
//! [`app`] builds the router, so that tests can serve it on any port; `main.rs` serves it from
//! the environment.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use prynt_client::{Client, ErrorKind, Event, Verdict};
use serde::Deserialize;

/// An event older than this is not accepted for a new action: a requestId cannot be replayed.
const MAX_EVENT_AGE: Duration = Duration::from_secs(300);

/// What the app needs: a client holding the secret key, the public key and the address the
/// browser loads the agent from.
#[derive(Clone)]
pub struct Config {
    pub prynt: Client,
    pub public_key: String,
    pub prynt_url: String,
}

#[derive(Clone)]
struct AppState {
    config: Arc<Config>,
    /// Each requestId is accepted once (a real app keeps this in its database or cache).
    used: Arc<Mutex<HashSet<String>>>,
}

/// The app's routes: `GET`/`POST /login` and `/signup`, and `/` sending to the login.
pub fn app(config: Config) -> Router {
    let state = AppState {
        config: Arc::new(config),
        used: Arc::default(),
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/login") }))
        .route("/login", get(login_page).post(login))
        .route("/signup", get(signup_page).post(signup))
        .with_state(state)
}

/// The protected action a form stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    Login,
    Signup,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Signup => "signup",
        }
    }
}

/// What the backend does with an action.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Decision {
    Allow,
    Challenge,
    Block,
    /// No usable identification came with the form.
    Reject,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Challenge => "challenge",
            Decision::Block => "block",
            Decision::Reject => "reject",
        }
    }
}

#[derive(Deserialize)]
struct Submitted {
    #[serde(default)]
    email: String,
    #[serde(default, rename = "requestId")]
    request_id: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head><body>{body}</body></html>",
        escape(title)
    ))
}

fn form(config: &Config, action: Action) -> Html<String> {
    let title = match action {
        Action::Login => "Log in",
        Action::Signup => "Sign up",
    };
    let json = |s: &str| serde_json::Value::from(s).to_string();
    page(
        title,
        &format!(
            r#"<h1>{title}</h1>
<form id="form" method="post" action="/{action}">
  <label>Email <input name="email" type="email" required></label>
  <label>Password <input name="password" type="password" required></label>
  <input type="hidden" name="requestId">
  <button type="submit">{title}</button>
</form>
<script src="{agent}/v1/agent.js"></script>
<script>
  const agentReady = Prynt.load({{ publicKey: {pk}, endpoint: {endpoint} }});
  document.getElementById('form').addEventListener('submit', async (e) => {{
    e.preventDefault();
    const f = e.target;
    try {{
      const agent = await agentReady;
      const {{ requestId }} = await agent.identify({{ type: {kind}, linkedId: f.email.value }});
      f.requestId.value = requestId;
    }} catch (err) {{ console.error(err); }}
    f.submit();
  }});
</script>"#,
            action = action.as_str(),
            agent = escape(&config.prynt_url),
            pk = json(&config.public_key),
            endpoint = json(&config.prynt_url),
            kind = json(action.as_str()),
        ),
    )
}

async fn login_page(State(s): State<AppState>) -> Html<String> {
    form(&s.config, Action::Login)
}

async fn signup_page(State(s): State<AppState>) -> Html<String> {
    form(&s.config, Action::Signup)
}

async fn login(State(s): State<AppState>, Form(f): Form<Submitted>) -> Response {
    act(&s, Action::Login, f).await
}

async fn signup(State(s): State<AppState>, Form(f): Form<Submitted>) -> Response {
    act(&s, Action::Signup, f).await
}

async fn act(s: &AppState, action: Action, f: Submitted) -> Response {
    let (decision, reason) = decide(s, action, &f).await;
    let status = match decision {
        Decision::Allow | Decision::Challenge => StatusCode::OK,
        Decision::Block => StatusCode::FORBIDDEN,
        Decision::Reject => StatusCode::BAD_REQUEST,
    };
    let message = match (decision, action) {
        (Decision::Allow, Action::Login) => "Welcome back.",
        (Decision::Allow, Action::Signup) => "Your account is created.",
        (Decision::Challenge, _) => "We sent a code to your email: enter it to continue.",
        (Decision::Block, _) => "This request was blocked.",
        (Decision::Reject, _) => {
            "This request could not be verified. Reload the page and try again."
        }
    };
    let body = format!(
        "<h1 id=\"decision\" data-decision=\"{}\">{}</h1><p id=\"reason\">{}</p>",
        decision.as_str(),
        escape(message),
        escape(&reason)
    );
    (status, page(decision.as_str(), &body)).into_response()
}

/// The decision for a submitted form, and why.
pub fn decide_event(action: Action, email: &str, event: &Event) -> (Decision, String) {
    let at = time::OffsetDateTime::parse(
        &event.timestamp,
        &time::format_description::well_known::Rfc3339,
    );
    let age = at.map(|t| time::OffsetDateTime::now_utc() - t);
    if !age.is_ok_and(|a| a < MAX_EVENT_AGE) {
        return (Decision::Reject, "the identification is too old".into());
    }
    if event.event_type.as_deref() != Some(action.as_str())
        || event.linked_id.as_deref().unwrap_or("") != email
    {
        return (
            Decision::Reject,
            "the identification was made for another action".into(),
        );
    }
    let bot = event
        .signals
        .as_ref()
        .and_then(|s| s.bot.as_ref())
        .is_some_and(|b| b.detected);
    match event.verdict {
        Some(v) => {
            let rule = event
                .matched_rule
                .as_ref()
                .map(|r| format!(" ({})", r.name.as_deref().unwrap_or(&r.id)))
                .unwrap_or_default();
            let decision = match v {
                Verdict::Allow => Decision::Allow,
                Verdict::Challenge => Decision::Challenge,
                // A verdict this client does not know yet is treated as the strictest one.
                Verdict::Block | Verdict::Unknown => Decision::Block,
            };
            (decision, format!("rule verdict{rule}"))
        }
        None if bot => (
            Decision::Block,
            "no rule decided; a bot was detected".into(),
        ),
        None => (Decision::Allow, "no rule decided; no bot detected".into()),
    }
}

async fn decide(s: &AppState, action: Action, f: &Submitted) -> (Decision, String) {
    let id = f.request_id.trim();
    if id.is_empty() {
        return (Decision::Reject, "the page sent no Prynt requestId".into());
    }
    let fresh = s
        .used
        .lock()
        .map(|mut u| u.insert(id.to_owned()))
        .unwrap_or(false);
    if !fresh {
        return (Decision::Reject, "this requestId was already used".into());
    }
    match s.config.prynt.get_event(id).await {
        Ok(event) => decide_event(action, &f.email, &event),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Validation) => {
            (Decision::Reject, "unknown requestId".into())
        }
        // Prynt unreachable or failing: fail closed for sign-ups, ask for a second factor at
        // login.
        Err(e) => match action {
            Action::Signup => (Decision::Block, format!("Prynt could not be asked ({e})")),
            Action::Login => (
                Decision::Challenge,
                format!("Prynt could not be asked ({e})"),
            ),
        },
    }
}
