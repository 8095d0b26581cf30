#include "buffer/salvage.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "buffer/store_format.h"
#include "common/log.h"
#include "common/util.h"

namespace spanvault::buffer {
namespace fs = std::filesystem;

namespace {

// Opens the RocksDB database at `dir` (a copy) read-only with all its column
// families, repairing what it can on the way (notes go to `note`).
rocksdb::Status OpenCopy(const fs::path& dir, std::unique_ptr<rocksdb::DB>& db,
                         std::vector<rocksdb::ColumnFamilyHandle*>& handles,
                         std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors,
                         const std::function<void(const std::string&)>& note) {
  std::error_code ec;
  fs::remove(dir / "LOCK", ec);
  rocksdb::DBOptions dbo = internal::MakeDbOptions();
  dbo.create_if_missing = false;
  rocksdb::DB* raw = nullptr;
  auto try_open = [&]() {
    handles.clear();
    raw = nullptr;
    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(dbo, dir.string(), &names).ok()) names = {rocksdb::kDefaultColumnFamilyName};
    descriptors.clear();
    for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
    return rocksdb::DB::OpenForReadOnly(dbo, dir.string(), descriptors, &handles, &raw);
  };
  rocksdb::Status s = try_open();
  if (!s.ok()) {
    // The usual damage is a truncated or garbled CURRENT: point it at the
    // newest manifest, which keeps every column family's name.
    std::string newest;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string n = e.path().filename().string();
      if (n.starts_with("MANIFEST-") && n > newest) newest = n;
    }
    if (!newest.empty()) {
      std::FILE* f = std::fopen((dir / "CURRENT").c_str(), "w");
      if (f != nullptr) {
        std::fprintf(f, "%s\n", newest.c_str());
        std::fclose(f);
      }
      s = try_open();
    }
  }
  if (!s.ok()) {
    // Rebuild the manifest from the table and WAL files.
    note("repaired: " + s.ToString());
    std::vector<rocksdb::ColumnFamilyDescriptor> known = dir.filename() == internal::kSpansDbDir
                                                             ? internal::SpansDbDescriptors(nullptr)
                                                             : internal::Descriptors(dbo, dir.string());
    rocksdb::Status repaired = rocksdb::RepairDB(dir.string(), dbo, known, rocksdb::ColumnFamilyOptions());
    if (!repaired.ok()) note("RepairDB: " + repaired.ToString());
    s = try_open();
  }
  if (raw != nullptr) db.reset(raw);
  return s;
}

}  // namespace

bool SalvageSpanRecord(std::string_view value, span::Batch& batch) {
  int64_t received_ns = 0;
  std::string_view json;
  if (!internal::DecodeSpanValue(rocksdb::Slice(value.data(), value.size()), &received_ns, &json) || json.empty() ||
      json.front() != '{') {
    return false;
  }
  // Only a whole JSON object goes back into the live queue: its encoders
  // expect one, and a torn or garbled record would poison every batch it
  // joins (the json format copies spans verbatim into the request body).
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS || !root.is_object()) return false;
  batch.received_ns = std::max(batch.received_ns, received_ns);
  batch.spans.push_back({static_cast<uint32_t>(batch.data.size()), static_cast<uint32_t>(json.size())});
  batch.data += json;
  return true;
}

Result<SalvageResult> Salvage(const fs::path& dir, const std::function<Status(span::Batch&&)>& sink) {
  std::error_code ec;
  // Never through a link: a salvage reads (and copies) what it is pointed at.
  if (fs::is_symlink(fs::symlink_status(dir, ec))) {
    return Fail(Error::Invalid(dir.string() + " is a symbolic link; give the directory itself"));
  }
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return Fail(Error::Invalid(dir.string() + " is not a directory"));
  bool looks_like_rocksdb = false;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.ends_with(".sst") || n.ends_with(".log") || n.starts_with("MANIFEST-") || n == "CURRENT") {
      looks_like_rocksdb = true;
    }
  }
  if (!looks_like_rocksdb) return Fail(Error::Invalid(dir.string() + " holds no RocksDB files"));

  fs::path copy = dir;
  if (!copy.has_filename()) copy = copy.parent_path();
  copy += ".salvage-" + RandomHexId(4);
  // Regular files and directories only: symbolic links inside are skipped,
  // not followed (recursive_directory_iterator does not enter them).
  fs::create_directory(copy, ec);
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    fs::file_status st = it->symlink_status(ec);
    if (ec) break;
    fs::path to = copy / fs::relative(it->path(), dir, ec);
    if (ec) break;
    if (fs::is_directory(st)) {
      fs::create_directory(to, ec);
    } else if (fs::is_regular_file(st)) {
      fs::copy_file(it->path(), to, ec);
    }
  }
  if (ec) {
    std::error_code ignored;
    fs::remove_all(copy, ignored);
    return Fail(Error::Io("cannot copy " + dir.string() + " to " + copy.string() + ": " + ec.message()));
  }
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code e;
      fs::remove_all(p, e);
    }
  } cleanup{copy};

  SalvageResult result;
  auto note = [&](const std::string& n) { result.repair_note += (result.repair_note.empty() ? "" : "; ") + n; };
  Status st;
  // Every span that reads back from `spans` of `db`, at or past `lower`.
  auto read_spans = [&](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* spans, const rocksdb::Slice& lower) {
    rocksdb::ReadOptions ro;
    ro.fill_cache = false;
    ro.readahead_size = 2 << 20;
    ro.iterate_lower_bound = &lower;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, spans));
    span::Batch batch;
    auto flush = [&]() -> Status {
      if (batch.spans.empty()) return {};
      result.spans += batch.spans.size();
      Status r = sink(std::move(batch));
      batch = span::Batch();
      return r;
    };
    for (it->SeekToFirst(); it->Valid() && st; it->Next()) {
      if (!SalvageSpanRecord(it->value().ToStringView(), batch)) {
        ++result.unreadable;
        continue;
      }
      if (batch.spans.size() >= 1000) st = flush();
    }
    if (st) st = flush();
    if (st && !it->status().ok()) note("stopped reading at a damaged block: " + it->status().ToString());
  };

  // The main database (head, and an older store's spans), then the spans
  // database under it (store_format.h).
  std::string head_key = internal::SeqKey(0);
  bool opened_any = false;
  std::string open_error;
  for (const fs::path& db_dir : {copy, copy / internal::kSpansDbDir}) {
    if (!fs::exists(db_dir, ec)) continue;
    std::unique_ptr<rocksdb::DB> db;
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    rocksdb::Status s = OpenCopy(db_dir, db, handles, descriptors, note);
    if (!s.ok()) {
      // Not silent when the other database opened: its spans are missing.
      open_error = s.ToString();
      note("cannot open " + db_dir.filename().string() + ": " + open_error);
      continue;
    }
    opened_any = true;
    const bool main = db_dir == copy;
    rocksdb::ColumnFamilyHandle* spans = nullptr;
    rocksdb::ColumnFamilyHandle* meta = nullptr;
    for (size_t i = 0; i < handles.size(); ++i) {
      if (main && descriptors[i].name == internal::kSpansCf) spans = handles[i];
      if (!main && descriptors[i].name == rocksdb::kDefaultColumnFamilyName) spans = handles[i];
      if (main && descriptors[i].name == internal::kMetaCf) meta = handles[i];
    }
    // Spans below the head were delivered (or dropped) and are deleted
    // lazily (store_format.h): start at the head when it can still be read.
    if (meta != nullptr) {
      std::string v;
      if (db->Get(rocksdb::ReadOptions(), meta, internal::kHeadKey, &v).ok() && internal::DecodeSeq(v)) head_key = v;
    }
    if (spans != nullptr && st) read_spans(db.get(), spans, rocksdb::Slice(head_key));
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
    db->Close();
  }
  if (!opened_any) return Fail(Error::Io("cannot open a copy of " + dir.string() + ": " + open_error));
  if (!st) return Fail(st.error());
  return result;
}

}  // namespace spanvault::buffer
