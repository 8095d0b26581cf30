// See trace_index.h; the keys are in store_format.h ("The index database").
// The indexer thread: Loop → IndexSome (read a batch of new spans, update the
// summaries and keys, one write with the WAL off) → DropBelow (the traces
// the head passed). Queries: Summary, Seqs, Scan.
#include "buffer/trace_index.h"

#include <pthread.h>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "buffer/span_queue.h"
#include "buffer/store_format.h"
#include "common/log.h"

namespace spanvault::buffer {
namespace {

using internal::DecodeSeq;
using internal::SeqKey;

constexpr char kNextKey[] = "mnext";

std::string TraceKey(std::string_view trace_id) { return "t" + std::string(trace_id); }

std::string SeqsPrefix(std::string_view trace_id) {
  std::string k = "s";
  k += static_cast<char>(std::min<size_t>(trace_id.size(), 255));
  k.append(trace_id.substr(0, 255));
  return k;
}

std::string FieldPrefix(TraceIndex::Field f, std::string_view value) {
  std::string k = "f";
  k += static_cast<char>(f);
  const size_t n = std::min<size_t>(value.size(), 0xffff);
  k += static_cast<char>(n >> 8);
  k += static_cast<char>(n & 0xff);
  k.append(value.substr(0, n));
  return k;
}

// Every secondary key of a summary: (field, value).
std::vector<std::pair<TraceIndex::Field, std::string>> FieldValues(const TraceSummary& t) {
  using F = TraceIndex::Field;
  std::vector<std::pair<F, std::string>> out;
  auto add = [&](F f, const std::vector<std::string>& vs) {
    for (const auto& v : vs) out.emplace_back(f, v);
  };
  add(F::kService, t.services);
  add(F::kSession, t.sessions);
  add(F::kUser, t.users);
  add(F::kEnvironment, t.environments);
  add(F::kModel, t.models);
  add(F::kType, t.types);
  add(F::kTag, t.tags);
  if (t.errors > 0) out.emplace_back(F::kError, std::string());
  return out;
}

std::string PrefixEnd(std::string p) {
  // The smallest key above every key with prefix p (p never ends in 0xff bytes only).
  while (!p.empty() && static_cast<unsigned char>(p.back()) == 0xff) p.pop_back();
  if (!p.empty()) p.back() = static_cast<char>(static_cast<unsigned char>(p.back()) + 1);
  return p;
}

rocksdb::WriteOptions NoWal() {
  rocksdb::WriteOptions wo;
  wo.disableWAL = true;
  return wo;
}

}  // namespace

Result<std::unique_ptr<TraceIndex>> TraceIndex::Open(SpanQueue& queue, const std::filesystem::path& dir) {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.info_log = internal::NewStoreInfoLog(dir.string());
  o.max_open_files = 256;
  o.write_buffer_size = 16u << 20;
  o.compression = rocksdb::kNoCompression;
  rocksdb::DB* raw = nullptr;
  if (rocksdb::Status s = rocksdb::DB::Open(o, dir.string(), &raw); !s.ok()) {
    return Fail(internal::FromRocks("opening the trace index " + dir.string(), s));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  std::unique_ptr<TraceIndex> index(new TraceIndex(queue, std::move(db)));
  std::string v;
  if (index->db_->Get(rocksdb::ReadOptions(), kNextKey, &v).ok()) index->next_ = DecodeSeq(v).value_or(1);
  {
    rocksdb::ReadOptions ro;
    std::string lo = "l", hi = "m";
    rocksdb::Slice l(lo), h(hi);
    ro.iterate_lower_bound = &l;
    ro.iterate_upper_bound = &h;
    std::unique_ptr<rocksdb::Iterator> it(index->db_->NewIterator(ro));
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    index->traces_ = n;
  }
  try {
    index->thread_ = std::thread([p = index.get()] {
      pthread_setname_np(pthread_self(), "sv-index");
      // Indexing is background work: at the lowest priority (Linux nice is
      // per thread) it takes the CPU that ingest leaves, and catches up
      // when ingest slows down, rather than slowing ingest down.
      // docs/performance.md has the cost either way.
      setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
      p->Loop();
    });
  } catch (const std::exception& e) {
    return Fail(Error::Io(std::string("trace index: cannot start its thread: ") + e.what()));
  }
  return index;
}

TraceIndex::TraceIndex(SpanQueue& queue, std::unique_ptr<rocksdb::DB> db) : queue_(queue), db_(std::move(db)) {}

TraceIndex::~TraceIndex() { Close(); }

void TraceIndex::Notify() {
  {
    std::lock_guard lk(mu_);
    woken_ = true;
  }
  cv_.notify_one();
}

void TraceIndex::Close() {
  std::lock_guard close_lock(close_mu_);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_) {
    // No WAL: what is only in the memtable would be indexed again at Open.
    db_->Flush(rocksdb::FlushOptions());
    db_->Close();
    db_.reset();
  }
}

void TraceIndex::Loop() {
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait_for(lk, std::chrono::seconds(1), [&] { return woken_ || stop_; });
      if (stop_) return;
      woken_ = false;
    }
    try {
      while (IndexSome()) {
        std::lock_guard lk(mu_);
        if (stop_) return;
      }
      DropBelow(queue_.GetStats().head_seq);
    } catch (const std::exception& e) {
      LOG_ERROR("trace index: indexing failed", {{"error", e.what()}});
    }
  }
}

bool TraceIndex::IndexSome() {
  const uint64_t head = queue_.GetStats().head_seq;
  if (next_ < head) next_ = head;
  if (next_ >= queue_.next_seq()) return false;
  auto batch = queue_.Read(next_, kReadSpans, 8u << 20);
  if (!batch) {
    LOG_WARN("trace index: reading spans failed", {{"error", batch.error().message}});
    return false;
  }
  if (batch->empty()) return false;
  IndexBatch(*batch);
  return batch->size() == kReadSpans;
}

TraceSummary* TraceIndex::Cached(const std::string& trace_id) {
  if (auto it = cache_.find(trace_id); it != cache_.end()) return &it->second;
  if (cache_.size() >= kCacheTraces) {
    old_cache_ = std::move(cache_);
    cache_.clear();
  }
  if (auto it = old_cache_.find(trace_id); it != old_cache_.end()) {
    auto node = old_cache_.extract(it);
    return &cache_.insert(std::move(node)).position->second;
  }
  TraceSummary t;
  std::string v;
  if (db_->Get(rocksdb::ReadOptions(), TraceKey(trace_id), &v).ok()) {
    if (auto d = TraceSummary::Decode(v)) t = std::move(*d);
  }
  return &cache_.emplace(trace_id, std::move(t)).first->second;
}

void TraceIndex::IndexBatch(const RecordBatch& batch) {
  rocksdb::WriteBatch wb;
  std::vector<std::string> touched;
  std::unordered_set<std::string> touched_set;
  SpanFacts f;
  std::vector<std::pair<char, std::string>> new_keys;
  const bool tail = sub_count_.load() > 0;
  for (const auto& r : batch) {
    if (!ParseSpanFacts(r.json, f)) continue;
    if (f.trace_id.size() > 255) continue;  // not indexable (ids are at most 128 bytes)
    TraceSummary* t = Cached(f.trace_id);
    const bool fresh = t->spans == 0;
    new_keys.clear();
    t->Add(f, r.seq, r.received_ns, &new_keys);
    if (fresh) {
      wb.Put("l" + SeqKey(t->first_seq), t->trace_id);
      traces_.fetch_add(1);
    }
    wb.Put(SeqsPrefix(f.trace_id) + SeqKey(r.seq), rocksdb::Slice());
    for (const auto& [field, value] : new_keys) {
      wb.Put(FieldPrefix(static_cast<Field>(field), value) + SeqKey(t->first_seq), t->trace_id);
    }
    if (touched_set.insert(f.trace_id).second) touched.push_back(f.trace_id);
    if (tail) Publish("span", SpanLineJson(f).dump());
  }
  for (const auto& id : touched) {
    const TraceSummary* t = Cached(id);
    wb.Put(TraceKey(id), t->Encode());
    if (tail) Publish("trace", t->ToJson().dump());
  }
  const uint64_t next = batch.back().seq + 1;
  wb.Put(kNextKey, SeqKey(next));
  if (rocksdb::Status s = db_->Write(NoWal(), &wb); !s.ok()) {
    LOG_WARN("trace index: write failed", {{"error", s.ToString()}});
    cache_.clear();  // what it holds was not written
    old_cache_.clear();
    return;
  }
  next_ = next;
}

void TraceIndex::DropBelow(uint64_t head) {
  if (head <= dropped_below_) return;
  rocksdb::ReadOptions ro;
  std::string lo = "l", hi = "l" + SeqKey(head);
  rocksdb::Slice l(lo), h(hi);
  ro.iterate_lower_bound = &l;
  ro.iterate_upper_bound = &h;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  rocksdb::WriteBatch wb;
  size_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string id = it->value().ToString();
    std::string v;
    if (db_->Get(rocksdb::ReadOptions(), TraceKey(id), &v).ok()) {
      if (auto t = TraceSummary::Decode(v); t && t->first_seq == DecodeSeq(it->key().ToString().substr(1))) {
        for (const auto& [field, value] : FieldValues(*t)) wb.Delete(FieldPrefix(field, value) + SeqKey(t->first_seq));
        wb.Delete(TraceKey(id));
        const std::string p = SeqsPrefix(id);
        wb.DeleteRange(p, PrefixEnd(p));
      }
    }
    wb.Delete(it->key());
    cache_.erase(id);
    old_cache_.erase(id);
    if (++n % 1024 == 0) {
      db_->Write(NoWal(), &wb);
      wb.Clear();
    }
  }
  if (wb.Count() > 0) db_->Write(NoWal(), &wb);
  traces_.fetch_sub(std::min<uint64_t>(n, traces_.load()));
  if (it->status().ok()) dropped_below_ = head;
}

void TraceIndex::Publish(std::string_view kind, const std::string& json) {
  std::lock_guard lk(subs_mu_);
  for (const auto& [id, fn] : subs_) fn(kind, json);
}

uint64_t TraceIndex::Subscribe(TailFn fn) {
  std::lock_guard lk(subs_mu_);
  subs_.emplace(next_sub_, std::move(fn));
  sub_count_ = subs_.size();
  return next_sub_++;
}

void TraceIndex::Unsubscribe(uint64_t id) {
  std::lock_guard lk(subs_mu_);
  subs_.erase(id);
  sub_count_ = subs_.size();
}

Result<std::optional<TraceSummary>> TraceIndex::Summary(std::string_view trace_id) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), TraceKey(trace_id), &v);
  if (s.IsNotFound()) return std::optional<TraceSummary>();
  if (!s.ok()) return Fail(internal::FromRocks("trace index: reading a summary", s));
  return TraceSummary::Decode(v);
}

Result<std::vector<uint64_t>> TraceIndex::Seqs(std::string_view trace_id, size_t max) const {
  const std::string p = SeqsPrefix(trace_id), end = PrefixEnd(p);
  rocksdb::ReadOptions ro;
  rocksdb::Slice l(p), h(end);
  ro.iterate_lower_bound = &l;
  ro.iterate_upper_bound = &h;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  std::vector<uint64_t> out;
  for (it->SeekToFirst(); it->Valid() && out.size() < max; it->Next()) {
    if (auto seq = DecodeSeq(rocksdb::Slice(it->key().data() + p.size(), it->key().size() - p.size()))) {
      out.push_back(*seq);
    }
  }
  if (!it->status().ok()) return Fail(internal::FromRocks("trace index: reading a trace", it->status()));
  return out;
}

Status TraceIndex::ScanNewest(const std::optional<Key>& key, uint64_t before, const EachTrace& each) const {
  return Scan(key, true, before, each);
}

Status TraceIndex::ScanOldest(const std::optional<Key>& key, uint64_t from, const EachTrace& each) const {
  return Scan(key, false, from, each);
}

Status TraceIndex::Scan(const std::optional<Key>& key, bool newest, uint64_t bound, const EachTrace& each) const {
  const std::string p = key ? FieldPrefix(key->field, key->value) : std::string("l");
  std::string lo = p, hi = PrefixEnd(p);
  if (newest && bound != 0) hi = p + SeqKey(bound);
  if (!newest) lo = p + SeqKey(bound);
  rocksdb::ReadOptions ro;
  rocksdb::Slice l(lo), h(hi);
  ro.iterate_lower_bound = &l;
  ro.iterate_upper_bound = &h;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
  for (newest ? it->SeekToLast() : it->SeekToFirst(); it->Valid(); newest ? it->Prev() : it->Next()) {
    if (it->key().size() != p.size() + 8) continue;
    auto seq = DecodeSeq(rocksdb::Slice(it->key().data() + p.size(), 8));
    if (!seq) continue;
    if (!each(*seq, std::string_view(it->value().data(), it->value().size()))) break;
  }
  if (!it->status().ok()) return Fail(internal::FromRocks("trace index: scanning", it->status()));
  return {};
}

}  // namespace spanvault::buffer
