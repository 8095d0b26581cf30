// A full disk with the real binaries (issue 16): spanvaultd keeps its state on
// a 48 MiB tmpfs with the default max_disk_bytes (1 GiB) and an upstream that
// is down. on_full must apply before the kernel refuses a write; the daemon
// stays up and drains when the upstream is back; after a SIGKILL on the full
// filesystem it starts and drains; a disk filled by someone else puts the
// store in its failed state (readyz 503, senders refused) until space is back.
// Needs root (mount); skipped with the reason otherwise.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "tests/daemon/process_util.h"
#include "tests/ipc/http_test_client.h"
#include "tests/upstream/fake_backend.h"

namespace spanvault::testing {
namespace {

using namespace std::chrono_literals;
using http_test::FreePort;

// Disk work on a loaded machine: a longer default than tests/test_util.h's.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 60s) {
  return testing::WaitFor(cond, timeout, 50ms);
}

json Status(const DaemonProcess& d) {
  std::vector<std::string> argv = {SPANVAULT_CLI_PATH, "status", "--json"};
  for (auto& a : d.DirArgs()) argv.push_back(a);
  RunResult r = RunCommand(argv);
  return json::parse(r.out, nullptr, false);
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs v {};
  if (::statvfs(path.c_str(), &v) != 0) return 0;
  return uint64_t{v.f_bavail} * v.f_frsize;
}

// One HTTP/1.1 request to the daemon's listener; the whole answer ("" when
// there is none).
std::string HttpExchange(int port, const std::string& request) {
  int fd = http_test::RawConnect(port);
  if (fd < 0) return {};
  std::string answer;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[512];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return answer;
}

// GET /readyz: the status code, 0 when there is no answer.
int Readyz(int port) {
  std::string answer = HttpExchange(
      port, "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nConnection: close\r\n\r\n");
  if (answer.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(answer.c_str() + 9);
}

// A span of ~4 KB.
std::string BigSpan(const std::string& id) {
  static const std::string pad(4000, 'x');
  return R"({"name":"gen","span_id":")" + id + R"(","type":"generation","input":")" + pad + R"("})";
}

struct Mount {
  std::string path;
  bool mounted = false;
  ~Mount() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
};

// Sends batches of 50 spans, each with a barrier, and records which ones
// were acknowledged (accepted with no error). Counts batches refused.
class Sender {
 public:
  explicit Sender(const DaemonProcess& d, std::string prefix) : d_(d), prefix_(std::move(prefix)) {}

  // One batch; true when all of it was accepted.
  bool SendBatch() {
    if (!c_) {
      auto c = cli::StreamClient::Connect(d_.Socket());
      if (!c) return false;
      c_.emplace(std::move(*c));
    }
    std::vector<std::string> ids;
    std::string data;
    for (int i = 0; i < 50; ++i) {
      ids.push_back(prefix_ + std::to_string(next_++));
      data += BigSpan(ids.back()) + "\n";
    }
    data += "{\"$sync\":1}\n";
    if (!c_->Write(data).has_value()) {
      c_.reset();
      return false;
    }
    auto line = c_->ReadLine(30s);
    if (!line) {
      c_.reset();
      return false;
    }
    json a = json::parse(*line, nullptr, false);
    const bool all = a.is_object() && a.value("accepted", 0) == 50 && !a.contains("error") &&
                     a.value("errors", json::array()).empty();
    std::lock_guard lk(mu_);
    if (all) {
      acked_.insert(ids.begin(), ids.end());
    } else {
      ++refused_batches_;
      last_refusal_ = *line;
    }
    return all;
  }
  std::set<std::string> acked() const {
    std::lock_guard lk(mu_);
    return acked_;
  }
  int refused_batches() const {
    std::lock_guard lk(mu_);
    return refused_batches_;
  }
  std::string last_refusal() const {
    std::lock_guard lk(mu_);
    return last_refusal_;
  }

 private:
  const DaemonProcess& d_;
  std::string prefix_;
  int next_ = 0;
  std::optional<cli::StreamClient> c_;
  mutable std::mutex mu_;
  std::set<std::string> acked_;
  int refused_batches_ = 0;
  std::string last_refusal_;
};

bool AllDelivered(const FakeBackend& backend, const std::set<std::string>& acked) {
  auto got = backend.received_span_ids();
  for (const auto& id : acked) {
    if (!got.contains(id)) return false;
  }
  return true;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mnt_.path = dir_.str() + "/state";
    std::filesystem::create_directories(mnt_.path);
    if (::mount("tmpfs", mnt_.path.c_str(), "tmpfs", 0, "size=48m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "): needs root / CAP_SYS_ADMIN";
    }
    mnt_.mounted = true;
    backend_.Start();
  }

  TempDir dir_;
  Mount mnt_;
  FakeBackend backend_;
};

TEST_F(DiskFullTest, OnFullAppliesBeforeTheKernelDrainsAndStartsAgainOnAFullFilesystem) {
  backend_.SetDown(true);
  std::string config = WriteConfig(dir_, {{"fake", backend_.url("/v1/spans"), ""}}, "[buffer]\non_full = \"reject\"\n");
  DaemonProcess d(dir_);
  const int port = FreePort();
  // These are the buffer's bounds on a full filesystem: without local
  // retention, so that delivered spans leave at once.
  d.Start({"--config", config, "--http", "127.0.0.1:" + std::to_string(port), "--set", "local.retention=0"});

  // 1. Fill it until on_full refuses (the upstream is down).
  Sender sender(d, "a");
  ASSERT_TRUE(WaitFor([&] { return !sender.SendBatch() && sender.refused_batches() > 0; }, 120s))
      << "never refused; log:\n"
      << d.Log();
  EXPECT_NE(sender.last_refusal().find("buffer full"), std::string::npos) << sender.last_refusal();
  for (int i = 0; i < 20; ++i) sender.SendBatch();  // more refusals, no write error
  json s = Status(d);
  ASSERT_TRUE(s.is_object());
  const json& b = s["buffer"];
  EXPECT_GT(b["refused_full"].get<uint64_t>(), 0u) << b.dump();
  EXPECT_EQ(b["write_errors"], 0) << b.dump();
  EXPECT_EQ(b["store_state"], "ok") << b.dump();
  EXPECT_EQ(b["bound"], "filesystem") << b.dump();
  EXPECT_EQ(Readyz(port), 200) << "a full buffer is not a failed store";
  EXPECT_EQ(kill(d.pid(), 0), 0) << "the daemon is up";
  const uint64_t free_at_full = FreeBytes(mnt_.path);
  std::printf("[ measured ] on_full applied: buffered %llu bytes, bound %llu, free %llu (reserve %llu held)\n",
              (unsigned long long)b["bytes"].get<uint64_t>(),
              (unsigned long long)b["effective_max_bytes"].get<uint64_t>(), (unsigned long long)free_at_full,
              (unsigned long long)b["disk_reserve_bytes"].get<uint64_t>());
  EXPECT_GT(free_at_full, 4u << 20);
  const std::set<std::string> first = sender.acked();
  ASSERT_GT(first.size(), 1000u);

  // 2. The upstream comes back: everything stored is delivered, the
  // filesystem frees up, the daemon keeps running.
  backend_.SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return AllDelivered(backend_, first); }, 120s))
      << "delivered " << backend_.received_span_ids().size() << " of " << first.size() << "; log:\n"
      << d.Log();
  ASSERT_TRUE(WaitFor([&] {
    json st = Status(d);
    return st.is_object() && st["buffer"]["spans"] == 0;
  }));
  uint64_t free_drained = 0;
  EXPECT_TRUE(WaitFor([&] {
    free_drained = FreeBytes(mnt_.path);
    return free_drained >= free_at_full + (b["bytes"].get<uint64_t>() / 2);
  })) << "free "
      << free_drained << " after draining, " << free_at_full << " when full";
  std::printf("[ measured ] drained: free %llu\n", (unsigned long long)free_drained);
  EXPECT_EQ(kill(d.pid(), 0), 0);

  // 3. Full again, SIGKILL, restart on the full filesystem: it starts and drains.
  backend_.SetDown(true);
  Sender again(d, "b");
  ASSERT_TRUE(WaitFor([&] { return !again.SendBatch() && again.refused_batches() > 0; }, 120s));
  const std::set<std::string> second = again.acked();
  d.Signal(SIGKILL);
  d.Wait();
  std::printf("[ measured ] killed when full: free %llu\n", (unsigned long long)FreeBytes(mnt_.path));
  // These are the buffer's bounds on a full filesystem: without local
  // retention, so that delivered spans leave at once.
  d.Start({"--config", config, "--http", "127.0.0.1:" + std::to_string(port), "--set", "local.retention=0"});
  ASSERT_EQ(kill(d.pid(), 0), 0) << d.Log();
  backend_.SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return AllDelivered(backend_, second); }, 120s))
      << "delivered after the restart: not all of " << second.size() << "; log:\n"
      << d.Log();
  EXPECT_TRUE(WaitFor([&] { return Readyz(port) == 200; }));
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
  // Logged once per transition, never once per refused batch.
  std::string log = d.Log();
  size_t failed_lines = 0;
  for (size_t p = log.find("span store failed"); p != std::string::npos; p = log.find("span store failed", p + 1)) {
    ++failed_lines;
  }
  EXPECT_LE(failed_lines, 2u) << log;
}

// Someone else fills the filesystem (or it goes read-only): the store goes
// to its failed state (readyz 503, senders refused, status says why), and
// resumes by itself once the fault is gone; nothing acknowledged is lost.
TEST_F(DiskFullTest, AFaultIsAStateTheDaemonResumesByItselfAndLosesNothing) {
  backend_.SetDown(true);
  // reject: drop_oldest would make room by dropping acknowledged spans.
  std::string config = WriteConfig(dir_, {{"fake", backend_.url("/v1/spans"), ""}}, "[buffer]\non_full = \"reject\"\n");
  DaemonProcess d(dir_);
  const int port = FreePort();
  // These are the buffer's bounds on a full filesystem: without local
  // retention, so that delivered spans leave at once.
  d.Start({"--config", config, "--http", "127.0.0.1:" + std::to_string(port), "--set", "local.retention=0"});
  Sender sender(d, "c");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(sender.SendBatch()) << sender.last_refusal();
  ASSERT_EQ(Readyz(port), 200);

  // A read-only remount, when the kernel allows it with files open for
  // writing (it does not: EBUSY), else a filler that takes every free block.
  const bool ro = ::mount(nullptr, mnt_.path.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  if (!ro) std::printf("[ note ] remount,ro refused (%s): filling the filesystem instead\n", std::strerror(errno));
  const std::string filler = mnt_.path + "/filler";
  // The filler takes every block that frees up (the reserve too) until told
  // to stop, like a runaway log on the same filesystem.
  std::atomic<bool> stop_filler{false};
  std::thread filler_thread;
  if (!ro) {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::string chunk(1 << 20, 'f');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    filler_thread = std::thread([&, fd] {
      std::string small(4096, 'f');
      while (!stop_filler) {
        if (::write(fd, small.data(), small.size()) <= 0) std::this_thread::sleep_for(5ms);
      }
      ::close(fd);
    });
  }
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop) sender.SendBatch();
  });
  json st;
  EXPECT_TRUE(WaitFor([&] {
    st = Status(d);
    return st.is_object() && st["buffer"]["store_state"] == "failed";
  })) << st.dump();
  if (st.is_object()) std::printf("[ measured ] failed state: %s\n", st["buffer"].dump().c_str());
  EXPECT_EQ(Readyz(port), 503);
  {
    // An HTTP sender is told to come back later, not that its spans are bad.
    const std::string body = "{\"name\":\"http-while-failed\"}\n";
    std::string answer = HttpExchange(port, "POST /v1/spans HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                                "\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
                                                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
    EXPECT_NE(answer.find("Retry-After:"), std::string::npos) << answer;
  }
  const int refused_before = sender.refused_batches();
  EXPECT_TRUE(WaitFor([&] { return sender.refused_batches() > refused_before; }));
  EXPECT_NE(sender.last_refusal().find("not stored"), std::string::npos) << sender.last_refusal();
  EXPECT_EQ(kill(d.pid(), 0), 0);

  // The fault goes away: writable again without a restart.
  if (ro) {
    ASSERT_EQ(::mount(nullptr, mnt_.path.c_str(), nullptr, MS_REMOUNT, nullptr), 0) << std::strerror(errno);
  } else {
    stop_filler = true;
    filler_thread.join();
    std::filesystem::remove(filler);
  }
  EXPECT_TRUE(WaitFor([&] {
    st = Status(d);
    return st.is_object() && st["buffer"]["store_state"] == "ok";
  })) << st.dump();
  EXPECT_TRUE(WaitFor([&] { return Readyz(port) == 200; }));
  const size_t acked_before = sender.acked().size();
  EXPECT_TRUE(WaitFor([&] { return sender.acked().size() > acked_before + 100; })) << "ingest resumed";
  stop = true;
  load.join();
  backend_.SetDown(false);
  const std::set<std::string> acked = sender.acked();
  EXPECT_TRUE(WaitFor([&] { return AllDelivered(backend_, acked); }, 120s))
      << "not every acknowledged span was delivered; log:\n"
      << d.Log();
  std::string log = d.Log();
  EXPECT_NE(log.find("span store writable again"), std::string::npos);
  size_t failed_lines = 0;
  for (size_t p = log.find("span store failed"); p != std::string::npos; p = log.find("span store failed", p + 1)) {
    ++failed_lines;
  }
  EXPECT_EQ(failed_lines, 1u) << log;
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

}  // namespace
}  // namespace spanvault::testing

namespace spanvault::testing {
namespace {

// The store's filesystem goes read-only under load, the way the kernel does
// it (ext4 with errors=remount-ro after an error; triggered here through
// ext4's trigger_fs_error), and comes back after the operator's unmount,
// fsck and mount: the daemon refuses spans meanwhile (readyz 503), lets go of
// the filesystem so that it can be unmounted, and resumes by itself once it
// is mounted again; nothing acknowledged is lost. Needs root, a loop device
// and mkfs.ext4; skipped with the reason otherwise.
TEST(ReadOnlyFilesystemTest, GoesReadOnlyUnderLoadAndComesBack) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (loop device, mount)";
  TempDir dir;
  const std::string image = dir.str() + "/fs.img";
  const std::string state = dir.str() + "/state";
  std::filesystem::create_directories(state);
  RunResult loop = RunCommand({"/bin/sh", "-c", "truncate -s 256M " + image + " && losetup -f --show " + image});
  if (loop.code != 0 || loop.out.empty()) GTEST_SKIP() << "no loop device: " << loop.out;
  const std::string dev = loop.out.substr(0, loop.out.find('\n'));
  struct Detach {
    std::string dev, state;
    ~Detach() {
      ::umount2(state.c_str(), MNT_DETACH);
      RunCommand({"/bin/sh", "-c", "losetup -d " + dev});
    }
  } detach{dev, state};
  RunResult mkfs = RunCommand({"/bin/sh", "-c", "mkfs.ext4 -q " + dev + " 2>&1"});
  if (mkfs.code != 0) GTEST_SKIP() << "mkfs.ext4: " << mkfs.out;
  auto mount_it = [&] { return ::mount(dev.c_str(), state.c_str(), "ext4", 0, "errors=remount-ro") == 0; };
  ASSERT_TRUE(mount_it()) << std::strerror(errno);
  const std::string trigger = "/sys/fs/ext4/" + std::filesystem::path(dev).filename().string() + "/trigger_fs_error";
  if (!std::filesystem::exists(trigger)) GTEST_SKIP() << "no " << trigger;

  FakeBackend backend;
  backend.Start();
  backend.SetDown(true);
  // durability = machine: an acknowledged span is fsynced. (In process
  // mode a filesystem that goes read-only loses the dirty pages of the last
  // fsync_interval, as a power failure does: docs/durability.md.)
  std::string config =
      WriteConfig(dir, {{"fake", backend.url("/v1/spans"), ""}}, "[buffer]\ndurability = \"machine\"\n");
  DaemonProcess d(dir);
  const int port = FreePort();
  // These are the buffer's bounds on a full filesystem: without local
  // retention, so that delivered spans leave at once.
  d.Start({"--config", config, "--http", "127.0.0.1:" + std::to_string(port), "--set", "local.retention=0"});
  Sender sender(d, "ro");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(sender.SendBatch()) << sender.last_refusal();
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop) sender.SendBatch();
  });

  // Read-only, under load.
  std::ofstream(trigger) << "spanvault test\n";
  json st;
  EXPECT_TRUE(WaitFor([&] {
    st = Status(d);
    return st.is_object() && st["buffer"]["store_state"] == "failed";
  })) << st.dump();
  // The write that meets the remount sees EROFS, or EIO when an fdatasync
  // was in flight as the journal aborted (ext4's errors=remount-ro): both
  // are the filesystem going read-only under the store.
  const std::string store_error = st["buffer"].value("store_error", std::string());
  EXPECT_TRUE(store_error.find("Read-only file system") != std::string::npos ||
              store_error.find("Input/output error") != std::string::npos)
      << st.dump();
  EXPECT_EQ(Readyz(port), 503);
  const int refused_before = sender.refused_batches();
  EXPECT_TRUE(WaitFor([&] { return sender.refused_batches() > refused_before; }));

  // The operator unmounts (possible once the daemon let go of its files),
  // checks and mounts it again.
  EXPECT_TRUE(WaitFor([&] { return ::umount2(state.c_str(), 0) == 0; }, 30s))
      << "the daemon keeps the read-only filesystem busy: " << std::strerror(errno);
  RunResult fsck = RunCommand({"/bin/sh", "-c", "e2fsck -fy " + dev + " >/dev/null 2>&1; echo $?"});
  EXPECT_LE(std::atoi(fsck.out.c_str()), 1) << "e2fsck: " << fsck.out;
  ASSERT_TRUE(mount_it()) << std::strerror(errno);
  EXPECT_TRUE(WaitFor([&] {
    st = Status(d);
    return st.is_object() && st["buffer"]["store_state"] == "ok";
  })) << st.dump();
  EXPECT_TRUE(WaitFor([&] { return sender.SendBatch(); })) << sender.last_refusal();
  EXPECT_EQ(Readyz(port), 200);
  stop = true;
  load.join();
  EXPECT_EQ(kill(d.pid(), 0), 0) << "the daemon died";

  // Everything acknowledged, before, during and after, is delivered.
  const std::set<std::string> acked = sender.acked();
  backend.SetDown(false);
  EXPECT_TRUE(backend.WaitForUniqueSpans(acked.size(), 60s)) << backend.unique_spans() << " of " << acked.size();
  auto received = backend.received_span_ids();
  size_t missing = 0;
  std::string some;
  for (const auto& id : acked) {
    if (received.count(id) != 0) continue;
    if (++missing <= 5) some += " " + id;
  }
  EXPECT_EQ(missing, 0u) << "e.g." << some;
  std::printf("[ measured ] read-only and back: %zu spans acknowledged, %d batches refused meanwhile\n", acked.size(),
              sender.refused_batches());
  d.Signal(SIGTERM);
  EXPECT_EQ(d.Wait(), 0);
}

}  // namespace
}  // namespace spanvault::testing
