//! A fresh database per test on the PostgreSQL server named by `PRYNT_TEST_DATABASE_URL`,
//! dropped when the test ends.

use prynt_store::postgres::{admin, PostgresOptions, PostgresStore};

pub fn admin_url() -> String {
    std::env::var("PRYNT_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "PRYNT_TEST_DATABASE_URL is not set: these tests need a PostgreSQL server; run them \
             through scripts/test, or `eval \"$(scripts/services start)\"` first"
        )
    })
}

/// A fresh database, dropped when this goes.
pub struct FreshDatabase {
    name: String,
    pub url: String,
}

impl FreshDatabase {
    pub async fn new() -> Self {
        let name = format!("prynt_test_{}", prynt_core::ids::random_hex(12));
        let url = admin::create_database(&admin_url(), &name)
            .await
            .expect("create a test database");
        FreshDatabase { name, url }
    }

    /// A store (a node) on this database, its schema migrated.
    pub async fn store(&self) -> PostgresStore {
        PostgresStore::open(
            &self.url,
            PostgresOptions {
                pool_size: 4,
                ..Default::default()
            },
        )
        .await
        .expect("open the store")
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let (url, name) = (admin_url(), self.name.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(admin::drop_database(&url, &name))
        })
        .join();
    }
}
