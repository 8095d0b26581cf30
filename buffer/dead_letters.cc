// The dead-letter store: spans an upstream refused for good (docs/durability.md), with
// the answer that refused them, for `spanvault dead-letter list|replay|purge`.
//
// Writes go straight to RocksDB under write_mu_ (like Ack), not through the
// writer thread: they are rare, and the forwarder must know an entry is in the
// WAL before it acknowledges the span's seq. The in-memory index (id → bytes)
// keeps the bounds cheap; dropping the oldest entries is one DeleteRange plus
// the persisted "dead_letter_head" floor, exactly as for the quarantine.
// Replay and purge delete single ids (the selection need not be contiguous).
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

Status SpanQueue::Impl::RecoverDeadLetters(uint64_t floor) {
  dead_letters_.clear();
  dead_letter_bytes_ = 0;
  next_dead_letter_id_ = floor;
  if (dead_letter_cf_ == nullptr) return {};
  internal::SeqRangeIterator it(db_.get(), dead_letter_cf_, floor);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto id = DecodeSeq(it->key());
    if (!id) continue;
    uint64_t bytes = it->key().size() + it->value().size();
    dead_letters_[*id] = bytes;
    dead_letter_bytes_ += bytes;
    next_dead_letter_id_ = std::max(next_dead_letter_id_, *id + 1);
  }
  if (!it->status().ok()) return Fail(FromRocks("scanning dead letters", it->status()));
  return {};
}

Status SpanQueue::Impl::AddDeadLetters(std::vector<DeadLetter> letters) {
  if (letters.empty()) return {};
  std::shared_lock db_lock(db_mu_);
  if (auto st = CheckWritable(); !st) return st;
  if (dead_letter_cf_ == nullptr) return Fail(Error::Unavailable("span store has no dead-letter store"));
  std::vector<std::string> values;
  values.reserve(letters.size());
  for (const DeadLetter& d : letters) values.push_back(EncodeValue(d));

  std::lock_guard write_lock(write_mu_);
  uint64_t first_id;
  std::vector<uint64_t> drop;  // oldest existing ids that go to keep the bounds
  uint64_t drop_bytes = 0;
  {
    std::lock_guard lk(state_mu_);
    first_id = next_dead_letter_id_;
    uint64_t entries = dead_letters_.size() + letters.size();
    uint64_t bytes = dead_letter_bytes_;
    for (const auto& v : values) bytes += 8 + v.size();
    for (auto it = dead_letters_.begin(); it != dead_letters_.end() && (entries > options_.dead_letter_max_entries ||
                                                                        bytes > options_.dead_letter_max_bytes);
         ++it) {
      drop.push_back(it->first);
      drop_bytes += it->second;
      bytes -= it->second;
      --entries;
    }
  }
  rocksdb::WriteBatch wb;
  for (size_t i = 0; i < values.size(); ++i) wb.Put(dead_letter_cf_, SeqKey(first_id + i), values[i]);
  if (!drop.empty()) {
    // Everything below the first survivor goes (already deleted ids in the
    // range cost nothing); the floor keeps recovery from scanning it.
    uint64_t below = drop.back() + 1;
    wb.DeleteRange(dead_letter_cf_, SeqKey(1), SeqKey(below));
    wb.Put(meta_cf_, internal::kDeadLetterHeadKey, SeqKey(below));
  }
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kMachine;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) return Fail(FromRocks("adding dead letters", s));
  wal_dirty_ = true;
  std::lock_guard lk(state_mu_);
  for (uint64_t id : drop) dead_letters_.erase(id);
  dead_letter_bytes_ -= drop_bytes;
  for (size_t i = 0; i < values.size(); ++i) {
    dead_letters_[first_id + i] = 8 + values[i].size();
    dead_letter_bytes_ += 8 + values[i].size();
  }
  next_dead_letter_id_ = first_id + values.size();
  counters_.dead_letters_total += values.size();
  if (!drop.empty()) {
    counters_.dead_letters_dropped += drop.size();
    LOG_WARN("dead-letter store full: dropped the oldest entries",
             {{"dropped", drop.size()}, {"max_entries", options_.dead_letter_max_entries}});
  }
  return {};
}

Result<std::vector<DeadLetter>> SpanQueue::Impl::ListDeadLetters(const DeadLetterFilter& filter, size_t limit) const {
  std::shared_lock db_lock(db_mu_);
  if (!db_) return Fail(Error::Unavailable("span queue is closed"));
  std::vector<DeadLetter> out;
  if (dead_letter_cf_ == nullptr || limit == 0) return out;
  uint64_t lo, hi;
  {
    std::lock_guard lk(state_mu_);
    hi = next_dead_letter_id_;
    lo = dead_letters_.empty() ? hi : dead_letters_.begin()->first;
  }
  if (read_only_) lo = 1, hi = 0;  // a secondary's index is not maintained
  internal::SeqRangeIterator it(db_.get(), dead_letter_cf_, lo, hi);
  for (it->SeekToLast(); it->Valid() && out.size() < limit; it->Prev()) {
    auto id = DecodeSeq(it->key());
    DeadLetter d;
    if (!id || !DecodeValue(*id, it->value(), &d)) continue;
    if (Selected(filter, d)) out.push_back(std::move(d));
  }
  if (!it->status().ok()) return Fail(FromRocks("listing dead letters", it->status()));
  return out;
}

Result<size_t> SpanQueue::Impl::PurgeDeadLetters(const DeadLetterFilter& filter) {
  auto selected = ListDeadLetters(filter, SIZE_MAX);
  if (!selected) return Fail(selected.error());
  if (selected->empty()) return size_t{0};
  std::shared_lock db_lock(db_mu_);
  if (auto st = CheckWritable(); !st) return Fail(st.error());
  std::lock_guard write_lock(write_mu_);
  rocksdb::WriteBatch wb;
  for (const DeadLetter& d : *selected) wb.Delete(dead_letter_cf_, SeqKey(d.id));
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return Fail(FromRocks("purging dead letters", s));
  wal_dirty_ = true;
  std::lock_guard lk(state_mu_);
  for (const DeadLetter& d : *selected) {
    auto it = dead_letters_.find(d.id);
    if (it == dead_letters_.end()) continue;
    dead_letter_bytes_ -= it->second;
    dead_letters_.erase(it);
  }
  return selected->size();
}

Result<size_t> SpanQueue::Impl::ReplayDeadLetters(const DeadLetterFilter& filter) {
  auto selected = ListDeadLetters(filter, SIZE_MAX);
  if (!selected) return Fail(selected.error());
  if (selected->empty()) return size_t{0};
  span::Batch batch;
  batch.received_ns = NowNanos();
  for (auto it = selected->rbegin(); it != selected->rend(); ++it) {  // oldest first
    batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), static_cast<uint32_t>(it->span_json.size())});
    batch.data += it->span_json;
  }
  std::promise<AppendResult> appended;
  auto result = appended.get_future();
  Append(std::move(batch), /*fsync=*/true, [&appended](const AppendResult& r) { appended.set_value(r); });
  AppendResult r = result.get();
  if (!r.ok) return Fail(Error::Io("replaying dead letters: " + r.error));
  if (r.refused_full > 0) {
    return Fail(Error::Full("replaying dead letters: the buffer is full (on_full = reject); the entries stay (" +
                            std::to_string(r.stored) + " of them were queued again)"));
  }
  // Now durable in the queue: the entries can go. A crash before this point
  // leaves them in both places (replayed again later: at least once).
  DeadLetterFilter ids;
  for (const DeadLetter& d : *selected) ids.ids.push_back(d.id);
  if (auto purged = PurgeDeadLetters(ids); !purged) return Fail(purged.error());
  return selected->size();
}

}  // namespace spanvault::buffer
