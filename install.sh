#!/usr/bin/env bash
# Build and install gitsign, gitsign-credential-cache and gitsign-sandbox, optionally
# configure git to use gitsign, and optionally run the offline demo.
#
#   ./install.sh [--prefix DIR] [--global | --repo PATH] [--demo]
#
#   --prefix DIR   install into DIR/bin (default: $HOME/.local)
#   --global       git config --global gpg.format x509, gpg.x509.program gitsign
#   --repo PATH    the same, for one repository only
#   --demo         sign and verify a commit and a tag in a throw-away repository, against
#                  the local Sigstore stack (gitsign-sandbox); needs no network
set -euo pipefail
cd "$(dirname "$0")"

prefix="${HOME}/.local"
scope=""
repo=""
demo=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --global) scope=global; shift ;;
    --repo) scope=repo; repo="$2"; shift 2 ;;
    --demo) demo=1; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v cargo >/dev/null || { echo "install.sh: cargo is needed (install Rust with rustup)" >&2; exit 1; }
command -v git >/dev/null || { echo "install.sh: git is needed" >&2; exit 1; }

echo "==> building (release)"
cargo build --release --workspace --bins
mkdir -p "$prefix/bin"
for b in gitsign gitsign-credential-cache gitsign-sandbox; do
  install -m 0755 "target/release/$b" "$prefix/bin/$b"
done
echo "==> installed gitsign, gitsign-credential-cache, gitsign-sandbox into $prefix/bin"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "    (add $prefix/bin to your PATH)";; esac

configure() { # $@ = git config scope args
  git config "$@" gpg.format x509
  git config "$@" gpg.x509.program gitsign
}
case "$scope" in
  global) configure --global; echo "==> git configured globally: gpg.format=x509, gpg.x509.program=gitsign" ;;
  repo) configure --file "$(git -C "$repo" rev-parse --absolute-git-dir)/config"
        echo "==> $repo configured: gpg.format=x509, gpg.x509.program=gitsign" ;;
esac

[ "$demo" = 1 ] || exit 0

export PATH="$prefix/bin:$PATH"
work=$(mktemp -d)
sandbox_pid=""
cleanup() { [ -n "$sandbox_pid" ] && kill "$sandbox_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

echo "==> demo: starting the local Sigstore stack (OIDC issuer, Fulcio CA, Rekor log) on loopback"
gitsign-sandbox serve --dir "$work/sandbox" --addr 127.0.0.1:0 >"$work/sandbox.log" 2>&1 &
sandbox_pid=$!
for _ in $(seq 1 100); do grep -q '^ready' "$work/sandbox.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$work/sandbox.log" || { cat "$work/sandbox.log" >&2; echo "sandbox did not start" >&2; exit 1; }
eval "$(gitsign-sandbox env --dir "$work/sandbox")"
SIGSTORE_ID_TOKEN="$(gitsign-sandbox token --dir "$work/sandbox" --email demo@example.test)"
export SIGSTORE_ID_TOKEN

export GIT_CONFIG_GLOBAL="$work/gitconfig" GIT_CONFIG_NOSYSTEM=1
git init -q "$work/repo"
cd "$work/repo"
git config user.name "Demo User"
git config user.email demo@example.test
git config gpg.format x509
git config gpg.x509.program gitsign

echo "==> git commit -S"
echo hello > hello.txt && git add hello.txt
git commit -q -S -m "A signed commit"
echo "==> git verify-commit HEAD"
git verify-commit HEAD
echo "==> git tag -s v1"
git tag -s v1 -m "A signed tag"
echo "==> git verify-tag v1"
git verify-tag v1
echo "==> git log --show-signature"
git log --show-signature -1
echo "==> %G? of HEAD: $(git log -1 --format=%G?)"
echo "demo complete: signed and verified a commit and a tag with the local Sigstore stack"
