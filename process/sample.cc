// The sample processor: keeps a fraction of whole traces. The decision is a
// function of the trace id and the seed alone, so every span of a trace gets
// the same one, on every host and after every restart:
//
//   h = SplitMix64(FNV-1a-64(seed as 4 little-endian bytes ++ trace_id))
//   keep when (h >> 11) / 2^53 < rate
//
// trace_id is the stored one (hex ids lowercased by the decoder).
//
// keep: a trace one of whose spans matched a keep condition is kept whatever
// the rate. Matches are marked in the KeepSet when a span is observed (at
// ingest, and when the forwarder reads a batch); the forwarder holds spans
// back until they are decision_wait old, so that the mark of a trace is there
// before any of its spans is decided. A span that matches is kept itself
// even when the mark is not (yet) there.
#include "process/condition.h"
#include "process/processor.h"

namespace spanvault::process {
namespace {

uint64_t TraceHash(std::string_view trace_id, uint32_t seed) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](unsigned char b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  for (int k = 0; k < 4; ++k) mix(static_cast<unsigned char>(seed >> (8 * k)));
  for (char c : trace_id) mix(static_cast<unsigned char>(c));
  // SplitMix64's finaliser: FNV's high bits alone are poorly mixed.
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

bool IsRoot(const SpanView& span) {
  std::string_view p = span.Top("parent_span_id");
  return p.empty() || p == "null" || p == "\"\"";
}

class Sample final : public Processor {
 public:
  Sample(std::string name, double rate, uint32_t seed, std::vector<Condition> keep, std::chrono::milliseconds wait,
         std::shared_ptr<KeepSet> marks)
      : name_(std::move(name)),
        rate_(rate),
        seed_(seed),
        keep_(std::move(keep)),
        wait_(wait),
        marks_(std::move(marks)) {}

  Verdict Apply(const SpanView& span, std::string&, Counters& c) const override {
    std::string scratch;
    std::string_view trace = TraceId(span, scratch);
    bool keep = static_cast<double>(TraceHash(trace, seed_) >> 11) * 0x1.0p-53 < rate_;
    if (!keep && !keep_.empty()) keep = marks_->Contains(name_, trace, NowNs()) || Matches(span);
    if (IsRoot(span)) (keep ? c.traces_kept : c.traces_dropped).Add();
    if (keep) return Verdict::kUnchanged;
    c.dropped_sample.Add();
    return Verdict::kDrop;
  }

  void Observe(const SpanView& span) const override {
    if (keep_.empty() || !Matches(span)) return;
    std::string scratch;
    std::string_view trace = TraceId(span, scratch);
    const int64_t ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(wait_ + kKeepRetention).count();
    marks_->Add(name_, trace, NowNs() + ttl);
  }

  std::chrono::milliseconds DecisionWait() const override {
    return keep_.empty() ? std::chrono::milliseconds(0) : wait_;
  }

 private:
  static int64_t NowNs() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static std::string_view TraceId(const SpanView& span, std::string& scratch) {
    json::Scalar id = json::ReadScalar(span.Top("trace_id"), scratch);
    return id.kind == json::Kind::kString ? id.text : std::string_view();
  }
  bool Matches(const SpanView& span) const {
    for (const Condition& k : keep_) {
      if (k.Eval(span)) return true;
    }
    return false;
  }

  std::string name_;
  double rate_;
  uint32_t seed_;
  std::vector<Condition> keep_;
  std::chrono::milliseconds wait_;
  std::shared_ptr<KeepSet> marks_;
};

}  // namespace

std::unique_ptr<Processor> MakeSample(const ProcessorConfig& config, std::vector<std::string>* problems,
                                      std::shared_ptr<KeepSet> keep) {
  const size_t before = problems->size();
  if (!(config.rate >= 0.0 && config.rate <= 1.0)) problems->push_back("rate must be between 0 and 1");
  std::vector<Condition> conditions;
  for (const std::string& k : config.keep) {
    auto c = Condition::Parse(k);
    if (!c) {
      problems->push_back("keep: " + c.error().message);
    } else {
      conditions.push_back(std::move(*c));
    }
  }
  if (config.decision_wait.count() < 0 || config.decision_wait > std::chrono::hours(1)) {
    problems->push_back("decision_wait must be between 0s and 1h");
  }
  if (problems->size() != before) return nullptr;
  if (!keep) keep = std::make_shared<KeepSet>();
  return std::make_unique<Sample>(config.name, config.rate, config.hash_seed, std::move(conditions),
                                  config.decision_wait, std::move(keep));
}

}  // namespace spanvault::process
