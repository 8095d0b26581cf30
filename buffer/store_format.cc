// See store_format.h for the format. The tuning below is for a write-heavy
// queue whose oldest keys are deleted in ranges: large memtables for spans,
// dynamic level sizes so that space used by deleted heads is reclaimed
// without tall levels, and a WAL cap so that the quiet column families do not
// pin old WAL files.
#include "buffer/store_format.h"

#include <fcntl.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/table.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <exception>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/util.h"

namespace spanvault::buffer::internal {
namespace {

// Drops spans below the head (store_format.h) whenever RocksDB writes a table
// file: delivered spans still in a memtable never reach disk, older ones go
// at the next compaction that reads them. The whole run below the head is
// skipped at once and leaves no point tombstones (kRemove would write one per
// span at flush): every seq is written exactly once and never read below the
// head, so there is no older version a tombstone would have to hide.
class SpanFloorFilter final : public rocksdb::CompactionFilter {
 public:
  explicit SpanFloorFilter(uint64_t floor) : floor_(floor), floor_key_(SeqKey(floor)) {}
  Decision FilterV2(int /*level*/, const rocksdb::Slice& key, ValueType type, const rocksdb::Slice& /*value*/,
                    std::string* /*new_value*/, std::string* skip_until) const override {
    if (type != ValueType::kValue) return Decision::kKeep;
    auto seq = DecodeSeq(key);
    if (!seq || *seq >= floor_) return Decision::kKeep;
    *skip_until = floor_key_;
    return Decision::kRemoveAndSkipUntil;
  }
  const char* Name() const override { return "spanvault.SpanFloorFilter"; }

 private:
  const uint64_t floor_;  // read once per table file: the floor only rises
  const std::string floor_key_;
};

class SpanFloorFilterFactory final : public rocksdb::CompactionFilterFactory {
 public:
  explicit SpanFloorFilterFactory(SpanFloor floor) : floor_(std::move(floor)) {}
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush ||
           reason == rocksdb::TableFileCreationReason::kCompaction;
  }
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context& /*context*/) override {
    return std::make_unique<SpanFloorFilter>(floor_->load(std::memory_order_acquire));
  }
  const char* Name() const override { return "spanvault.SpanFloorFilterFactory"; }

 private:
  SpanFloor floor_;
};

}  // namespace

rocksdb::ColumnFamilyOptions SpansCfOptions(SpanFloor floor) {
  rocksdb::ColumnFamilyOptions o;
  if (floor) o.compaction_filter_factory = std::make_shared<SpanFloorFilterFactory>(std::move(floor));
  // At most 4 × 32 MiB of memtables, full only while ingest runs: an idle
  // intake flushes them (SpanQueue's TrimIfIdle), so a daemon draining a
  // backlog holds none of it in memory (the target is < 150 MB RSS). With
  // 3, ingest at full speed stopped for a full memtable about three times a
  // second while the flushes caught up with the disk; 4 and two flush
  // threads (MakeDbOptions) measured ~10% more spans/s.
  o.write_buffer_size = 32ull << 20;
  o.max_write_buffer_number = 4;
  o.target_file_size_base = 64ull << 20;
  o.level_compaction_dynamic_level_bytes = true;
  // No compression. Spans are short-lived (deleted once forwarded), the bound
  // (max_disk_bytes) is on logical bytes anyway, and CPU is what a sidecar
  // must not take from its host: at full ingest on 2 cores LZ4 at flush cost
  // ~17% of the daemon's CPU. One compression type for every level also keeps
  // L0 -> Ln compactions of these ever-increasing keys trivial moves.
  o.compression = rocksdb::kNoCompression;
  rocksdb::BlockBasedTableOptions t;
  // XXH3 instead of crc32c: Debian's portable RocksDB build computes crc32c
  // without SSE4.2, which showed up as ~11% of the daemon's CPU.
  t.checksum = rocksdb::kXXH3;
  // Spans are read in long sequential runs (a batch is ~0.5 MB): big blocks
  // mean fewer block reads and checksum calls per batch.
  t.block_size = 32 << 10;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

namespace {

rocksdb::ColumnFamilyOptions SmallCfOptions() {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = 4ull << 20;
  return o;
}

}  // namespace

std::string SeqKey(uint64_t v) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>(v >> (56 - 8 * i));
  return k;
}

std::optional<uint64_t> DecodeSeq(const rocksdb::Slice& s) {
  if (s.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

std::string CursorKey(std::string_view consumer) { return std::string(kCursorPrefix).append(consumer); }

SeqRangeIterator::SeqRangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, uint64_t lo, uint64_t hi,
                                   bool full_scan)
    : lo_key_(SeqKey(lo)), hi_key_(SeqKey(hi)), lo_(lo_key_), hi_(hi_key_) {
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lo_;
  if (hi != 0) ro.iterate_upper_bound = &hi_;
  if (full_scan) {
    ro.fill_cache = false;
    ro.readahead_size = 2 << 20;
  }
  it_.reset(db->NewIterator(ro, cf));
}

void EncodeSpanValue(int64_t received_ns, std::string_view json, std::string& out) {
  out.clear();
  out.push_back(static_cast<char>(kSpanVersion));
  auto u = static_cast<uint64_t>(received_ns);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(u >> (8 * i)));
  out.append(json);
}

bool DecodeSpanValue(const rocksdb::Slice& v, int64_t* received_ns, std::string_view* json) {
  if (v.size() < kSpanValueHeader || static_cast<uint8_t>(v[0]) != kSpanVersion) return false;
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(v[1 + i]);
  *received_ns = static_cast<int64_t>(u);
  if (json != nullptr) *json = std::string_view(v.data() + kSpanValueHeader, v.size() - kSpanValueHeader);
  return true;
}

std::string QuarantineJson(const span::Batch::Quarantined& q, int64_t batch_received_ns) {
  int64_t ns = q.received_ns != 0 ? q.received_ns : (batch_received_ns != 0 ? batch_received_ns : NowNanos());
  try {
    nlohmann::ordered_json j;
    j["time"] = FormatRfc3339(ns);
    j["transport"] = span::TransportName(q.source.transport);
    if (q.source.pid != -1) j["pid"] = q.source.pid;
    if (q.source.uid != -1) j["uid"] = q.source.uid;
    if (q.source.gid != -1) j["gid"] = q.source.gid;
    j["kind"] = span::RejectKindName(q.rejection.kind);
    if (q.rejection.index != -1) j["index"] = q.rejection.index;
    j["reason"] = q.rejection.reason;
    j["excerpt"] = q.rejection.excerpt;
    // The excerpt is raw input and may be invalid UTF-8.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  } catch (const std::exception&) {
    // Only allocation failure can get here; keep the record, lose the detail.
    return R"({"reason":"quarantine entry could not be encoded"})";
  }
}

bool IsNoSpace(const rocksdb::Status& s) {
  if (s.ok()) return false;
  // RocksDB's posix file system sets the subcode; a wrapped status keeps the
  // message only.
  return s.IsNoSpace() || s.ToString().find("No space left on device") != std::string::npos;
}

Error FromRocks(std::string what, const rocksdb::Status& s) {
  std::string m = "span store: " + what + ": " + s.ToString();
  return s.IsCorruption() ? Error::Corruption(std::move(m)) : Error::Io(std::move(m));
}

namespace {

class StoreInfoLog final : public rocksdb::Logger {
 public:
  explicit StoreInfoLog(std::string dir) : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), dir_(std::move(dir)) {
    Open();
  }
  ~StoreInfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char buf[2048];
    const int64_t now = NowNanos();
    const time_t secs = static_cast<time_t>(now / 1'000'000'000);
    struct tm t {};
    gmtime_r(&secs, &t);
    int n = static_cast<int>(strftime(buf, sizeof buf, "%Y/%m/%d-%H:%M:%S", &t));
    n += std::snprintf(buf + n, sizeof buf - n, ".%06lld ", static_cast<long long>((now / 1000) % 1'000'000));
    va_list copy;
    va_copy(copy, ap);
    int m = std::vsnprintf(buf + n, sizeof buf - n, format, copy);
    va_end(copy);
    size_t len = std::min<size_t>(sizeof buf - 2, static_cast<size_t>(n) + static_cast<size_t>(std::max(m, 0)));
    if (len == 0 || buf[len - 1] != '\n') buf[len++] = '\n';
    std::lock_guard lk(mu_);
    if (written_ > (16u << 20)) {
      ::close(fd_);
      ::rename((dir_ + "/LOG").c_str(), (dir_ + "/LOG.old.1").c_str());
      Open();
    }
    if (fd_ >= 0 && ::write(fd_, buf, len) > 0) written_ += len;  // errors ignored
  }

 private:
  void Open() {
    fd_ = ::open((dir_ + "/LOG").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st {};
    written_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  }
  const std::string dir_;
  std::mutex mu_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

}  // namespace

std::shared_ptr<rocksdb::Logger> NewStoreInfoLog(const std::string& db_dir) {
  std::error_code ec;
  std::filesystem::create_directories(db_dir, ec);
  return std::make_shared<StoreInfoLog>(db_dir);
}

rocksdb::DBOptions MakeDbOptions() {
  rocksdb::DBOptions o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 4;
  // Two memtables flush at once: one flush alternates CPU (building the
  // table) and waiting for its fdatasync; the disk is what limits ingest.
  o.max_background_flushes = 2;
  o.bytes_per_sync = 1 << 20;
  o.max_total_wal_size = 256ull << 20;
  o.keep_log_file_num = 4;
  o.max_log_file_size = 16 << 20;
  o.avoid_unnecessary_blocking_io = true;
  // A torn last record (a crash mid-write) is dropped; damage anywhere else
  // in a WAL makes Open fail as corrupt, so that the store is moved aside
  // and salvaged around it (buffer/salvage.h). RocksDB's default
  // (point-in-time) replays up to the damage and drops the rest unseen.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.max_open_files = -1;  // required by secondary instances (OpenReadOnly)
  return o;
}

std::vector<rocksdb::ColumnFamilyDescriptor> Descriptors(const rocksdb::DBOptions& db_options, const std::string& dir) {
  std::vector<rocksdb::ColumnFamilyDescriptor> d = {
      {rocksdb::kDefaultColumnFamilyName, SmallCfOptions()},
      {kQuarantineCf, SmallCfOptions()},
      {kMetaCf, SmallCfOptions()},
      {kDeadLetterCf, SmallCfOptions()},
  };
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const auto& name : existing) {
      bool known = std::any_of(d.begin(), d.end(), [&](const auto& x) { return x.name == name; });
      // A store written before the spans moved to their own DB (store_format.h).
      if (!known) d.emplace_back(name, name == kSpansCf ? SpansCfOptions(nullptr) : SmallCfOptions());
    }
  }
  return d;
}

std::vector<rocksdb::ColumnFamilyDescriptor> SpansDbDescriptors(SpanFloor span_floor) {
  return {{rocksdb::kDefaultColumnFamilyName, SpansCfOptions(std::move(span_floor))}};
}

}  // namespace spanvault::buffer::internal
