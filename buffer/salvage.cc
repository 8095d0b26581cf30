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

Result<SalvageResult> Salvage(const fs::path& dir_in, const std::function<Status(span::Batch&&)>& sink) {
  std::error_code ec;
  fs::path dir = dir_in;
  if (!dir.has_filename()) dir = dir.parent_path();
  // Never through a link: a salvage reads what it is pointed at.
  if (fs::is_symlink(fs::symlink_status(dir, ec))) {
    return Fail(Error::Invalid(dir.string() + " is a symbolic link; give the directory itself"));
  }
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return Fail(Error::Invalid(dir.string() + " is not a directory"));

  SalvageResult result;
  std::vector<std::string> notes;
  struct Source {
    fs::path path;
    bool wal;
  };
  std::vector<Source> sources;
  bool looks_like_rocksdb = false;
  // The main database, then the spans database under it (store_format.h).
  for (const fs::path& d : {dir, dir / internal::kSpansDbDir}) {
    if (d != dir) {
      auto st = fs::symlink_status(d, ec);
      if (!fs::exists(st)) continue;
      if (!fs::is_directory(st)) {
        notes.push_back(d.filename().string() + " is not a directory: the spans database is missing");
        result.files.push_back({d.filename().string(), 0, 0, 0, "not a directory"});
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
      sources.push_back({d / n, IsWal(n)});
    }
  }
  if (!looks_like_rocksdb) return Fail(Error::Invalid(dir.string() + " holds no RocksDB files"));
  // A spans database moved aside while the daemon ran has no main database
  // beside it: the head it had then is in a file of its own.
  if (auto floor = ReadWhole(dir / kHeadFile); floor && floor->size() < 32) {
    try {
      result.head = std::stoull(*floor);
    } catch (const std::exception&) {
      notes.push_back(std::string(kHeadFile) + " is not a number");
    }
  }

  // Pass 1: find every span in every file; keep where it is, not the span.
  std::vector<Found> found;
  std::unordered_set<uint64_t> unreadable_seqs;
  for (uint32_t fi = 0; fi < sources.size(); ++fi) {
    const Source& src = sources[fi];
    SalvageResult::File f;
    f.name = fs::relative(src.path, dir, ec).string();
    auto bytes = ReadWhole(src.path);
    if (!bytes) {
      f.error = bytes.error().message;
      notes.push_back("cannot read " + f.name + ": " + f.error);
      result.files.push_back(std::move(f));
      continue;
    }
    f.bytes = bytes->size();
    internal::ScanCounts wal_counts;
    std::string joined;
    if (src.wal) joined = internal::WalPayloads(*bytes, wal_counts);
    std::string_view view = src.wal ? std::string_view(joined) : std::string_view(*bytes);
    internal::ScanCounts c = ScanBytes(src.wal, view, [&](const internal::ScannedSpan& s, std::string_view json) {
      if (!s.readable) {
        // Counted below, once per seq and only when no copy of it read.
        if (s.seq == 0) {
          ++result.unreadable;
        } else {
          unreadable_seqs.insert(s.seq);
        }
        return;
      }
      size_t h = std::hash<std::string_view>()(json) ^ (static_cast<size_t>(s.received_ns) * 0x9e3779b97f4a7c15ull);
      found.push_back({s.seq, s.received_ns, s.offset, s.length, fi, h});
    });
    f.spans = c.spans;
    f.damaged_bytes = wal_counts.damaged_bytes;
    result.damaged_wal_records += wal_counts.damaged_records;
    result.head = std::max({result.head, c.head, wal_counts.head});
    result.files.push_back(std::move(f));
  }
  if (!sources.empty() && std::all_of(result.files.begin(), result.files.end(),
                                      [](const SalvageResult::File& f) { return !f.error.empty(); })) {
    return Fail(Error::Io("cannot read any file of " + dir.string() + ": " + result.files.front().error));
  }

  // Which copies to take: one per seq, none below the head; a span whose seq
  // is unknown unless the same span was found with its seq.
  // Which copies to take: one of each span (seq and content: a damaged key
  // can carry another span's seq), none below the head; a span whose seq is
  // unknown unless the same span was found with its seq.
  std::vector<char> take(found.size(), 0);
  std::unordered_set<uint64_t> seqs_read;  // every seq some copy of which read
  {
    auto mix = [](uint64_t seq, size_t hash) { return (seq * 0x9e3779b97f4a7c15ull) ^ hash; };
    std::unordered_set<uint64_t> taken;
    std::unordered_set<size_t> known_hashes, unknown_hashes;
    for (size_t i = 0; i < found.size(); ++i) {
      const Found& x = found[i];
      if (x.seq == 0) continue;
      seqs_read.insert(x.seq);
      known_hashes.insert(x.hash);
      if (!taken.insert(mix(x.seq, x.hash)).second) {
        if (x.seq >= result.head) ++result.duplicates;
        continue;
      }
      if (x.seq < result.head) {
        ++result.delivered;
        continue;
      }
      take[i] = 1;
    }
    for (size_t i = 0; i < found.size(); ++i) {
      const Found& x = found[i];
      if (x.seq != 0) continue;
      if (known_hashes.count(x.hash) != 0 || !unknown_hashes.insert(x.hash).second) {
        ++result.duplicates;
        continue;
      }
      take[i] = 1;
      ++result.unknown_seq;
    }
  }

  for (uint64_t seq : unreadable_seqs) {
    if (seqs_read.count(seq) == 0 && seq >= result.head) ++result.unreadable;
  }

  // Seqs not found between the head and the last one taken.
  {
    std::vector<uint64_t> seqs;
    for (size_t i = 0; i < found.size(); ++i) {
      if (take[i] && found[i].seq != 0) seqs.push_back(found[i].seq);
    }
    std::sort(seqs.begin(), seqs.end());
    if (!seqs.empty()) {
      result.first_seq = seqs.front();
      result.last_seq = seqs.back();
      uint64_t expect = result.head != 0 ? result.head : seqs.front();
      for (uint64_t s : seqs) {
        if (s > expect) {
          result.missing_seqs += s - expect;
          if (result.missing.size() < kMaxMissingRanges) result.missing.emplace_back(expect, s - 1);
        }
        expect = s + 1;
      }
    }
  }

  // Pass 2: the spans taken, file by file (oldest first), in file order.
  std::vector<std::vector<size_t>> per_file(sources.size());
  for (size_t i = 0; i < found.size(); ++i) {
    if (take[i]) per_file[found[i].file].push_back(i);
  }
  std::vector<uint32_t> order;
  for (uint32_t fi = 0; fi < sources.size(); ++fi) {
    if (!per_file[fi].empty()) order.push_back(fi);
  }
  auto oldest = [&](uint32_t fi) {
    uint64_t seq = UINT64_MAX;
    int64_t received = INT64_MAX;
    for (size_t i : per_file[fi]) {
      if (found[i].seq != 0) seq = std::min(seq, found[i].seq);
      received = std::min(received, found[i].received_ns);
    }
    return std::make_pair(seq, received);
  };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return oldest(a) < oldest(b); });
  for (uint32_t fi : order) {
    auto bytes = ReadWhole(sources[fi].path);
    if (!bytes) return Fail(Error::Io("cannot read " + sources[fi].path.string() + " again: " + bytes.error().message));
    internal::ScanCounts ignored;
    std::string joined;
    if (sources[fi].wal) joined = internal::WalPayloads(*bytes, ignored);
    std::string_view view = sources[fi].wal ? std::string_view(joined) : std::string_view(*bytes);
    std::vector<size_t>& idx = per_file[fi];
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return found[a].offset < found[b].offset; });
    span::Batch batch;
    for (size_t k = 0; k < idx.size(); ++k) {
      const Found& x = found[idx[k]];
      if (x.offset + x.length > view.size()) {
        return Fail(Error::Io(sources[fi].path.string() + " changed while it was salvaged"));
      }
      batch.received_ns = std::max(batch.received_ns, x.received_ns);
      batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), x.length});
      batch.data.append(view.data() + x.offset, x.length);
      if (batch.spans.size() >= kBatchSpans || k + 1 == idx.size()) {
        result.spans += batch.spans.size();
        if (Status st = sink(std::move(batch)); !st) return Fail(st.error());
        batch = span::Batch();
      }
    }
  }

  if (result.damaged_wal_records != 0) {
    uint64_t bytes = 0;
    for (const auto& f : result.files) bytes += f.damaged_bytes;
    notes.push_back(Plural(result.damaged_wal_records, "WAL record", "WAL records") + " failed the checksum (" +
                    std::to_string(bytes) + " bytes read unverified)");
  }
  if (result.unreadable != 0) notes.push_back(Plural(result.unreadable, "record", "records") + " did not read as a span");
  if (result.missing_seqs != 0) {
    std::string ranges;
    for (const auto& [a, b] : result.missing) {
      if (ranges.size() > 200) {
        ranges += ", ...";
        break;
      }
      ranges += (ranges.empty() ? "" : ", ") + std::to_string(a) + (a == b ? "" : "-" + std::to_string(b));
    }
    notes.push_back(Plural(result.missing_seqs, "seq", "seqs") + " not found: " + ranges);
  }
  if (result.unknown_seq != 0) {
    notes.push_back(Plural(result.unknown_seq, "span", "spans") + " taken without a readable seq (just after damage)");
  }
  for (const auto& n : notes) result.repair_note += (result.repair_note.empty() ? "" : "; ") + n;
  return result;
}

}  // namespace spanvault::buffer
