#include "cost/price_stage.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "common/log.h"

namespace spanvault::cost {
namespace {
// Distinct unpriced model names remembered; further names count as "(other)"
// so that a client sending random model names cannot grow memory.
constexpr size_t kMaxUnpricedNames = 10000;
// Provider/model pairs whose lookup each I/O thread remembers.
constexpr size_t kMaxCachedNames = 4096;
}  // namespace

Result<std::unique_ptr<PriceStage>> PriceStage::Create(std::vector<std::string> sources) {
  auto book = LoadPriceBook(sources);
  if (!book) return Fail(book.error());
  return std::unique_ptr<PriceStage>(new PriceStage(std::move(sources), std::move(*book)));
}

PriceStage::PriceStage(std::vector<std::string> sources, std::shared_ptr<const PriceBook> book)
    : sources_(std::move(sources)), book_(std::move(book)), no_model_(UnpricedCounter("")) {}

const PriceBook* PriceStage::Current() {
  struct Cached {
    const PriceStage* owner = nullptr;
    uint64_t generation = 0;
    std::shared_ptr<const PriceBook> book;
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

void PriceStage::Apply(span::Batch& batch) {
  if (batch.to_price.empty()) return;
  // Costs of the priced spans, one after another, and where each goes.
  thread_local std::string costs;
  thread_local std::vector<std::pair<const span::PriceInput*, uint32_t>> priced;  // input, end in `costs`
  costs.clear();
  priced.clear();
  for (const span::PriceInput& p : batch.to_price) {
    const size_t before = costs.size();
    Price(batch, p, costs);
    if (costs.size() != before) priced.emplace_back(&p, static_cast<uint32_t>(costs.size()));
  }
  if (!priced.empty()) {
    // One pass: copy the data up to each cost's place, then the cost, moving
    // every later span by what was inserted so far.
    std::string out;
    out.reserve(batch.data.size() + costs.size());
    size_t copied = 0, cost_begin = 0, next = 0;
    uint32_t shift = 0;
    for (size_t i = 0; i < batch.spans.size(); ++i) {
      span::EncodedSpan& s = batch.spans[i];
      s.offset += shift;
      while (next < priced.size() && priced[next].first->span == i) {
        const uint32_t at = priced[next].first->cost_at;
        out.append(batch.data, copied, at - copied);
        copied = at;
        const uint32_t n = priced[next].second - static_cast<uint32_t>(cost_begin);
        out.append(costs, cost_begin, n);
        cost_begin = priced[next].second;
        shift += n;
        s.length += n;
        ++next;
      }
    }
    out.append(batch.data, copied, std::string::npos);
    batch.data.swap(out);
  }
  batch.to_price.clear();
  batch.price_names.clear();
}

void PriceStage::Price(const span::Batch& batch, const span::PriceInput& span, std::string& cost_json) {
  const std::string_view model = batch.Model(span), provider = batch.Provider(span);
  // Only model calls are priced; a tool or retrieval span without a model is
  // not "unpriced".
  const bool model_call = span.type == span::SpanType::kGeneration || span.type == span::SpanType::kEmbedding;
  if (model.empty()) {
    if (model_call) CountUnpriced(no_model_);
    return;
  }
  const PriceBook* book = Current();
  // Name resolution (lowercasing, exact maps, patterns, dated names) depends
  // only on provider and model: cache it per thread for the current book,
  // with the model's unpriced counter, so that a span of an unknown model
  // takes no lock either.
  struct Name {
    PriceBook::Found found;
    ShardedCounter* unpriced = nullptr;
  };
  struct NameCache {
    const PriceBook* book = nullptr;
    std::unordered_map<std::string, Name> names;
    std::string key;
  };
  thread_local NameCache cache;
  if (cache.book != book) {
    cache.names.clear();
    cache.book = book;
  }
  cache.key.assign(provider);
  cache.key.push_back('\0');
  cache.key.append(model);
  auto it = cache.names.find(cache.key);
  if (it == cache.names.end()) {
    if (cache.names.size() >= kMaxCachedNames) cache.names.clear();
    it = cache.names.emplace(cache.key, Name{book->FindModel(provider, model), nullptr}).first;
  }
  Name& name = it->second;
  auto unpriced = [&] {
    if (name.unpriced == nullptr) name.unpriced = UnpricedCounter(model);
    CountUnpriced(name.unpriced);
  };
  if (name.found.model == nullptr || !span.has_usage) {
    unpriced();
    return;
  }
  Match match = PriceBook::At(name.found, span.start_ns, span.usage.input_tokens.value_or(0));
  auto cost = PriceBook::Compute(match, span.usage);
  if (!cost) {
    unpriced();
    return;
  }
  cost_json.append(",\"cost\":");
  AppendCostJson(*cost, cost_json);
  priced_.Add();
}

ShardedCounter* PriceStage::UnpricedCounter(std::string_view model) {
  std::lock_guard lock(mu_);
  auto it = unpriced_.find(model);
  if (it == unpriced_.end()) {
    if (unpriced_.size() >= kMaxUnpricedNames) model = "(other)";
    it = unpriced_.try_emplace(std::string(model), std::make_unique<ShardedCounter>()).first;
  }
  return it->second.get();
}

void PriceStage::CountUnpriced(ShardedCounter* model_counter) {
  unpriced_total_.Add();
  model_counter->Add();
}

Status PriceStage::Reload() {
  std::vector<std::string> sources;
  {
    std::lock_guard lock(mu_);
    sources = sources_;
  }
  return Reload(std::move(sources));
}

Status PriceStage::Reload(std::vector<std::string> sources) {
  auto book = LoadPriceBook(sources);
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

std::vector<std::pair<std::string, uint64_t>> PriceStage::Unpriced() const {
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

std::string PriceStage::StatusJson() const {
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

}  // namespace spanvault::cost
