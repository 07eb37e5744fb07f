# Set-up steps shared by scripts/run and scripts/test. Each step is idempotent and installs only
# what is missing, so a fresh machine and a warm one run the same commands.

ensure_rust_components() {
    if ! cargo fmt --version >/dev/null 2>&1; then
        rustup component add rustfmt
    fi
    if ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add clippy
    fi
}
