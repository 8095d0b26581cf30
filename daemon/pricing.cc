#include "daemon/pricing.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/log.h"

namespace spanvault::daemon {
namespace {
// Distinct unpriced model names remembered; further names count as "(other)"
// so that a client sending random model names cannot grow memory.
constexpr size_t kMaxUnpricedNames = 10000;
// Provider/model pairs whose lookup each I/O thread remembers.
constexpr size_t kMaxCachedNames = 4096;
}  // namespace

Result<std::unique_ptr<Pricing>> Pricing::Create(std::vector<std::string> sources) {
  auto book = cost::LoadPriceBook(sources);
  if (!book) return Fail(book.error());
  return std::unique_ptr<Pricing>(new Pricing(std::move(sources), std::move(*book)));
}

Pricing::Pricing(std::vector<std::string> sources, std::shared_ptr<const cost::PriceBook> book)
    : sources_(std::move(sources)), book_(std::move(book)), no_model_(UnpricedCounter("")) {}

const cost::PriceBook* Pricing::Current() {
  struct Cached {
    const Pricing* owner = nullptr;
    uint64_t generation = 0;
    std::shared_ptr<const cost::PriceBook> book;
  };
  thread_local Cached cached;
  uint64_t gen = generation_.load(std::memory_order_acquire);
  if (cached.owner != this || cached.generation != gen) {
    std::lock_guard lock(mu_);
    cached.owner = this;
    cached.generation = generation_.load(std::memory_order_relaxed);
    cached.book = book_;
  }
  // The thread's own reference keeps the book alive: no shared count traffic
  // between threads per span.
  return cached.book.get();
}

void Pricing::Enrich(const span::SpanView& span, std::string& cost_json) {
  // Only model calls are priced; a tool or retrieval span without a model is
  // not "unpriced".
  const bool model_call = span.type == span::SpanType::kGeneration || span.type == span::SpanType::kEmbedding;
  if (span.model.empty()) {
    if (model_call) CountUnpriced(no_model_);
    return;
  }
  const cost::PriceBook* book = Current();
  // Name resolution (lowercasing, exact maps, patterns, dated names) depends
  // only on provider and model: cache it per thread for the current book,
  // with the model's unpriced counter, so that a span of an unknown model
  // takes no lock either.
  struct Name {
    cost::PriceBook::Found found;
    ShardedCounter* unpriced = nullptr;
  };
  struct NameCache {
    const cost::PriceBook* book = nullptr;
    std::unordered_map<std::string, Name> names;
    std::string key;
  };
  thread_local NameCache cache;
  if (cache.book != book) {
    cache.names.clear();
    cache.book = book;
  }
  cache.key.assign(span.provider);
  cache.key.push_back('\0');
  cache.key.append(span.model);
  auto it = cache.names.find(cache.key);
  if (it == cache.names.end()) {
    if (cache.names.size() >= kMaxCachedNames) cache.names.clear();
    it = cache.names.emplace(cache.key, Name{book->FindModel(span.provider, span.model), nullptr}).first;
  }
  Name& name = it->second;
  auto unpriced = [&] {
    if (name.unpriced == nullptr) name.unpriced = UnpricedCounter(span.model);
    CountUnpriced(name.unpriced);
  };
  if (name.found.model == nullptr || !span.has_usage) {
    unpriced();
    return;
  }
  cost::Match match = cost::PriceBook::At(name.found, span.start_ns, span.usage.input_tokens.value_or(0));
  auto cost = cost::PriceBook::Compute(match, span.usage);
  if (!cost) {
    unpriced();
    return;
  }
  cost::AppendCostJson(*cost, cost_json);
  priced_.Add();
}

ShardedCounter* Pricing::UnpricedCounter(std::string_view model) {
  std::lock_guard lock(mu_);
  auto it = unpriced_.find(model);
  if (it == unpriced_.end()) {
    if (unpriced_.size() >= kMaxUnpricedNames) model = "(other)";
    it = unpriced_.try_emplace(std::string(model), std::make_unique<ShardedCounter>()).first;
  }
  return it->second.get();
}

void Pricing::CountUnpriced(ShardedCounter* model_counter) {
  unpriced_total_.Add();
  model_counter->Add();
}

Status Pricing::Reload() {
  std::vector<std::string> sources;
  {
    std::lock_guard lock(mu_);
    sources = sources_;
  }
  return Reload(std::move(sources));
}

Status Pricing::Reload(std::vector<std::string> sources) {
  auto book = cost::LoadPriceBook(sources);
  std::lock_guard lock(mu_);
  ++reloads_;
  if (!book) {
    last_error_ = book.error().message;
    LOG_ERROR("price tables not reloaded; the previous ones stay in force", {{"error", last_error_}});
    return Fail(book.error());
  }
  size_t models = 0;
  for (const auto& t : (*book)->tables()) models += t->model_count();
  book_ = std::move(*book);
  sources_ = std::move(sources);
  last_error_.clear();
  generation_.fetch_add(1, std::memory_order_release);
  LOG_INFO("price tables reloaded", {{"tables", sources_.size() + 1}, {"models", models}});
  return {};
}

std::vector<std::pair<std::string, uint64_t>> Pricing::Unpriced() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  {
    std::lock_guard lock(mu_);
    for (const auto& [model, counter] : unpriced_) {
      if (uint64_t n = counter->Load()) out.emplace_back(model, n);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::string Pricing::StatusJson() const {
  nlohmann::json j;
  // The models seen most often without a price (all: `spanvault prices unpriced`).
  nlohmann::json top = nlohmann::json::array();
  for (const auto& [model, n] : Unpriced()) {
    if (top.size() == 5) break;
    top.push_back({{"model", model}, {"spans", n}});
  }
  j["unpriced_models"] = std::move(top);
  std::lock_guard lock(mu_);
  nlohmann::json tables = nlohmann::json::array();
  size_t models = 0;
  for (const auto& t : book_->tables()) {
    tables.push_back({{"source", t->source()}, {"models", t->model_count()}, {"skipped", t->skipped()}});
    models += t->model_count();
  }
  j["tables"] = std::move(tables);
  j["models"] = models;
  j["priced_spans"] = priced_.Load();
  j["unpriced_spans"] = unpriced_total_.Load();
  j["reloads"] = reloads_;
  if (!last_error_.empty()) j["last_reload_error"] = last_error_;
  return j.dump();
}

}  // namespace spanvault::daemon
