// Test certificates made on the fly with OpenSSL (no files in the repo, no
// expiry surprises).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace spanvault::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed EC P-256 certificate valid for one day, with the given names
// in its subjectAltName. It is a CA (basicConstraints CA:TRUE), so the
// certificate itself can be given to a client as its trust anchor
// (tls_ca_file). Aborts the test binary on an OpenSSL failure.
TestCert MakeSelfSignedCert(std::vector<std::string> dns_names = {"localhost"},
                            std::vector<std::string> ips = {"127.0.0.1"}, std::string common_name = "localhost");

// Writes `contents` to dir/name and returns the path as a string.
std::string WriteFile(const std::filesystem::path& dir, std::string_view name, std::string_view contents);

}  // namespace spanvault::testing
