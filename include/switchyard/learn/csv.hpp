#pragma once
/// RFC 4180 CSV reading: comma-separated, `"`-quoted fields that may contain commas, doubled quotes and
/// line breaks; LF or CRLF record ends; an optional UTF-8 byte-order mark. Pure functions, thread-safe.
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::learn {

using CsvRow = std::vector<std::string>;

/// Parses a whole CSV document into rows of decoded fields. A trailing line break does not start an
/// empty row. Errors (bad_request) name the 1-based line of an unterminated quote or a stray quote.
Result<std::vector<CsvRow>> parse_csv(std::string_view text);

}  // namespace sy::learn
