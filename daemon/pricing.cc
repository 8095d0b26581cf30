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
    : sources_(std::move(sources)), book_(std::move(book)) {}

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
    if (model_call) CountUnpriced("");
    return;
  }
  if (!span.has_usage) {
    CountUnpriced(span.model);
    return;
  }
  const cost::PriceBook* book = Current();
  // Name resolution (lowercasing, exact maps, patterns, dated names) depends
  // only on provider and model: cache it per thread for the current book.
  struct NameCache {
    const cost::PriceBook* book = nullptr;
    std::unordered_map<std::string, cost::PriceBook::Found> found;
    std::string key;
  };
  thread_local NameCache names;
  if (names.book != book) {
    names.found.clear();
    names.book = book;
  }
  names.key.assign(span.provider);
  names.key.push_back('\0');
  names.key.append(span.model);
  auto it = names.found.find(names.key);
  if (it == names.found.end()) {
    if (names.found.size() >= kMaxCachedNames) names.found.clear();
    it = names.found.emplace(names.key, book->FindModel(span.provider, span.model)).first;
  }
  if (it->second.model == nullptr) {
    CountUnpriced(span.model);
    return;
  }
  cost::Match match = cost::PriceBook::At(it->second, span.start_ns, span.usage.input_tokens.value_or(0));
  auto cost = cost::PriceBook::Compute(match, span.usage);
  if (!cost) {
    CountUnpriced(span.model);
    return;
  }
  cost::AppendCostJson(*cost, cost_json);
  priced_.Add();
}

void Pricing::CountUnpriced(std::string_view model) {
  unpriced_total_.Add();
  std::lock_guard lock(mu_);
  auto it = unpriced_.find(model);
  if (it != unpriced_.end()) {
    ++it->second;
  } else if (unpriced_.size() < kMaxUnpricedNames) {
    unpriced_.emplace(std::string(model), 1);
  } else {
    ++unpriced_["(other)"];
  }
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
    out.assign(unpriced_.begin(), unpriced_.end());
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
