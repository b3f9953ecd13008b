#include "switchyard/learn/csv.hpp"

namespace sy::learn {

Result<std::vector<CsvRow>> parse_csv(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  std::size_t line = 1;
  const std::size_t n = text.size();
  std::size_t i = 0;
  bool row_open = false;  // a field has started on this record
  while (i < n) {
    char c = text[i];
    if (c == '"' && field.empty()) {
      // Quoted field: runs to the closing quote; "" is a literal quote; line breaks are kept.
      const std::size_t start_line = line;
      ++i;
      bool closed = false;
      while (i < n) {
        char q = text[i];
        if (q == '"') {
          if (i + 1 < n && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        if (q == '\n') ++line;
        field.push_back(q);
        ++i;
      }
      if (!closed) return Error::bad_request("CSV: unterminated quoted field starting on line " + std::to_string(start_line));
      row_open = true;
      if (i < n && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        return Error::bad_request("CSV: unexpected character after closing quote on line " + std::to_string(line));
      continue;
    }
    if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
      row_open = true;
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      if (row_open || !field.empty()) {
        row.push_back(std::move(field));
        field.clear();
        rows.push_back(std::move(row));
        row.clear();
      }
      row_open = false;
      continue;
    }
    field.push_back(c);
    row_open = true;
    ++i;
  }
  if (row_open || !field.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace sy::learn
