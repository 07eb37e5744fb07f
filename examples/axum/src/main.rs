//! Serves the example app: `PRYNT_PUBLIC_KEY=pk_… PRYNT_SECRET_KEY=sk_… cargo run -p
//! prynt-example-axum`. Settings (environment): PRYNT_BASE_URL (the Prynt server, default
//! http://127.0.0.1:8080), PORT (default 3001), HOST (default 127.0.0.1).

use std::process::ExitCode;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> ExitCode {
    let (Ok(public_key), Ok(secret_key)) = (
        std::env::var("PRYNT_PUBLIC_KEY"),
        std::env::var("PRYNT_SECRET_KEY"),
    ) else {
        eprintln!("Set PRYNT_PUBLIC_KEY (pk_…) and PRYNT_SECRET_KEY (sk_…): the keys `prynt serve` printed.");
        return ExitCode::from(2);
    };
    let prynt_url = env_or("PRYNT_BASE_URL", "http://127.0.0.1:8080");
    let prynt = match prynt_client::Client::builder(secret_key)
        .base_url(prynt_url.clone())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let app = prynt_example_axum::app(prynt_example_axum::Config {
        prynt,
        public_key,
        prynt_url,
    });
    let addr = format!("{}:{}", env_or("HOST", "127.0.0.1"), env_or("PORT", "3001"));
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("example listening on http://{addr}");
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
