#include "common/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace spanvault::log {
namespace {

// Captures what Write() puts on fd 2 while `f` runs.
template <typename F>
std::string CaptureStderr(F&& f) {
  int p[2];
  EXPECT_EQ(pipe(p), 0);
  int saved = dup(STDERR_FILENO);
  dup2(p[1], STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  return out;
}

TEST(LogTest, JsonLinesWithTimestampByDefault) {
  SetJournalMode(false);
  std::string out = CaptureStderr([] { Write(Level::kWarn, "disk slow", {{"ms", 12}}); });
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["msg"], "disk slow");
  EXPECT_EQ(j["ms"], 12);
  EXPECT_TRUE(j.contains("ts"));
}

TEST(LogTest, JournalStreamGetsPriorityPrefixAndNoTimestamp) {
  std::string out = CaptureStderr([] {
    struct stat st;
    ASSERT_EQ(fstat(STDERR_FILENO, &st), 0);
    std::string js = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    setenv("JOURNAL_STREAM", js.c_str(), 1);
    EXPECT_TRUE(DetectJournal());
    Write(Level::kError, "upstream down", {{"upstream", "x"}});
    Write(Level::kInfo, "started");
  });
  unsetenv("JOURNAL_STREAM");
  SetJournalMode(false);
  size_t nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  std::string first = out.substr(0, nl), second = out.substr(nl + 1);
  ASSERT_EQ(first.rfind("<3>", 0), 0u) << first;
  auto j = nlohmann::json::parse(first.substr(3));
  EXPECT_FALSE(j.contains("ts")) << "journald stamps lines itself";
  EXPECT_EQ(j["msg"], "upstream down");
  EXPECT_EQ(second.rfind("<6>", 0), 0u) << second;
}

TEST(LogTest, JournalStreamOfAnotherFileIsIgnored) {
  setenv("JOURNAL_STREAM", "1:2", 1);
  EXPECT_FALSE(DetectJournal());
  unsetenv("JOURNAL_STREAM");
  EXPECT_FALSE(DetectJournal());
}

}  // namespace
}  // namespace spanvault::log
