//! `prynt keys create|list|revoke`.

use prynt_core::{timefmt, Environment, KeyType};
use prynt_store::StoreError;

use super::{open_store, runtime};
use crate::cli::{EnvArg, KeyTypeArg, KeysCommand};
use crate::CliError;

pub async fn run(cmd: KeysCommand) -> Result<(), CliError> {
    match cmd {
        KeysCommand::Create {
            env,
            key_type,
            workspace,
            store,
        } => {
            let store = open_store(&store).await?;
            let ws = store
                .workspace_by_name(&workspace)
                .await
                .map_err(runtime)?
                .ok_or_else(|| {
                    CliError::Runtime(format!(
                        "no workspace named {workspace:?}; create it with `prynt workspaces create {workspace}`"
                    ))
                })?;
            let env = match env {
                EnvArg::Test => Environment::Test,
                EnvArg::Live => Environment::Live,
            };
            let key_type = match key_type {
                KeyTypeArg::Secret => KeyType::Secret,
                KeyTypeArg::Public => KeyType::Public,
            };
            let (secret, record) = crate::api_keys::new_key(&ws.id, env, key_type);
            let saved = store.create_api_key(record).await.map_err(runtime)?;
            store.close().await.map_err(runtime)?;
            eprintln!(
                "created {} {} key {} for workspace {:?}; it is shown only once",
                env.as_str(),
                key_type.as_str(),
                saved.id,
                ws.name
            );
            println!("{secret}");
        }
        KeysCommand::List { workspace, store } => {
            let store = open_store(&store).await?;
            let ws_id = match &workspace {
                Some(name) => Some(
                    store
                        .workspace_by_name(name)
                        .await
                        .map_err(runtime)?
                        .ok_or_else(|| CliError::Runtime(format!("no workspace named {name:?}")))?
                        .id,
                ),
                None => None,
            };
            let names: std::collections::HashMap<String, String> = store
                .list_workspaces()
                .await
                .map_err(runtime)?
                .into_iter()
                .map(|w| (w.id, w.name))
                .collect();
            println!(
                "{:<18} {:<16} {:<5} {:<7} {:<20} {:<21} STATUS",
                "ID", "WORKSPACE", "ENV", "TYPE", "PREFIX", "CREATED"
            );
            for k in store
                .list_api_keys(ws_id.as_deref())
                .await
                .map_err(runtime)?
            {
                let status = match k.revoked_at {
                    Some(t) => format!("revoked {}", timefmt::rfc3339(t)),
                    None => "active".to_owned(),
                };
                println!(
                    "{:<18} {:<16} {:<5} {:<7} {:<20} {:<21} {}",
                    k.id,
                    names
                        .get(&k.workspace_id)
                        .map(String::as_str)
                        .unwrap_or("?"),
                    k.env.as_str(),
                    k.key_type.as_str(),
                    k.display_prefix,
                    timefmt::rfc3339(k.created_at),
                    status
                );
            }
        }
        KeysCommand::Revoke { id, store } => {
            let store = open_store(&store).await?;
            match store.revoke_api_key(&id).await {
                Ok(k) => eprintln!("revoked {} ({})", k.id, k.display_prefix),
                Err(StoreError::NotFound) => {
                    return Err(CliError::Runtime(format!("no key with id {id:?}")))
                }
                Err(e) => return Err(runtime(e)),
            }
            store.close().await.map_err(runtime)?;
        }
    }
    Ok(())
}
