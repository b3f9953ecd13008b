#include "switchyard/tokenize/token_counter.hpp"

#include "tokenize/pretokenize.hpp"

namespace sy::tokenize {

// Placeholder until calibrated.
std::size_t estimate_tokens(std::string_view text) { return (text.size() + 3) / 4; }

}  // namespace sy::tokenize
