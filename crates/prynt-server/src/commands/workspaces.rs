//! `prynt workspaces create|update|list`.

use prynt_core::{timefmt, Plan, PlanLimits};
use prynt_store::StoreError;

use super::{open_store, runtime};
use crate::cli::{PlanArg, WorkspacesCommand};
use crate::CliError;

fn plan(p: PlanArg) -> Plan {
    match p {
        PlanArg::Starter => Plan::Starter,
        PlanArg::Pro => Plan::Pro,
        PlanArg::Enterprise => Plan::Enterprise,
    }
}

/// Parses `server=5000,mgmt=500,burst=200,identify=20000` over the pro defaults.
pub fn parse_limits(text: &str) -> Result<PlanLimits, CliError> {
    let mut limits = Plan::Pro.default_limits();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("--limits: expected name=value, got {part:?}"))
        })?;
        let value: u32 = value
            .trim()
            .parse()
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                CliError::Usage(format!("--limits: {name} must be a positive integer"))
            })?;
        match name.trim() {
            "server" => limits.server_per_min = value,
            "mgmt" => limits.mgmt_per_min = value,
            "burst" => limits.burst_per_sec = value,
            "identify" => limits.identify_per_sec = value,
            other => {
                return Err(CliError::Usage(format!(
                    "--limits: unknown limit {other:?} (server, mgmt, burst, identify)"
                )))
            }
        }
    }
    Ok(limits)
}

pub async fn run(cmd: WorkspacesCommand) -> Result<(), CliError> {
    match cmd {
        WorkspacesCommand::Create {
            name,
            plan: p,
            store,
        } => {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(CliError::Usage(
                    "a workspace name is 1 to 64 characters of letters, digits, - and _".into(),
                ));
            }
            let store = open_store(&store).await?;
            let ws = store
                .create_workspace(&name, plan(p))
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(m) => CliError::Runtime(m),
                    other => runtime(other),
                })?;
            store.close().await.map_err(runtime)?;
            println!("{}", ws.id);
        }
        WorkspacesCommand::Update {
            name,
            plan: p,
            limits,
            store,
        } => {
            let p = plan(p);
            let custom = match limits {
                Some(text) if p == Plan::Enterprise => Some(parse_limits(&text)?),
                Some(_) => return Err(CliError::Usage(
                    "--limits is only for the enterprise plan; starter and pro have fixed limits"
                        .into(),
                )),
                None => None,
            };
            let store = open_store(&store).await?;
            let ws = store
                .update_workspace_plan(&name, p, custom)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        CliError::Runtime(format!("no workspace named {name:?}"))
                    }
                    other => runtime(other),
                })?;
            store.close().await.map_err(runtime)?;
            let l = ws.limits();
            eprintln!(
                "{} is on {}: server {}/min, management {}/min, burst {}/s, identify {}/s",
                ws.name,
                ws.plan.as_str(),
                l.server_per_min,
                l.mgmt_per_min,
                l.burst_per_sec,
                l.identify_per_sec
            );
        }
        WorkspacesCommand::List { store } => {
            let store = open_store(&store).await?;
            println!("{:<16} {:<24} {:<10} CREATED", "ID", "NAME", "PLAN");
            for w in store.list_workspaces().await.map_err(runtime)? {
                println!(
                    "{:<16} {:<24} {:<10} {}",
                    w.id,
                    w.name,
                    w.plan.as_str(),
                    timefmt::rfc3339(w.created_at)
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_over_pro_defaults_and_reject_nonsense() {
        let l = parse_limits("server=5000, burst=200").unwrap();
        assert_eq!(l.server_per_min, 5000);
        assert_eq!(l.burst_per_sec, 200);
        assert_eq!(l.mgmt_per_min, 100);
        assert!(parse_limits("server=0").is_err());
        assert!(parse_limits("server=-1").is_err());
        assert!(parse_limits("speed=1").is_err());
        assert!(parse_limits("server").is_err());
    }
}
