#pragma once
// Pre-tokenisation: splitting text into the pieces that BPE then merges, exactly as tiktoken's regexes
// do, written as hand-made scanners (no backtracking regex engine). Pure functions: thread-safe.
//
// cl100k_base:
//   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|
//   \s+(?!\S)|\s+
// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//   \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// Semantics follow the Rust regex crate that tiktoken uses: `\s` is Unicode White_Space, `(?i)` uses
// simple case folding (so `'ſ` is a contraction like `'s`). Bytes that are not valid UTF-8 are taken one
// at a time as characters of no class (they fall into `[^\s\p{L}\p{N}]`).
#include <cstddef>
#include <string_view>

namespace sy::tokenize::detail {

/// End (exclusive byte offset) of the piece that starts at `pos`; requires pos < text.size().
std::size_t next_piece_cl100k(std::string_view text, std::size_t pos);
std::size_t next_piece_o200k(std::string_view text, std::size_t pos);

}  // namespace sy::tokenize::detail
