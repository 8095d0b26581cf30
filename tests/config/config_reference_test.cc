// docs/configuration.md and etc/spanvault.toml are generated from the key
// tables (`spanvaultd --print-config-reference=md|toml`): the committed files
// must be what the generator prints, show every key, and be valid config.
#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "config/upstream_config.h"
#include "tests/test_util.h"

namespace spanvault::daemon {
namespace {

using spanvault::testing::TempDir;

const std::string kRegenerate =
    "regenerate both files from the key tables (config/config.cc, config/upstream_config.cc) and commit them:\n"
    "  cmake --build build --target spanvaultd &&\n"
    "  build/spanvaultd --print-config-reference=md > docs/configuration.md &&\n"
    "  build/spanvaultd --print-config-reference=toml > etc/spanvault.toml";

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The first line where `got` differs from `want`, for the failure message.
std::string FirstDifference(const std::string& want, const std::string& got) {
  std::vector<std::string> w = Lines(want), g = Lines(got);
  for (size_t i = 0; i < std::max(w.size(), g.size()); ++i) {
    std::string a = i < w.size() ? w[i] : "<end of file>";
    std::string b = i < g.size() ? g[i] : "<end of file>";
    if (a != b) return "line " + std::to_string(i + 1) + ":\n  generated: " + a + "\n  committed: " + b;
  }
  return "(a difference in line endings or the final newline)";
}

struct Output {
  std::string file;  // relative to the source tree
  ReferenceFormat format;
  std::string flag;
};
const Output kOutputs[] = {{"docs/configuration.md", ReferenceFormat::kMarkdown, "md"},
                           {"etc/spanvault.toml", ReferenceFormat::kToml, "toml"}};

TEST(ConfigReferenceTest, CommittedFilesAreWhatTheGeneratorPrints) {
  for (const Output& o : kOutputs) {
    std::string committed = ReadFile(std::string(SPANVAULT_SOURCE_DIR) + "/" + o.file);
    std::string generated = ConfigReference(o.format);
    EXPECT_TRUE(committed == generated) << o.file
                                        << " is stale (it differs from `spanvaultd --print-config-reference=" << o.flag
                                        << "` at " << FirstDifference(generated, committed) << ")\n"
                                        << kRegenerate;
  }
}

TEST(ConfigReferenceTest, SpanvaultdFlagPrintsTheReference) {
  for (const Output& o : kOutputs) {
    std::string command = std::string(SPANVAULTD_PATH) + " --print-config-reference=" + o.flag;
    FILE* p = popen(command.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << command;
    EXPECT_TRUE(out == ConfigReference(o.format)) << command << ": " << FirstDifference(ConfigReference(o.format), out);
  }
  std::string bad = std::string(SPANVAULTD_PATH) + " --print-config-reference=html >/dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
}

// Every key of both tables is shown, with its default, in both outputs.
TEST(ConfigReferenceTest, EveryKeyIsShownInBothOutputs) {
  std::vector<std::string> md = Lines(ConfigReference(ReferenceFormat::kMarkdown));
  std::vector<std::string> toml = Lines(ConfigReference(ReferenceFormat::kToml));
  auto shown = [](const std::vector<std::string>& lines, const std::string& section, const std::string& line) {
    std::string current;
    for (const std::string& l : lines) {
      std::string t = l.starts_with("# [") ? l.substr(2) : l;
      if (t.starts_with("[")) {
        size_t close = t.find(']');
        while (close + 1 < t.size() && t[close + 1] == ']') ++close;
        current = t.substr(0, close + 1);
      }
      if (current == section && (l.starts_with(line) || l.starts_with("# " + line))) return true;
    }
    return false;
  };
  std::vector<KeyDoc> keys = KeyDocs();
  ASSERT_GT(keys.size(), 40u);
  for (const KeyDoc& k : keys) {
    EXPECT_FALSE(k.comment.empty()) << k.name << " has no comment for the reference";
    size_t dot = k.name.find('.');
    std::string section = dot == std::string::npos ? "" : "[" + k.name.substr(0, dot) + "]";
    std::string line = (dot == std::string::npos ? k.name : k.name.substr(dot + 1)) + " = " + k.toml_default;
    EXPECT_TRUE(shown(md, section, line)) << k.name << " (" << line << ") missing from docs/configuration.md";
    EXPECT_TRUE(shown(toml, section, line)) << k.name << " (" << line << ") missing from etc/spanvault.toml";
  }
  std::vector<upstream::UpstreamKeyDoc> ukeys = upstream::UpstreamKeyDocs();
  ASSERT_GT(ukeys.size(), 20u);
  for (const auto& k : ukeys) {
    size_t dot = k.name.find('.');
    std::string section = dot == std::string::npos ? "[[upstream]]" : "[upstream." + k.name.substr(0, dot) + "]";
    std::string line = (dot == std::string::npos ? k.name : k.name.substr(dot + 1)) + " = " + k.value;
    EXPECT_TRUE(shown(md, section, line)) << "upstream " << k.name << " missing from docs/configuration.md";
    EXPECT_TRUE(shown(toml, section, line)) << "upstream " << k.name << " missing from etc/spanvault.toml";
  }
}

Config LoadFile(const std::string& path, std::vector<std::string>* problems) {
  LoadOptions lo;
  lo.config_file = path;
  lo.use_environment = false;
  return LoadConfig(lo, problems);
}

// The defaults the reference shows: the ones of a daemon run as root.
Config RootDefaults() {
  Config c;
  c.state_dir = "/var/lib/spanvault";
  c.runtime_dir = "/run/spanvault";
  return c;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

// etc/spanvault.toml is a valid config as shipped, and with every key line
// uncommented (up to the [[upstream]] examples) it is still valid and holds
// exactly the defaults.
TEST(ConfigReferenceTest, ExampleConfigIsValidAndShowsTheDefaults) {
  const std::string path = std::string(SPANVAULT_SOURCE_DIR) + "/etc/spanvault.toml";
  std::vector<std::string> problems;
  LoadFile(path, &problems);
  EXPECT_TRUE(problems.empty()) << Join(problems);

  std::string uncommented;
  bool upstreams = false;
  size_t keys = 0;
  for (const std::string& line : Lines(ReadFile(path))) {
    if (line.starts_with("# [[upstream]]")) upstreams = true;
    size_t eq = line.find(" = ");
    bool key = !upstreams && line.starts_with("# ") && eq != std::string::npos &&
               line.find_first_not_of("abcdefghijklmnopqrstuvwxyz_", 2) == eq;
    uncommented += (key ? line.substr(2) : line) + "\n";
    keys += key ? 1 : 0;
  }
  EXPECT_EQ(keys, KeyDocs().size());
  TempDir dir;
  std::ofstream(dir.str() + "/all.toml") << uncommented;
  problems.clear();
  Config c = LoadFile(dir.str() + "/all.toml", &problems);
  EXPECT_TRUE(problems.empty()) << Join(problems) << uncommented;
  EXPECT_EQ(ChangedKeys(c, RootDefaults()), std::vector<std::string>{});
  EXPECT_TRUE(c.upstreams.empty());
}

// The TOML block of docs/configuration.md loads (its headers aside: they name
// a variable and a file that are not there), holds the defaults and one
// [[upstream]] with every default but the required name and endpoint.
TEST(ConfigReferenceTest, MarkdownBlockIsValidAndShowsTheDefaults) {
  std::string md = ConfigReference(ReferenceFormat::kMarkdown);
  size_t begin = md.find("```toml\n");
  ASSERT_NE(begin, std::string::npos);
  begin += 8;
  size_t end = md.find("```", begin);
  ASSERT_NE(end, std::string::npos);
  std::string block;
  bool headers = false;
  for (const std::string& line : Lines(md.substr(begin, end - begin))) {
    if (line.starts_with("headers = ")) {
      headers = true;
      continue;
    }
    block += line + "\n";
  }
  EXPECT_TRUE(headers);
  TempDir dir;
  std::ofstream(dir.str() + "/md.toml") << block;
  std::vector<std::string> problems;
  Config c = LoadFile(dir.str() + "/md.toml", &problems);
  ASSERT_TRUE(problems.empty()) << Join(problems) << block;
  EXPECT_EQ(ChangedKeys(c, RootDefaults()), std::vector<std::string>{});
  ASSERT_EQ(c.upstreams.size(), 1u);
  upstream::UpstreamConfig want;
  want.name = "collector";
  want.endpoint = "https://otel.example.com/v1/spans";
  EXPECT_TRUE(c.upstreams[0] == want) << "an [[upstream]] key in the reference does not show its default";
}

}  // namespace
}  // namespace spanvault::daemon
