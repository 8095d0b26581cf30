// fuzz-flags: -max_len=16384
// libFuzzer target for the TOML config file (config/config.h, LoadConfig):
// toml++ parsing, every key's parser, the [[upstream]] tables and Validate().
// The input is the file's content (handed over as /proc/self/fd/N of a
// memfd: no disk I/O). Properties checked on every input:
//   - LoadConfig never throws; every problem is a non-empty message;
//   - a config that loads without problems validates (Validate() is empty),
//     so does each of its upstreams, and upstream names are unique;
//   - ChangedKeys against the defaults names known keys only, and
//     DescribeKeys() works.
#include <sys/mman.h>
#include <unistd.h>

#include <set>
#include <string>

#include "config/config.h"
#include "fuzz_util.h"

using namespace spanvault;

namespace {

// The file LoadConfig reads: one memfd, rewritten for every input.
const std::string& ConfigPath(std::string_view content) {
  static const int fd = memfd_create("spanvault-fuzz.toml", 0);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, content.data(), content.size(), 0) == static_cast<ssize_t>(content.size()));
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string described = daemon::DescribeKeys();
  FUZZ_CHECK(!described.empty());

  daemon::LoadOptions options;
  options.config_file = ConfigPath(fuzz::AsText(data, size));
  options.use_environment = false;
  std::vector<std::string> problems;
  daemon::Config c;
  try {
    c = daemon::LoadConfig(options, &problems);
  } catch (...) {
    FUZZ_CHECK(!"LoadConfig threw");
  }
  for (const std::string& p : problems) FUZZ_CHECK(!p.empty());
  if (!problems.empty()) return 0;

  FUZZ_CHECK(c.Validate().empty());
  std::set<std::string> names;
  for (const auto& u : c.upstreams) {
    FUZZ_CHECK(u.Validate().empty());
    FUZZ_CHECK(names.insert(u.name).second);
  }
  daemon::LoadOptions none;
  none.use_environment = false;
  daemon::Config defaults = daemon::LoadConfig(none, &problems);
  FUZZ_CHECK(problems.empty());
  for (const std::string& key : daemon::ChangedKeys(defaults, c)) {
    FUZZ_CHECK(described.find("  " + key + " = ") != std::string::npos);
  }
  return 0;
}
