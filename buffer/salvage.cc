#include "buffer/salvage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "buffer/salvage_scan.h"
#include "buffer/store_format.h"

namespace spanvault::buffer {
namespace fs = std::filesystem;

namespace {

constexpr size_t kBatchSpans = 1000;
constexpr size_t kMaxMissingRanges = 100;

bool IsTable(const std::string& n) { return n.ends_with(".sst"); }
bool IsWal(const std::string& n) { return n.ends_with(".log") && n != "LOG" && !n.starts_with("LOG."); }

// The whole file, read without following a symbolic link.
Result<std::string> ReadWhole(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Fail(Error::Io(std::strerror(errno)));
  struct stat st {};
  std::string out;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return Fail(Error::Io(std::strerror(e)));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

// One span found in pass 1: where it is, and what tells it apart.
struct Found {
  uint64_t seq;  // 0: unknown
  int64_t received_ns;
  uint64_t offset;  // of its JSON in the file's scanned bytes
  uint32_t length;
  uint32_t file;
  size_t hash;  // of received_ns and the JSON
};

// Scans one file's bytes (a WAL's joined payloads), as pass 1 and 2 both do.
internal::ScanCounts ScanBytes(bool wal, std::string_view bytes, const internal::SpanSink& sink) {
  return wal ? internal::ScanWalStream(bytes, sink) : internal::ScanTableFile(bytes, sink);
}

std::string Plural(uint64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

bool SalvageResult::complete() const {
  if (unreadable != 0 || damaged_wal_records != 0 || missing_seqs != 0 || unknown_seq != 0) return false;
  return std::none_of(files.begin(), files.end(), [](const File& f) { return !f.error.empty(); });
}

bool SalvageSpanRecord(std::string_view value, span::Batch& batch) {
  int64_t received_ns = 0;
  std::string_view json;
  if (!internal::ReadSpanRecord(value, &received_ns, &json)) return false;
  batch.received_ns = std::max(batch.received_ns, received_ns);
  batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), static_cast<uint32_t>(json.size())});
  batch.data += json;
  return true;
}

namespace {

// One salvage, step by step (Salvage below runs them in order): the store's
// files, pass 1 (where every span is), which copies to take, the seqs not
// found, pass 2 (the spans taken, to the sink), the note.
class Salvager {
 public:
  explicit Salvager(fs::path dir) : dir_(std::move(dir)) {}

  // The table files and WALs of both databases; fails when there is no
  // RocksDB file at all.
  Status ListSources();
  // The head a spans database moved aside alone kept in kHeadFile.
  void ReadHeadFile();
  // Pass 1: find every span in every file; keep where it is, not the span.
  // Fails when no file could be read.
  Status FindSpans();
  // Which copies to take: one of each span (seq and content: a damaged key
  // can carry another span's seq), none below the head; a span whose seq is
  // unknown unless the same span was found with its seq. Then the
  // unreadable records no copy of which read.
  void ChooseCopies();
  // Seqs not found between the head and the last one taken.
  void CountMissing();
  // Pass 2: the spans taken, file by file (oldest first), in file order.
  Status HandOver(const std::function<Status(span::Batch&&)>& sink);
  // What could not be read, in one line.
  void WriteRepairNote();

  SalvageResult& result() { return result_; }

 private:
  struct Source {
    fs::path path;
    bool wal;
  };
  // The bytes of a source as the scanners read them: a WAL's joined payloads.
  static std::string_view ScanView(const Source& src, const std::string& bytes, std::string& joined,
                                   internal::ScanCounts& wal_counts) {
    if (!src.wal) return bytes;
    joined = internal::WalPayloads(bytes, wal_counts);
    return joined;
  }
  std::vector<uint32_t> FilesOldestFirst(const std::vector<std::vector<size_t>>& per_file) const;

  const fs::path dir_;
  SalvageResult result_;
  std::vector<std::string> notes_;
  std::vector<Source> sources_;
  std::vector<Found> found_;
  std::unordered_set<uint64_t> unreadable_seqs_;
  std::vector<char> take_;  // per found_ entry
};

Status Salvager::ListSources() {
  std::error_code ec;
  bool looks_like_rocksdb = false;
  // The main database, then the spans database under it (store_format.h).
  for (const fs::path& d : {dir_, dir_ / internal::kSpansDbDir}) {
    if (d != dir_) {
      auto st = fs::symlink_status(d, ec);
      if (!fs::exists(st)) continue;
      if (!fs::is_directory(st)) {
        notes_.push_back(d.filename().string() + " is not a directory: the spans database is missing");
        result_.files.push_back({d.filename().string(), 0, 0, 0, "not a directory"});
        continue;
      }
    }
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      std::string n = e.path().filename().string();
      if (n.starts_with("MANIFEST-") || n == "CURRENT") looks_like_rocksdb = true;
      if (!e.is_regular_file(ec) || e.is_symlink(ec)) continue;
      if (IsTable(n) || IsWal(n)) names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      looks_like_rocksdb = true;
      sources_.push_back({d / n, IsWal(n)});
    }
  }
  if (!looks_like_rocksdb) return Fail(Error::Invalid(dir_.string() + " holds no RocksDB files"));
  return {};
}

void Salvager::ReadHeadFile() {
  // A spans database moved aside while the daemon ran has no main database
  // beside it: the head it had then is in a file of its own.
  if (auto floor = ReadWhole(dir_ / kHeadFile); floor && floor->size() < 32) {
    try {
      result_.head = std::stoull(*floor);
    } catch (const std::exception&) {
      notes_.push_back(std::string(kHeadFile) + " is not a number");
    }
  }
}

Status Salvager::FindSpans() {
  std::error_code ec;
  for (uint32_t fi = 0; fi < sources_.size(); ++fi) {
    const Source& src = sources_[fi];
    SalvageResult::File f;
    f.name = fs::relative(src.path, dir_, ec).string();
    auto bytes = ReadWhole(src.path);
    if (!bytes) {
      f.error = bytes.error().message;
      notes_.push_back("cannot read " + f.name + ": " + f.error);
      result_.files.push_back(std::move(f));
      continue;
    }
    f.bytes = bytes->size();
    internal::ScanCounts wal_counts;
    std::string joined;
    std::string_view view = ScanView(src, *bytes, joined, wal_counts);
    internal::ScanCounts c = ScanBytes(src.wal, view, [&](const internal::ScannedSpan& s, std::string_view json) {
      if (!s.readable) {
        // Counted in ChooseCopies, once per seq and only when no copy of it read.
        if (s.seq == 0) {
          ++result_.unreadable;
        } else {
          unreadable_seqs_.insert(s.seq);
        }
        return;
      }
      size_t h = std::hash<std::string_view>()(json) ^ (static_cast<size_t>(s.received_ns) * 0x9e3779b97f4a7c15ull);
      found_.push_back({s.seq, s.received_ns, s.offset, s.length, fi, h});
    });
    f.spans = c.spans;
    f.damaged_bytes = wal_counts.damaged_bytes;
    result_.damaged_wal_records += wal_counts.damaged_records;
    result_.head = std::max({result_.head, c.head, wal_counts.head});
    result_.files.push_back(std::move(f));
  }
  if (!sources_.empty() && std::all_of(result_.files.begin(), result_.files.end(),
                                       [](const SalvageResult::File& f) { return !f.error.empty(); })) {
    return Fail(Error::Io("cannot read any file of " + dir_.string() + ": " + result_.files.front().error));
  }
  return {};
}

void Salvager::ChooseCopies() {
  take_.assign(found_.size(), 0);
  std::unordered_set<uint64_t> seqs_read;  // every seq some copy of which read
  auto mix = [](uint64_t seq, size_t hash) { return (seq * 0x9e3779b97f4a7c15ull) ^ hash; };
  std::unordered_set<uint64_t> taken;
  std::unordered_set<size_t> known_hashes, unknown_hashes;
  for (size_t i = 0; i < found_.size(); ++i) {
    const Found& x = found_[i];
    if (x.seq == 0) continue;
    seqs_read.insert(x.seq);
    known_hashes.insert(x.hash);
    if (!taken.insert(mix(x.seq, x.hash)).second) {
      if (x.seq >= result_.head) ++result_.duplicates;
      continue;
    }
    if (x.seq < result_.head) {
      ++result_.delivered;
      continue;
    }
    take_[i] = 1;
  }
  for (size_t i = 0; i < found_.size(); ++i) {
    const Found& x = found_[i];
    if (x.seq != 0) continue;
    if (known_hashes.count(x.hash) != 0 || !unknown_hashes.insert(x.hash).second) {
      ++result_.duplicates;
      continue;
    }
    take_[i] = 1;
    ++result_.unknown_seq;
  }
  for (uint64_t seq : unreadable_seqs_) {
    if (seqs_read.count(seq) == 0 && seq >= result_.head) ++result_.unreadable;
  }
}

void Salvager::CountMissing() {
  std::vector<uint64_t> seqs;
  for (size_t i = 0; i < found_.size(); ++i) {
    if (take_[i] && found_[i].seq != 0) seqs.push_back(found_[i].seq);
  }
  std::sort(seqs.begin(), seqs.end());
  if (seqs.empty()) return;
  result_.first_seq = seqs.front();
  result_.last_seq = seqs.back();
  uint64_t expect = result_.head != 0 ? result_.head : seqs.front();
  for (uint64_t s : seqs) {
    if (s > expect) {
      result_.missing_seqs += s - expect;
      if (result_.missing.size() < kMaxMissingRanges) result_.missing.emplace_back(expect, s - 1);
    }
    expect = s + 1;
  }
}

// The files with spans taken, ordered by their oldest span (seq, then
// receive time).
std::vector<uint32_t> Salvager::FilesOldestFirst(const std::vector<std::vector<size_t>>& per_file) const {
  std::vector<uint32_t> order;
  for (uint32_t fi = 0; fi < sources_.size(); ++fi) {
    if (!per_file[fi].empty()) order.push_back(fi);
  }
  auto oldest = [&](uint32_t fi) {
    uint64_t seq = UINT64_MAX;
    int64_t received = INT64_MAX;
    for (size_t i : per_file[fi]) {
      if (found_[i].seq != 0) seq = std::min(seq, found_[i].seq);
      received = std::min(received, found_[i].received_ns);
    }
    return std::make_pair(seq, received);
  };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return oldest(a) < oldest(b); });
  return order;
}

Status Salvager::HandOver(const std::function<Status(span::Batch&&)>& sink) {
  std::vector<std::vector<size_t>> per_file(sources_.size());
  for (size_t i = 0; i < found_.size(); ++i) {
    if (take_[i]) per_file[found_[i].file].push_back(i);
  }
  for (uint32_t fi : FilesOldestFirst(per_file)) {
    const Source& src = sources_[fi];
    auto bytes = ReadWhole(src.path);
    if (!bytes) return Fail(Error::Io("cannot read " + src.path.string() + " again: " + bytes.error().message));
    internal::ScanCounts ignored;
    std::string joined;
    std::string_view view = ScanView(src, *bytes, joined, ignored);
    std::vector<size_t>& idx = per_file[fi];
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return found_[a].offset < found_[b].offset; });
    span::Batch batch;
    for (size_t k = 0; k < idx.size(); ++k) {
      const Found& x = found_[idx[k]];
      if (x.offset + x.length > view.size()) {
        return Fail(Error::Io(src.path.string() + " changed while it was salvaged"));
      }
      batch.received_ns = std::max(batch.received_ns, x.received_ns);
      batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), x.length});
      batch.data.append(view.data() + x.offset, x.length);
      if (batch.spans.size() >= kBatchSpans || k + 1 == idx.size()) {
        result_.spans += batch.spans.size();
        if (Status st = sink(std::move(batch)); !st) return Fail(st.error());
        batch = span::Batch();
      }
    }
  }
  return {};
}

void Salvager::WriteRepairNote() {
  if (result_.damaged_wal_records != 0) {
    uint64_t bytes = 0;
    for (const auto& f : result_.files) bytes += f.damaged_bytes;
    notes_.push_back(Plural(result_.damaged_wal_records, "WAL record", "WAL records") + " failed the checksum (" +
                     std::to_string(bytes) + " bytes read unverified)");
  }
  if (result_.unreadable != 0) {
    notes_.push_back(Plural(result_.unreadable, "record", "records") + " did not read as a span");
  }
  if (result_.missing_seqs != 0) {
    std::string ranges;
    for (const auto& [a, b] : result_.missing) {
      if (ranges.size() > 200) {
        ranges += ", ...";
        break;
      }
      ranges += (ranges.empty() ? "" : ", ") + std::to_string(a) + (a == b ? "" : "-" + std::to_string(b));
    }
    notes_.push_back(Plural(result_.missing_seqs, "seq", "seqs") + " not found: " + ranges);
  }
  if (result_.unknown_seq != 0) {
    notes_.push_back(Plural(result_.unknown_seq, "span", "spans") +
                     " taken without a readable seq (just after damage)");
  }
  for (const auto& n : notes_) result_.repair_note += (result_.repair_note.empty() ? "" : "; ") + n;
}

}  // namespace

Result<SalvageResult> Salvage(const fs::path& dir_in, const std::function<Status(span::Batch&&)>& sink) {
  std::error_code ec;
  fs::path dir = dir_in;
  if (!dir.has_filename()) dir = dir.parent_path();
  // Never through a link: a salvage reads what it is pointed at.
  if (fs::is_symlink(fs::symlink_status(dir, ec))) {
    return Fail(Error::Invalid(dir.string() + " is a symbolic link; give the directory itself"));
  }
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return Fail(Error::Invalid(dir.string() + " is not a directory"));

  Salvager s(dir);
  if (Status st = s.ListSources(); !st) return Fail(st.error());
  s.ReadHeadFile();
  if (Status st = s.FindSpans(); !st) return Fail(st.error());
  s.ChooseCopies();
  s.CountMissing();
  if (Status st = s.HandOver(sink); !st) return Fail(st.error());
  s.WriteRepairNote();
  return std::move(s.result());
}

}  // namespace spanvault::buffer
