// I/O faults for real: RocksDB runs on a file system whose WAL appends fail
// on demand. No mocks: the queue, RocksDB and the disk are real.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "buffer/span_queue.h"
#include "common/log_limiter.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

class FailingWalFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FailingWalFs(std::shared_ptr<rocksdb::FileSystem> target) : FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FailingWalFs"; }

  std::atomic<bool> fail{false};
  std::atomic<bool> nospace{false};  // with fail: the error is ENOSPC's
  std::atomic<int> injected{0};

  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    auto s = target()->NewWritableFile(f, o, r, dbg);
    if (s.ok() && f.size() > 4 && f.compare(f.size() - 4, 4, ".log") == 0) {
      r->reset(new File(std::move(*r), this));
    }
    return s;
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile>&& t, FailingWalFs* fs)
        : FSWritableFileOwnerWrapper(std::move(t)), fs_(fs) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (fs_->fail) {
        ++fs_->injected;
        if (fs_->nospace) return rocksdb::IOStatus::NoSpace("injected WAL append failure: No space left on device");
        return rocksdb::IOStatus::IOError("injected WAL append failure");
      }
      return FSWritableFileOwnerWrapper::Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      if (fs_->fail) {
        ++fs_->injected;
        if (fs_->nospace) return rocksdb::IOStatus::NoSpace("injected WAL append failure: No space left on device");
        return rocksdb::IOStatus::IOError("injected WAL append failure");
      }
      return FSWritableFileOwnerWrapper::Append(d, o, v, dbg);
    }

   private:
    FailingWalFs* fs_;
  };
};

span::Batch OneSpan(const std::string& json) {
  span::Batch b;
  b.data = json;
  b.spans.push_back({0, static_cast<uint32_t>(json.size())});
  b.received_ns = NowNanos();
  return b;
}

StoreResult AppendSync(SpanQueue& q, const std::string& json) {
  std::promise<StoreResult> p;
  q.Append(OneSpan(json), /*fsync=*/false, [&](const StoreResult& r) { p.set_value(r); });
  return p.get_future().get();
}

TEST(SpanQueueFaultTest, FailedWalWriteIsReportedAndTheQueueRecovers) {
  testing::TempDir dir;
  auto fs = std::make_shared<FailingWalFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Options o;
  o.dir = dir.path() / "q";
  o.env = env.get();
  {
    auto q = SpanQueue::Open(o);
    ASSERT_TRUE(q.has_value()) << q.error().message;
    EXPECT_TRUE(AppendSync(**q, R"({"span_id":"a"})").ok);

    fs->fail = true;
    StoreResult bad = AppendSync(**q, R"({"span_id":"b"})");
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.stored, 0u);
    EXPECT_NE(bad.error.find("injected WAL append failure"), std::string::npos) << bad.error;
    EXPECT_GT(fs->injected.load(), 0);
    EXPECT_EQ((*q)->GetStats().write_errors, 1u);

    // The fault goes away: the queue writes again without a restart (it
    // retries recovery at most once a second, so a lasting fault fails fast).
    fs->fail = false;
    ASSERT_TRUE(testing::WaitFor([&] { return (*q)->GetStats().store_ok; })) << (*q)->GetStats().store_error;
    StoreResult good = AppendSync(**q, R"({"span_id":"c"})");
    EXPECT_TRUE(good.ok) << good.error;

    auto recs = (*q)->Read(0, 100, 1 << 20);
    ASSERT_TRUE(recs.has_value());
    ASSERT_EQ(recs->size(), 2u);
    EXPECT_EQ((*recs)[0].json, R"({"span_id":"a"})");
    EXPECT_EQ((*recs)[1].json, R"({"span_id":"c"})");
    EXPECT_EQ((*q)->GetStats().spans, 2u);
  }
  // And what was acknowledged is there after a restart; what failed is not.
  auto q = SpanQueue::Open(o);
  ASSERT_TRUE(q.has_value()) << q.error().message;
  auto recs = (*q)->Read(0, 100, 1 << 20);
  ASSERT_TRUE(recs.has_value());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ((*recs)[1].json, R"({"span_id":"c"})");
}

// Captures what the process writes on fd 2 (the log) while it is alive.
class StderrCapture {
 public:
  StderrCapture() : path_(std::filesystem::temp_directory_path() / ("sv-log-" + std::to_string(::getpid()))) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd_, STDERR_FILENO);
  }
  std::string Stop() {
    if (saved_ >= 0) {
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
      ::close(fd_);
    }
    std::ifstream in(path_);
    std::stringstream ss;
    ss << in.rdbuf();
    std::filesystem::remove(path_);
    return ss.str();
  }
  ~StderrCapture() { Stop(); }

 private:
  std::filesystem::path path_;
  int fd_ = -1, saved_ = -1;
};

size_t Count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

using testing::WaitFor;  // tests/test_util.h

// A failed store is a state (docs/durability.md, "A full disk"): appends are
// refused at once and logged once, not once per batch; acks go on (in
// memory) and are persisted once the store is writable again; the end of
// the failure is logged once too.
TEST(SpanQueueFaultTest, FailureIsAStateLoggedOnceAcksGoOnAndItEndsByItself) {
  testing::TempDir dir;
  auto fs = std::make_shared<FailingWalFs>(rocksdb::FileSystem::Default());
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  Options o;
  o.dir = dir.path() / "q";
  o.env = env.get();
  o.disk_reserve_bytes = 1 << 20;
  uint64_t acked = 0;
  {
    auto q = SpanQueue::Open(o);
    ASSERT_TRUE(q.has_value()) << q.error().message;
    ASSERT_TRUE((*q)->AddConsumer("up"));
    ASSERT_TRUE(AppendSync(**q, R"({"span_id":"a"})").ok);
    ASSERT_TRUE(AppendSync(**q, R"({"span_id":"b"})").ok);
    EXPECT_TRUE((*q)->GetStats().store_ok);
    // The reserve is in place (this filesystem has room for 1 MiB).
    EXPECT_TRUE(std::filesystem::exists(o.dir / "RESERVE"));
    EXPECT_EQ((*q)->GetStats().disk_reserve_bytes, 1u << 20);

    StderrCapture log;
    fs->fail = true;
    fs->nospace = true;
    for (int i = 0; i < 50; ++i) {
      StoreResult r = AppendSync(**q, R"({"span_id":"lost"})");
      EXPECT_FALSE(r.ok);
      EXPECT_EQ(r.stored, 0u);
    }
    Stats failed = (*q)->GetStats();
    EXPECT_FALSE(failed.store_ok);
    EXPECT_NE(failed.store_error.find("No space left on device"), std::string::npos) << failed.store_error;
    EXPECT_GT(failed.store_failed_since_ns, 0);
    EXPECT_EQ(failed.store_failures, 1u);
    EXPECT_EQ(failed.write_errors, 50u);
    // The disk is full: the reserve went, so that RocksDB has room to recover.
    EXPECT_FALSE(std::filesystem::exists(o.dir / "RESERVE"));
    EXPECT_EQ(failed.disk_reserve_bytes, 0u);

    // Delivery goes on while failed: the ack is taken (in memory).
    auto recs = (*q)->Read(0, 100, 1 << 20);
    ASSERT_TRUE(recs.has_value());
    ASSERT_EQ(recs->size(), 2u);
    acked = recs->back().seq + 1;
    ASSERT_TRUE((*q)->Ack("up", acked)) << "ack refused while the store is failed";
    EXPECT_EQ((*q)->GetStats().spans, 0u);
    EXPECT_EQ((*q)->ConsumerPosition("up").value_or(0), acked);

    // The fault goes away: the store is writable again without a restart.
    fs->fail = false;
    ASSERT_TRUE(WaitFor([&] { return AppendSync(**q, R"({"span_id":"c"})").ok; }));
    EXPECT_TRUE((*q)->GetStats().store_ok);
    EXPECT_TRUE((*q)->GetStats().store_error.empty());
    // The reserve is made again once there is room.
    EXPECT_TRUE(WaitFor([&] {
      std::promise<StoreResult> p;  // an empty batch: the writer re-evaluates between groups
      (*q)->Append(span::Batch{}, false, [&](const StoreResult& r) { p.set_value(r); });
      p.get_future().get();
      return (*q)->GetStats().disk_reserve_bytes == (1u << 20);
    }));
    EXPECT_TRUE(std::filesystem::exists(o.dir / "RESERVE"));
    std::string text = log.Stop();
    EXPECT_EQ(Count(text, "span store failed"), 1u) << text;
    EXPECT_EQ(Count(text, "span store writable again"), 1u) << text;
    EXPECT_EQ(Count(text, "released the disk reserve"), 1u) << text;
    EXPECT_EQ(Count(text, "disk reserve made again"), 1u) << text;
    // 50 refused appends, a few lines in all (not one per batch).
    EXPECT_LE(Count(text, "\n"), 8u) << text;
  }
  // The ack taken while failed was persisted after the recovery.
  auto q = SpanQueue::Open(o);
  ASSERT_TRUE(q.has_value()) << q.error().message;
  EXPECT_EQ((*q)->ConsumerPosition("up").value_or(0), acked);
  auto recs = (*q)->Read(0, 100, 1 << 20);
  ASSERT_TRUE(recs.has_value());
  ASSERT_EQ(recs->size(), 1u);
  EXPECT_EQ((*recs)[0].json, R"({"span_id":"c"})");
}

// While a failure lasts, it is logged again at most every 30 s with the
// number of failures since the last line (the limiter the store uses).
TEST(SpanQueueFaultTest, RepeatedFailuresAreLoggedAtMostEveryThirtySeconds) {
  LogLimiter limiter(std::chrono::seconds(30));
  const int64_t s = 1'000'000'000;
  EXPECT_EQ(limiter.Tick("store failure 1", 0), 1u);  // the line that says it started
  uint64_t logged = 0, lines = 0;
  for (int64_t t = 1; t <= 95; ++t) {  // one failed append a second for 95 s
    if (uint64_t n = limiter.Tick("store failure 1", t * s)) {
      ++lines;
      logged += n;
    }
  }
  EXPECT_EQ(lines, 3u);    // at 30, 60 and 90 s
  EXPECT_EQ(logged, 90u);  // each with the count since the previous line
}

// The bound follows the filesystem: on a 48 MiB tmpfs with the default 1 GiB
// max_disk_bytes, on_full applies before the kernel says ENOSPC, and there
// is room left to drain.
TEST(SpanQueueFaultTest, BoundFollowsASmallFilesystem) {
  testing::TempDir dir;
  const std::filesystem::path mnt = dir.path() / "mnt";
  std::filesystem::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=48m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "): needs root / CAP_SYS_ADMIN";
  }
  struct Unmount {
    std::filesystem::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt};
  for (OnFull mode : {OnFull::kReject, OnFull::kDropOldest}) {
    Options o;
    o.dir = mnt / (mode == OnFull::kReject ? "reject" : "drop");
    o.on_full = mode;
    auto q = SpanQueue::Open(o);
    ASSERT_TRUE(q.has_value()) << q.error().message;
    Stats st = (*q)->GetStats();
    EXPECT_EQ(st.bound, "filesystem");
    EXPECT_LT(st.effective_max_bytes, 48ull << 20);
    EXPECT_EQ(st.disk_reserve_bytes, 6ull << 20);  // 1/8 of the filesystem
    const std::string pad(1000, 'x');
    std::string span = R"({"span_id":"s","pad":")" + pad + R"("})";
    // Write about three filesystems' worth.
    for (int i = 0; i < 150000; ++i) {
      span::Batch b;
      for (int k = 0; k < 10; ++k) {
        b.spans.push_back({static_cast<uint32_t>(b.data.size()), static_cast<uint32_t>(span.size())});
        b.data += span;
      }
      b.received_ns = NowNanos();
      std::promise<StoreResult> p;
      (*q)->Append(std::move(b), false, [&](const StoreResult& r) { p.set_value(r); });
      StoreResult r = p.get_future().get();
      ASSERT_TRUE(r.ok) << "write failed at batch " << i << ": " << r.error;
      if (i > 0 && i % 1000 == 0) {
        st = (*q)->GetStats();
        if (mode == OnFull::kReject ? st.refused_full > 0 : st.dropped_spans > 0) break;
      }
    }
    st = (*q)->GetStats();
    EXPECT_EQ(st.write_errors, 0u);
    EXPECT_TRUE(st.store_ok);
    EXPECT_GT(mode == OnFull::kReject ? st.refused_full : st.dropped_spans, 0u);
    struct statvfs v {};
    ASSERT_EQ(::statvfs(mnt.c_str(), &v), 0);
    const uint64_t free = uint64_t{v.f_bavail} * v.f_frsize;
    std::printf("[ measured ] on_full=%s: buffered %llu bytes (%llu spans), bound %llu, free %llu, reserve %llu\n",
                mode == OnFull::kReject ? "reject" : "drop_oldest", (unsigned long long)st.bytes,
                (unsigned long long)st.spans, (unsigned long long)st.effective_max_bytes, (unsigned long long)free,
                (unsigned long long)st.disk_reserve_bytes);
    EXPECT_GT(free, 4ull << 20);
    (*q)->Close();
    q->reset();
    std::filesystem::remove_all(o.dir);
  }
}

}  // namespace
}  // namespace spanvault::buffer
