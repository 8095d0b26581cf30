// Helpers shared by the tests: temp dirs that clean up after themselves.
#pragma once

#include <filesystem>
#include <string>

namespace spanvault::testing {

// A fresh directory under /tmp with a short path (Unix socket paths must stay
// under 108 bytes); removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace spanvault::testing
