// The dead-letter store (contract: dead_letters.h; the format: store_format.h).
//
// Writes go straight to the main database under the queue's write_mu_ (like
// Ack), not through the writer thread. The in-memory index (id -> bytes)
// keeps the bounds cheap; dropping the oldest entries is one DeleteRange plus
// the persisted "dead_letter_head" floor, exactly as for the quarantine.
// Replay and purge delete single ids (the selection need not be contiguous).
#include "buffer/dead_letters.h"

#include <rocksdb/write_batch.h>

#include <algorithm>
#include <future>
#include <nlohmann/json.hpp>

#include "buffer/span_queue_impl.h"
#include "buffer/store_format.h"
#include "common/log.h"
#include "common/util.h"

namespace spanvault::buffer {
namespace {

using internal::DecodeSeq;
using internal::FromRocks;
using internal::SeqKey;

constexpr size_t kResponseExcerpt = 4096;

std::string EncodeValue(const DeadLetter& d) {
  nlohmann::ordered_json meta;
  meta["time"] = FormatRfc3339(d.time_ns);
  meta["upstream"] = d.upstream;
  meta["seq"] = d.seq;
  meta["status"] = d.status;
  meta["reason"] = d.reason;
  meta["response"] = d.response.substr(0, kResponseExcerpt);
  std::string v = meta.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  v.push_back('\n');
  v += d.span_json;
  return v;
}

bool DecodeValue(uint64_t id, const rocksdb::Slice& value, DeadLetter* out) {
  std::string_view v(value.data(), value.size());
  size_t nl = v.find('\n');
  if (nl == std::string_view::npos) return false;
  auto meta = nlohmann::json::parse(v.substr(0, nl), nullptr, false);
  if (!meta.is_object()) return false;
  out->id = id;
  out->upstream = meta.value("upstream", "");
  out->time_ns = ParseRfc3339(meta.value("time", "")).value_or(0);
  out->seq = meta.value("seq", uint64_t{0});
  out->status = meta.value("status", 0);
  out->reason = meta.value("reason", "");
  out->response = meta.value("response", "");
  out->span_json = std::string(v.substr(nl + 1));
  return true;
}

bool Selected(const DeadLetterFilter& f, const DeadLetter& d) {
  if (!f.upstream.empty() && d.upstream != f.upstream) return false;
  if (!f.ids.empty() && std::find(f.ids.begin(), f.ids.end(), d.id) == f.ids.end()) return false;
  return true;
}

// Allocation failure is the only exception left; it becomes an error value.
template <typename F>
auto NoThrow(std::string_view what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Fail(Error::Io("span queue: " + std::string(what) + ": " + e.what()));
  }
}

}  // namespace

std::string DeadLetter::ToJson() const {
  nlohmann::ordered_json j;
  j["id"] = id;
  j["time"] = FormatRfc3339(time_ns);
  j["upstream"] = upstream;
  j["seq"] = seq;
  j["status"] = status;
  j["reason"] = reason;
  j["response"] = response;
  std::string out = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  out.pop_back();  // '}'
  out += ",\"span\":";
  out += span_json.empty() ? std::string("null") : span_json;
  out.push_back('}');
  return out;
}

Status DeadLetterStore::Add(std::vector<DeadLetter> letters) {
  return NoThrow("adding dead letters", [&] { return AddImpl(std::move(letters)); });
}

void DeadLetterStore::AddAsync(std::vector<DeadLetter> letters, std::function<void(Status)> done) {
  auto shared = std::make_shared<std::function<void(Status)>>(std::move(done));
  const bool queued =
      q_.Post([this, letters = std::move(letters), shared]() mutable { (*shared)(Add(std::move(letters))); });
  if (!queued) (*shared)(Fail(Error::Unavailable("span queue is closed")));
}

Result<std::vector<DeadLetter>> DeadLetterStore::List(const DeadLetterFilter& filter, size_t limit) const {
  return NoThrow("listing dead letters", [&] { return ListImpl(filter, limit); });
}

Result<size_t> DeadLetterStore::Replay(const DeadLetterFilter& filter) {
  return NoThrow("replaying dead letters", [&] { return ReplayImpl(filter); });
}

Result<size_t> DeadLetterStore::Purge(const DeadLetterFilter& filter) {
  return NoThrow("purging dead letters", [&] { return PurgeImpl(filter); });
}

uint64_t DeadLetterStore::entries() const {
  std::lock_guard lk(q_.state_mu_);
  return index_.size();
}

Status DeadLetterStore::RecoverLocked(uint64_t floor) {
  index_.clear();
  bytes_ = 0;
  next_id_ = floor;
  if (q_.dead_letter_cf_ == nullptr) return {};
  internal::SeqRangeIterator it(q_.db_.get(), q_.dead_letter_cf_, floor);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto id = DecodeSeq(it->key());
    if (!id) continue;
    uint64_t bytes = it->key().size() + it->value().size();
    index_[*id] = bytes;
    bytes_ += bytes;
    next_id_ = std::max(next_id_, *id + 1);
  }
  if (!it->status().ok()) return Fail(FromRocks("scanning dead letters", it->status()));
  return {};
}

Status DeadLetterStore::AddImpl(std::vector<DeadLetter> letters) {
  if (letters.empty()) return {};
  std::shared_lock db_lock(q_.db_mu_);
  if (auto st = q_.CheckWritable(); !st) return st;
  if (q_.dead_letter_cf_ == nullptr) return Fail(Error::Unavailable("span store has no dead-letter store"));
  std::vector<std::string> values;
  values.reserve(letters.size());
  for (const DeadLetter& d : letters) values.push_back(EncodeValue(d));

  std::lock_guard write_lock(q_.write_mu_);
  uint64_t first_id;
  std::vector<uint64_t> drop;  // oldest existing ids that go to keep the bounds
  uint64_t drop_bytes = 0;
  {
    std::lock_guard lk(q_.state_mu_);
    first_id = next_id_;
    uint64_t entries = index_.size() + letters.size();
    uint64_t bytes = bytes_;
    for (const auto& v : values) bytes += 8 + v.size();
    for (auto it = index_.begin(); it != index_.end() && (entries > q_.options_.dead_letter_max_entries ||
                                                          bytes > q_.options_.dead_letter_max_bytes);
         ++it) {
      drop.push_back(it->first);
      drop_bytes += it->second;
      bytes -= it->second;
      --entries;
    }
  }
  rocksdb::WriteBatch wb;
  for (size_t i = 0; i < values.size(); ++i) wb.Put(q_.dead_letter_cf_, SeqKey(first_id + i), values[i]);
  if (!drop.empty()) {
    // Everything below the first survivor goes (already deleted ids in the
    // range cost nothing); the floor keeps recovery from scanning it.
    uint64_t below = drop.back() + 1;
    wb.DeleteRange(q_.dead_letter_cf_, SeqKey(1), SeqKey(below));
    wb.Put(q_.meta_cf_, internal::kDeadLetterHeadKey, SeqKey(below));
  }
  rocksdb::WriteOptions wo;
  wo.sync = q_.options_.durability == Durability::kMachine;
  rocksdb::Status s = q_.db_->Write(wo, &wb);
  if (!s.ok()) return Fail(FromRocks("adding dead letters", s));
  q_.wal_dirty_ = true;
  std::lock_guard lk(q_.state_mu_);
  for (uint64_t id : drop) index_.erase(id);
  bytes_ -= drop_bytes;
  for (size_t i = 0; i < values.size(); ++i) {
    index_[first_id + i] = 8 + values[i].size();
    bytes_ += 8 + values[i].size();
  }
  next_id_ = first_id + values.size();
  total_ += values.size();
  if (!drop.empty()) {
    dropped_ += drop.size();
    LOG_WARN("dead-letter store full: dropped the oldest entries",
             {{"dropped", drop.size()}, {"max_entries", q_.options_.dead_letter_max_entries}});
  }
  return {};
}

Result<std::vector<DeadLetter>> DeadLetterStore::ListImpl(const DeadLetterFilter& filter, size_t limit) const {
  std::shared_lock db_lock(q_.db_mu_);
  if (!q_.db_) return Fail(Error::Unavailable("span queue is closed"));
  std::vector<DeadLetter> out;
  if (q_.dead_letter_cf_ == nullptr || limit == 0) return out;
  uint64_t lo, hi;
  {
    std::lock_guard lk(q_.state_mu_);
    hi = next_id_;
    lo = index_.empty() ? hi : index_.begin()->first;
  }
  if (q_.read_only_) lo = 1, hi = 0;  // a secondary's index is not maintained
  internal::SeqRangeIterator it(q_.db_.get(), q_.dead_letter_cf_, lo, hi);
  for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev()) {
    auto id = DecodeSeq(it->key());
    DeadLetter d;
    if (!id || !DecodeValue(*id, it->value(), &d)) continue;
    if (Selected(filter, d)) out.push_back(std::move(d));
  }
  if (!it->status().ok()) return Fail(FromRocks("listing dead letters", it->status()));
  return out;
}

Result<size_t> DeadLetterStore::PurgeImpl(const DeadLetterFilter& filter) {
  auto selected = ListImpl(filter, SIZE_MAX);
  if (!selected) return Fail(selected.error());
  if (selected->empty()) return size_t{0};
  std::shared_lock db_lock(q_.db_mu_);
  if (auto st = q_.CheckWritable(); !st) return Fail(st.error());
  std::lock_guard write_lock(q_.write_mu_);
  rocksdb::WriteBatch wb;
  for (const DeadLetter& d : *selected) wb.Delete(q_.dead_letter_cf_, SeqKey(d.id));
  rocksdb::Status s = q_.db_->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return Fail(FromRocks("purging dead letters", s));
  q_.wal_dirty_ = true;
  std::lock_guard lk(q_.state_mu_);
  for (const DeadLetter& d : *selected) {
    auto it = index_.find(d.id);
    if (it == index_.end()) continue;
    bytes_ -= it->second;
    index_.erase(it);
  }
  return selected->size();
}

Result<size_t> DeadLetterStore::ReplayImpl(const DeadLetterFilter& filter) {
  auto selected = ListImpl(filter, SIZE_MAX);
  if (!selected) return Fail(selected.error());
  if (selected->empty()) return size_t{0};
  span::Batch batch;
  batch.received_ns = NowNanos();
  for (auto it = selected->rbegin(); it != selected->rend(); ++it) {  // oldest first
    batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), static_cast<uint32_t>(it->span_json.size())});
    batch.data += it->span_json;
  }
  std::promise<StoreResult> appended;
  auto result = appended.get_future();
  q_.Append(std::move(batch), /*fsync=*/true, [&appended](const StoreResult& r) { appended.set_value(r); });
  StoreResult r = result.get();
  if (!r.ok) return Fail(Error::Io("replaying dead letters: " + r.error));
  if (r.refused_full > 0) {
    return Fail(Error::Full("replaying dead letters: the buffer is full (on_full = reject); the entries stay (" +
                            std::to_string(r.stored) + " of them were queued again)"));
  }
  // Now durable in the queue: the entries can go. A crash before this point
  // leaves them in both places (replayed again later: at least once).
  DeadLetterFilter ids;
  for (const DeadLetter& d : *selected) ids.ids.push_back(d.id);
  if (auto purged = PurgeImpl(ids); !purged) return Fail(purged.error());
  return selected->size();
}

}  // namespace spanvault::buffer
