#include "switchyard/embed/use_lite_embedder.hpp"
namespace sy::embed {
struct UseLiteEmbedder::Model {};
std::string UseLiteEmbedder::default_model_path() { return "/nonexistent"; }
Result<std::shared_ptr<const UseLiteEmbedder>> UseLiteEmbedder::load(const std::string&) { return Error::make(ErrorKind::internal, "todo"); }
UseLiteEmbedder::UseLiteEmbedder(std::unique_ptr<Model> m) : model_(std::move(m)) {}
UseLiteEmbedder::~UseLiteEmbedder() = default;
Embedding UseLiteEmbedder::embed(std::string_view) const { return {}; }
std::size_t UseLiteEmbedder::memory_bytes() const { return 0; }
std::vector<std::int32_t> UseLiteEmbedder::tokenize(std::string_view) const { return {}; }
void UseLiteEmbedder::encode(const std::vector<std::int32_t>&, float*) const {}
}
