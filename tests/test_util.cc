#include "tests/test_util.h"

#include <stdlib.h>

#include <stdexcept>
#include <system_error>

namespace spanvault::testing {

TempDir::TempDir() {
  char tmpl[] = "/tmp/svt.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace spanvault::testing
