//! The backend conformance suite run against the PostgreSQL store, each check on a fresh
//! database of the server named by `PRYNT_TEST_DATABASE_URL` (dropped afterwards).

use std::sync::Arc;

use prynt_store::Store;

mod pg_support;

prynt_store::conformance_tests!(|| async {
    let db = pg_support::FreshDatabase::new().await;
    let store = db.store().await;
    (Arc::new(store) as Arc<dyn Store>, db)
});
