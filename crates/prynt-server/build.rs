//! Rebuilds the server when the dashboard's built assets change. The assets are embedded at
//! compile time from `dashboard/dist`, whose files are named by content hash: without this,
//! a new build of the dashboard would not reach a binary that cargo thinks is up to date.
fn main() {
    println!("cargo:rerun-if-changed=../../dashboard/dist");
}
