// fuzz-flags: -max_len=65536
// libFuzzer target for what the stream socket reads: the bytes are cut into
// lines as ipc/stream_listener.cc does ('\n', an optional '\r', blank lines
// skipped, lines over the limit refused); control lines go to
// ipc::ParseControlLine, the rest to span::Decoder. Properties: no crash or
// sanitizer report; a control line that parses has a "$" key, nests at most
// kMaxControlDepth deep, and a $sync id of an allowed shape; a refused one has
// a reason; the decoder accounts for every span it reports.
#include <cstdlib>
#include <string>

#include "ipc/control_line.h"
#include "span/decoder.h"

using namespace spanvault;

namespace {

constexpr size_t kMaxLine = 16384;

size_t Depth(const nlohmann::json& j) {
  if (!j.is_structured()) return 0;
  size_t d = 0;
  for (const auto& v : j) d = std::max(d, Depth(v));
  return d + 1;
}

void Line(std::string_view line) {
  static span::Decoder decoder;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  if (line.size() > kMaxLine) return;  // refused as too_large, never parsed
  std::string_view t = line.substr(line.find_first_not_of(" \t"));
  if (t.size() > 3 && t[0] == '{' && t[1] == '"' && t[2] == '$') {
    ipc::ControlLine c;
    std::string why = ipc::ParseControlLine(line, &c);
    if (!why.empty()) return;
    if (c.key.empty() || c.key.front() != '$' || !c.obj.is_object()) abort();
    if (Depth(c.obj) > ipc::kMaxControlDepth) abort();
    if (c.key == "$sync" && !ipc::CheckSyncId(c.obj["$sync"]).empty()) abort();
    (void)ipc::NeedsAdmin(c);
    return;
  }
  span::Batch batch;
  span::DecodeResult r = decoder.Decode(line, span::Source{}, 1'700'000'000'000'000'000, batch);
  if (r.accepted != batch.spans.size() || r.rejected != batch.quarantine.size()) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t nl = in.find('\n', pos);
    if (nl == std::string_view::npos) nl = in.size();
    Line(in.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return 0;
}
