// I/O faults for real: RocksDB runs on a file system whose WAL appends fail
// on demand. No mocks: the queue, RocksDB and the disk are real.
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <future>
#include <thread>

#include "buffer/span_queue.h"
#include "common/util.h"
#include "tests/test_util.h"

namespace spanvault::buffer {
namespace {

class FailingWalFs : public rocksdb::FileSystemWrapper {
 public:
  explicit FailingWalFs(std::shared_ptr<rocksdb::FileSystem> target) : FileSystemWrapper(std::move(target)) {}
  const char* Name() const override { return "FailingWalFs"; }

  std::atomic<bool> fail{false};
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
        return rocksdb::IOStatus::IOError("injected WAL append failure");
      }
      return FSWritableFileOwnerWrapper::Append(d, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& d, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v, rocksdb::IODebugContext* dbg) override {
      if (fs_->fail) {
        ++fs_->injected;
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

AppendResult AppendSync(SpanQueue& q, const std::string& json) {
  std::promise<AppendResult> p;
  q.Append(OneSpan(json), /*fsync=*/false, [&](const AppendResult& r) { p.set_value(r); });
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
    AppendResult bad = AppendSync(**q, R"({"span_id":"b"})");
    EXPECT_FALSE(bad.ok);
    EXPECT_EQ(bad.stored, 0u);
    EXPECT_NE(bad.error.find("injected WAL append failure"), std::string::npos) << bad.error;
    EXPECT_GT(fs->injected.load(), 0);
    EXPECT_EQ((*q)->GetStats().write_errors, 1u);

    // The fault goes away: the queue writes again without a restart (it
    // retries recovery at most once a second, so a lasting fault fails fast).
    fs->fail = false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    AppendResult good = AppendSync(**q, R"({"span_id":"c"})");
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

}  // namespace
}  // namespace spanvault::buffer
