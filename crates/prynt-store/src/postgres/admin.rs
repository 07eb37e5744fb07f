//! Creating and dropping whole databases on a PostgreSQL server, for tests that give each
//! store a database of its own, and running plain SQL on one (tests that age or inspect stored
//! rows).

use tokio_postgres::NoTls;

use crate::{StoreError, StoreResult};

/// `url` with its database replaced by `database` (its query string kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    }
}

/// Whether `name` is safe to splice into SQL as a database name.
fn plain_name(name: &str) -> StoreResult<&str> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Backend(format!(
            "not a plain database name: {name:?}"
        )))
    }
}

async fn admin(url: &str) -> StoreResult<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Creates database `name` (lower-case letters, digits, `_`) on the server of `admin_url`, a
/// role allowed to, and returns the URL of the new database.
pub async fn create_database(admin_url: &str, name: &str) -> StoreResult<String> {
    let name = plain_name(name)?;
    admin(admin_url)
        .await?
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await?;
    Ok(with_database(admin_url, name))
}

/// Drops database `name`, disconnecting whoever is still connected to it.
pub async fn drop_database(admin_url: &str, name: &str) -> StoreResult<()> {
    let name = plain_name(name)?;
    admin(admin_url)
        .await?
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok(())
}

/// Runs `sql` (one or more statements, no parameters) on the database at `url`; how many rows
/// the statements changed.
pub async fn execute(url: &str, sql: &str) -> StoreResult<u64> {
    let messages = admin(url).await?.simple_query(sql).await?;
    Ok(messages
        .iter()
        .map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => *n,
            _ => 0,
        })
        .sum())
}

/// The rows of a query (no parameters) on the database at `url`, every value as text.
pub async fn query_text(url: &str, sql: &str) -> StoreResult<Vec<Vec<Option<String>>>> {
    let messages = admin(url).await?.simple_query(sql).await?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced_and_its_options_kept() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "t1"),
            "postgres://u@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h:1/postgres?sslmode=disable", "t2"),
            "postgres://u@h:1/t2?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:1", "t3"),
            "postgres://u@h:1/t3"
        );
        assert!(plain_name("prynt_test_0a").is_ok());
        assert!(plain_name("x; DROP").is_err());
    }
}
