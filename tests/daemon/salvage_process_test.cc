// A damaged store, with the real spanvaultd (issue 16): found damaged at
// start, it is moved aside, the daemon accepts spans at once on a fresh
// store, and a background salvage puts back every span outside the damage;
// the moved-aside store is removed when nothing was lost and kept with a
// report otherwise. `spanvault buffer salvage DIR` still takes a store from
// elsewhere.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "cli/client.h"
#include "tests/daemon/process_util.h"
#include "tests/test_util.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

json Status(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "status", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  return json::parse(RunCommand(argv).out, nullptr, false);
}

// Polls the daemon's status until `done` holds (at most 60 s).
json WaitForStatus(const DaemonProcess& d, const std::function<bool(const json&)>& done) {
  json s;
  for (auto deadline = std::chrono::steady_clock::now() + 60s; std::chrono::steady_clock::now() < deadline;) {
    s = Status(d);
    if (s.is_object() && done(s)) return s;
    std::this_thread::sleep_for(50ms);
  }
  ADD_FAILURE() << "timed out; last status: " << s.dump();
  return s;
}

bool SalvageFinished(const json& s) {
  return s["buffer"].contains("salvage") && s["buffer"]["salvage"]["state"] != "running";
}

// Sends `n` spans (ids prefix0..) of about `pad` bytes each and waits for them.
std::multiset<std::string> SendSpans(const DaemonProcess& d, const std::string& prefix, int n, size_t pad) {
  std::multiset<std::string> ids;
  auto c = cli::StreamClient::Connect(d.Socket());
  EXPECT_TRUE(c.has_value());
  if (!c) return ids;
  std::string data;
  for (int i = 0; i < n; ++i) {
    std::string id = prefix + std::to_string(i);
    ids.insert(id);
    data += R"({"name":"gen","span_id":")" + id + R"(","input":")" + std::string(pad, 'x') + "\"}\n";
    if (data.size() > (1 << 20) || i + 1 == n) {
      EXPECT_TRUE(c->Write(data).has_value());
      data.clear();
    }
  }
  EXPECT_TRUE(c->Write("{\"$sync\":1}\n").has_value());
  auto answer = c->ReadLine(std::chrono::seconds(120));
  EXPECT_TRUE(answer.has_value());
  if (answer) EXPECT_EQ(json::parse(*answer)["accepted"], n) << *answer;
  return ids;
}

std::vector<fs::path> TableFiles(const fs::path& spans_db) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(spans_db, ec)) {
    if (e.path().extension() == ".sst") out.push_back(e.path());
  }
  return out;
}

// A store with only a garbled CURRENT: nothing of the spans is damaged, so
// all of them come back and the moved-aside store is removed.
TEST(SalvageProcessTest, AStoreThatWillNotOpenIsSalvagedWholeAndRemoved) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  std::multiset<std::string> expected = SendSpans(d, "v", 500, 20);
  d.Signal(SIGKILL);  // the spans are only in the WAL
  d.Wait();
  const std::string store = dir.str() + "/state/buffer";
  std::ofstream(store + "/CURRENT", std::ios::trunc) << "garbage";
  const fs::path elsewhere = dir.path() / "elsewhere";
  fs::copy(store, elsewhere, fs::copy_options::recursive);

  d.Start();
  // New spans are taken at once, salvage or not.
  std::multiset<std::string> fresh = SendSpans(d, "n", 10, 20);
  json s = WaitForStatus(d, SalvageFinished);
  const std::string moved = s["buffer"].value("store_recovered_from", std::string());
  ASSERT_EQ(moved.rfind(store + ".corrupt-", 0), 0u) << s.dump();
  EXPECT_EQ(s["buffer"]["salvage"]["state"], "done") << s.dump();
  EXPECT_EQ(s["buffer"]["salvage"]["spans"], 500) << s.dump();
  EXPECT_FALSE(fs::exists(moved)) << "a salvage that lost nothing removes the moved-aside store";
  EXPECT_NE(d.Log().find("salvaged the damaged span store completely"), std::string::npos) << d.Log();
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  std::multiset<std::string> all = expected;
  all.insert(fresh.begin(), fresh.end());
  EXPECT_EQ(DumpIds(d), all);

  // A store brought from elsewhere, through the running daemon: its spans
  // are added (again).
  d.Start();
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "buffer", "salvage", elsewhere.string()};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult online = RunCommand(argv);
  EXPECT_EQ(online.code, 0) << online.out;
  EXPECT_EQ(online.out.rfind("salvaged 500 spans (0 unreadable)", 0), 0u) << online.out;
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  EXPECT_EQ(DumpIds(d).size(), 1010u);
  EXPECT_TRUE(fs::exists(elsewhere)) << "a salvage never changes what it reads";
}

// A salvage into a live store that is full (on_full = reject) stops there:
// the rest stays in the moved-aside store, kept with a report saying so,
// never counted as salvaged.
TEST(SalvageProcessTest, ASalvageThatDoesNotFitIsKeptNotLost) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  SendSpans(d, "r", 3000, 1000);  // ~3 MB
  d.Signal(SIGKILL);
  d.Wait();
  std::ofstream(dir.str() + "/state/buffer/CURRENT", std::ios::trunc) << "garbage";
  d.Start({"--set", "buffer.on_full=reject", "--set", "buffer.max_disk_bytes=1MiB"});
  json s = WaitForStatus(d, SalvageFinished);
  EXPECT_EQ(s["buffer"]["salvage"]["state"], "failed") << s.dump();
  const uint64_t salvaged = s["buffer"]["salvage"].value("spans", 0ull);
  EXPECT_LT(salvaged, 3000u);
  EXPECT_EQ(s["buffer"]["spans"], salvaged) << s.dump();
  const fs::path moved = s["buffer"].value("store_recovered_from", std::string());
  ASSERT_TRUE(fs::exists(moved / "SALVAGE-REPORT.txt")) << s.dump();
  std::ifstream report(moved / "SALVAGE-REPORT.txt");
  std::string text((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("the live store is full"), std::string::npos) << text;
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

// The issue's case: 50,000 spans buffered, two 4 KiB regions of a table file
// overwritten. Every span outside those regions comes back by itself.
TEST(SalvageProcessTest, TwoDamagedBlocksCostOnlyTheSpansInThem) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  constexpr int kSpans = 50'000;
  constexpr size_t kPad = 1000;  // ~1 KiB spans: 50 MB, more than a memtable
  std::multiset<std::string> sent = SendSpans(d, "s", kSpans, kPad);
  const fs::path spans_db = dir.path() / "state/buffer/spans";
  // At least one table file (a full memtable is flushed in the background).
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       TableFiles(spans_db).empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);
  }
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  std::vector<fs::path> tables = TableFiles(spans_db);
  ASSERT_FALSE(tables.empty());
  const fs::path& table = *std::max_element(tables.begin(), tables.end(), [](const fs::path& a, const fs::path& b) {
    return fs::file_size(a) < fs::file_size(b);
  });
  const uint64_t size = fs::file_size(table);
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    std::mt19937 rng(16);
    for (uint64_t at : {size / 3, 2 * size / 3}) {
      std::string junk(4096, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng());
      f.seekp(static_cast<std::streamoff>(at));
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }

  d.Start();
  json s = WaitForStatus(d, SalvageFinished);
  ASSERT_TRUE(s["buffer"].contains("store_recovered_from")) << "the damage was not found at start: " << s.dump();
  const std::string moved = s["buffer"]["store_recovered_from"];
  EXPECT_EQ(s["buffer"]["salvage"]["state"], "kept") << s.dump();
  const uint64_t salvaged = s["buffer"]["salvage"]["spans"];
  // A 4 KiB region overwrites at most 4096 / 1050 + 2 spans.
  EXPECT_GE(salvaged, static_cast<uint64_t>(kSpans - 2 * 6)) << s.dump();
  EXPECT_LT(salvaged, static_cast<uint64_t>(kSpans)) << "the damage cost nothing?";
  std::printf("[ damage ] two 4 KiB regions in %s (%llu bytes): salvaged %llu of %d\n", table.filename().c_str(),
              static_cast<unsigned long long>(size), static_cast<unsigned long long>(salvaged), kSpans);
  // Kept, with a report, since spans were lost.
  ASSERT_TRUE(fs::exists(fs::path(moved) / "SALVAGE-REPORT.txt"));
  std::ifstream report(fs::path(moved) / "SALVAGE-REPORT.txt");
  std::string text((std::istreambuf_iterator<char>(report)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("seqs not found"), std::string::npos) << text;
  EXPECT_EQ(s["buffer"]["spans"], salvaged);
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  // Every span kept is one that was sent, once.
  std::multiset<std::string> kept = DumpIds(d);
  EXPECT_EQ(kept.size(), salvaged);
  std::set<std::string> unique(kept.begin(), kept.end());
  EXPECT_EQ(unique.size(), kept.size());
  for (const auto& id : unique) EXPECT_EQ(sent.count(id), 1u) << id;
}

// Damage met while the daemon runs, by the forwarder's read of a backlog:
// no restart, the spans database is moved aside, a salvage puts back what
// it can, and the forwarder goes on: the backend gets every span outside
// the damage.
TEST(SalvageProcessTest, DamageMetWhileForwardingIsSalvagedWithoutARestart) {
  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  TempDir dir;
  std::string config = WriteConfig(dir, {{"fake", backend.url("/v1/spans"), ""}});
  DaemonProcess d(dir);
  d.Start({"--config", config});
  constexpr int kSpans = 50'000;
  std::multiset<std::string> sent = SendSpans(d, "f", kSpans, 1000);
  const fs::path spans_db = dir.path() / "state/buffer/spans";
  for (auto deadline = std::chrono::steady_clock::now() + 60s;
       TableFiles(spans_db).empty() && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);
  }
  std::vector<fs::path> tables = TableFiles(spans_db);
  ASSERT_FALSE(tables.empty());
  const fs::path& table = *std::max_element(tables.begin(), tables.end(), [](const fs::path& a, const fs::path& b) {
    return fs::file_size(a) < fs::file_size(b);
  });
  {
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    std::string junk(4096, '\x33');
    f.seekp(static_cast<std::streamoff>(fs::file_size(table) / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const pid_t pid = d.pid();
  backend.SetDown(false);
  json s = WaitForStatus(
      d, [](const json& st) { return st["buffer"].value("stores_moved_aside", 0) == 1 && SalvageFinished(st); });
  EXPECT_EQ(s["buffer"]["salvage"]["state"], "kept") << s.dump() << d.Log().substr(0, 4000);
  const uint64_t salvaged = s["buffer"]["salvage"].value("spans", 0ull);
  // Every span outside the damage reaches the backend: those delivered
  // before the read met it, and the salvaged rest.
  EXPECT_TRUE(backend.WaitForUniqueSpans(kSpans - 8, 120s)) << backend.unique_spans() << " of " << kSpans;
  EXPECT_EQ(d.pid(), pid);
  for (const auto& [id, n] : backend.received_span_ids()) EXPECT_EQ(sent.count(id), 1u) << id;
  std::printf("[ damage ] 4 KiB of a %llu-byte table file met while forwarding: %zu of %d delivered, %llu salvaged\n",
              static_cast<unsigned long long>(fs::file_size(table)), backend.unique_spans(), kSpans,
              static_cast<unsigned long long>(salvaged));
  EXPECT_NE(d.Log().find("the spans database is damaged; moved it aside"), std::string::npos);
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

// Damage in the middle of a WAL: RocksDB would replay up to it and drop
// the rest without a word (point-in-time recovery); spanvault refuses such a
// WAL, moves the store aside and salvages around the damage.
TEST(SalvageProcessTest, ADamagedWalLosesOnlyWhatTheDamageOverwrote) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  constexpr int kSpans = 20'000;
  std::multiset<std::string> sent = SendSpans(d, "w", kSpans, 500);
  d.Signal(SIGKILL);  // the spans are only in the WAL
  d.Wait();
  const fs::path spans_db = dir.path() / "state/buffer/spans";
  fs::path wal;
  for (const auto& e : fs::directory_iterator(spans_db)) {
    if (e.path().extension() == ".log" && (wal.empty() || fs::file_size(e.path()) > fs::file_size(wal))) wal = e.path();
  }
  ASSERT_FALSE(wal.empty());
  ASSERT_TRUE(TableFiles(spans_db).empty()) << "the test wants the spans in the WAL alone";
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    std::string junk(4096, '\x5a');
    f.seekp(static_cast<std::streamoff>(fs::file_size(wal) / 2));
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  d.Start();
  json s = WaitForStatus(d, SalvageFinished);
  const uint64_t salvaged = s["buffer"]["salvage"].value("spans", 0ull);
  EXPECT_EQ(s["buffer"]["salvage"]["state"], "kept") << s.dump();
  // 4 KiB of ~560-byte spans: at most 4096 / 560 + 3.
  EXPECT_GE(salvaged, static_cast<uint64_t>(kSpans - 10)) << s.dump();
  std::printf("[ damage ] 4 KiB in the middle of %s (%llu bytes): salvaged %llu of %d\n", wal.filename().c_str(),
              static_cast<unsigned long long>(fs::file_size(wal)), static_cast<unsigned long long>(salvaged), kSpans);
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  std::multiset<std::string> kept = DumpIds(d);
  EXPECT_EQ(kept.size(), salvaged);
  for (const auto& id : kept) EXPECT_EQ(sent.count(id), 1u) << id;
}

// A crash tears the WAL's last record: that is not damage, the store opens
// as it is (no salvage), with every span acknowledged before the crash.
TEST(SalvageProcessTest, ATornWalTailIsNotDamage) {
  TempDir dir;
  DaemonProcess d(dir);
  d.Start();
  std::multiset<std::string> sent = SendSpans(d, "t", 2'000, 200);
  d.Signal(SIGKILL);
  d.Wait();
  fs::path wal;
  for (const auto& e : fs::directory_iterator(dir.path() / "state/buffer/spans")) {
    if (e.path().extension() == ".log" && (wal.empty() || fs::file_size(e.path()) > fs::file_size(wal))) wal = e.path();
  }
  ASSERT_FALSE(wal.empty());
  // A write cut short: a record header and part of its payload at the end.
  {
    std::ofstream f(wal, std::ios::app | std::ios::binary);
    f << std::string("\x12\x34\x56\x78\xff\x00\x01", 7) << std::string(100, 'p');
  }
  d.Start();
  json s = Status(d);
  EXPECT_FALSE(s["buffer"].contains("store_recovered_from")) << s.dump();
  EXPECT_EQ(s["buffer"]["spans"], 2000) << s.dump();
  d.Signal(SIGTERM);
  ASSERT_EQ(d.Wait(), 0);
  EXPECT_EQ(DumpIds(d), sent);
}

}  // namespace
}  // namespace spanvault::testing
