// The built-in detectors (process/detectors.h), table-driven: what each one
// finds, exactly, and the look-alikes it must leave alone.
#include "process/detectors.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spanvault::process {
namespace {

struct Case {
  std::string text;
  // Each found value and its detector, in order.
  std::vector<std::pair<std::string, Detector>> found;
};

std::vector<std::pair<std::string, Detector>> Found(const std::string& text) {
  std::vector<Match> m;
  Detect(text, kAllBuiltIn, m);
  std::vector<std::pair<std::string, Detector>> out;
  for (const Match& x : m) out.emplace_back(text.substr(x.begin, x.end - x.begin), x.kind);
  return out;
}

using D = Detector;

TEST(DetectorsTest, FindsWhatTheyShould) {
  const Case cases[] = {
      {"mail jane.doe+tag@example.co.uk now", {{"jane.doe+tag@example.co.uk", D::kEmail}}},
      {"<john@corp.com>, mailto:ann_b@x-y.org.", {{"john@corp.com", D::kEmail}, {"ann_b@x-y.org", D::kEmail}}},
      {"call +1 415-555-2671 or (415) 555-2671", {{"+1 415-555-2671", D::kPhone}, {"(415) 555-2671", D::kPhone}}},
      {"tel 415.555.2671, 1-800-555-0199", {{"415.555.2671", D::kPhone}, {"1-800-555-0199", D::kPhone}}},
      {"uk +44 20 7946 0958 and 020 7946 0958", {{"+44 20 7946 0958", D::kPhone}, {"020 7946 0958", D::kPhone}}},
      {"intl +14155552671.", {{"+14155552671", D::kPhone}}},
      {"card 4111 1111 1111 1111 exp", {{"4111 1111 1111 1111", D::kCreditCard}}},
      {"card 4111-1111-1111-1111", {{"4111-1111-1111-1111", D::kCreditCard}}},
      {"card 5555555555554444", {{"5555555555554444", D::kCreditCard}}},
      {"amex 3782 822463 10005", {{"3782 822463 10005", D::kCreditCard}}},
      {"key sk-proj-Abc123def456GHI789jkl012MNO345", {{"sk-proj-Abc123def456GHI789jkl012MNO345", D::kApiKey}}},
      {"OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL",
       {{"sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL", D::kApiKey}}},
      {"x-api-key: sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345-_aa",
       {{"sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz012345-_aa", D::kApiKey}}},
      {"aws AKIAIOSFODNN7EXAMPLE and ASIAY34FZKBOKMUTVV7A",
       {{"AKIAIOSFODNN7EXAMPLE", D::kApiKey}, {"ASIAY34FZKBOKMUTVV7A", D::kApiKey}}},
      {"token ghp_16C7e42F292c6912E7710c838347Ae178B4a", {{"ghp_16C7e42F292c6912E7710c838347Ae178B4a", D::kApiKey}}},
      {"pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
       {{"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", D::kApiKey}}},
      {"slack xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
       {{"xoxb-123456789012-1234567890123-AbCdEfGhIjKl", D::kApiKey}}},
      {"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U ok",
       {{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", D::kApiKey}}},
      {"Authorization: Bearer abcDEF123456ghiJKL789.x-y", {{"abcDEF123456ghiJKL789.x-y", D::kApiKey}}},
      {"from 192.168.1.20 to 10.0.0.1:8080", {{"192.168.1.20", D::kIpAddress}, {"10.0.0.1", D::kIpAddress}}},
      {"v6 2001:db8:85a3::8a2e:370:7334 and fe80::1",
       {{"2001:db8:85a3::8a2e:370:7334", D::kIpAddress}, {"fe80::1", D::kIpAddress}}},
      {"full 2001:0db8:0000:0000:0000:ff00:0042:8329.", {{"2001:0db8:0000:0000:0000:ff00:0042:8329", D::kIpAddress}}},
      {"loopback ::1 here", {{"::1", D::kIpAddress}}},
      {"\"jane@example.com\"\n(415) 555-2671\t", {{"jane@example.com", D::kEmail}, {"(415) 555-2671", D::kPhone}}},
  };
  for (const auto& c : cases) EXPECT_EQ(Found(c.text), c.found) << c.text;
}

TEST(DetectorsTest, LeavesLookAlikesAlone) {
  const std::string texts[] = {
      "version 1.2.3.4 released",                                      // a version, not an IP
      "Version: 10.0.19041.1",                                         // five-part / out-of-range versions
      "v1.2.3.4 and release-1.2.3.4",                                  // v-prefixed, dash-prefixed
      "python 3.11.4, node 20.11.1",                                   // semver
      "1.2.3.4.5",                                                     // longer dotted numbers
      "at 2024-05-01T12:00:00Z and 2024-05-01 12:00:00",               // timestamps
      "at 2024-05-01T12:00:00.123456+02:00",                           // offsets
      "epoch 1717000000 or 1717000000123 ms",                          // unix times
      "id 550e8400-e29b-41d4-a716-446655440000",                       // UUID
      "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",  // hex ids
      "order 1234567890123456",                                        // 16 digits failing Luhn
      "costs 1,234,567.89 USD",                                        // amounts
      "12:30:45 and 9:05",                                             // times (not IPv6)
      "std::vector<int> and a::b",                                     // C++ names
      "sha 3f2a9c1b4e5d6f708192a3b4c5d6e7f8091a2b3c",                  // hashes
      "task-sk-short and ask-me and sk-tooshort",                      // not keys
      "AKIA-not-a-key and AKIAshort",                                  // not AWS ids
      "user@localhost and @mention and a@b",                           // no TLD
      "room 101, floor 3, 2 x 4 = 8",                                  // small numbers
      "(555) 01",                                                      // short
      "phone-ish 100 200 3000",                                        // 3-3-4 without a valid area code
      "ISBN 978-3-16-148410-0",                                        // ISBN
      "bearer of bad news",                                            // the word
      "eyJ not a jwt",
  };
  for (const auto& t : texts) EXPECT_EQ(Found(t), (std::vector<std::pair<std::string, Detector>>{})) << t;
}

TEST(DetectorsTest, OnlyEnabledDetectorsRun) {
  std::vector<Match> m;
  Detect("jane@example.com 415-555-2671 10.0.0.1", Bit(Detector::kPhone), m);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].kind, Detector::kPhone);
}

TEST(DetectorsTest, Luhn) {
  EXPECT_TRUE(LuhnValid("4111111111111111"));
  EXPECT_TRUE(LuhnValid("4111 1111 1111 1111"));
  EXPECT_FALSE(LuhnValid("4111111111111112"));
  EXPECT_TRUE(LuhnValid("378282246310005"));
}

TEST(DetectorsTest, ArbitraryBytesNeverCrash) {
  std::string t;
  for (int i = 0; i < 4096; ++i) t.push_back(static_cast<char>((i * 7919) % 256));
  for (const char* s : {"@", "+(", "::", "sk-", "eyJ", "Bearer ", "1.", "(1", "+"}) t += s;
  for (size_t n = 0; n < t.size(); n += 97) {
    std::vector<Match> m;
    Detect(std::string_view(t).substr(n), kAllBuiltIn, m);
    for (size_t k = 1; k < m.size(); ++k) EXPECT_LE(m[k - 1].end, m[k].begin);
  }
}

}  // namespace
}  // namespace spanvault::process
