#include "observe/prometheus.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

namespace spanvault::observe {
namespace {

nlohmann::json SampleStatus() {
  return nlohmann::json::parse(R"({
    "version": "0.1.0", "pid": 42, "uptime_seconds": 12,
    "transports": {
      "unix_stream": {"received": 10, "received_bytes": 1000, "accepted_spans": 9, "rejected": 1,
                      "rejected_by_reason": {"schema": 1}, "connections": 2, "connections_total": 5},
      "udp": {"received": 3, "received_bytes": 300, "accepted_spans": 3, "rejected": 0,
              "rejected_by_reason": {}, "kernel_drops": 7},
      "http": {"received": 0, "received_bytes": 0, "accepted_spans": 0, "rejected": 0, "rejected_by_reason": {},
               "connections": 0, "connections_total": 4,
               "refused_by_policy": {"host": 2, "origin": 1, "cross_site": 0, "preflight": 0}}
    },
    "buffer": {"spans": 5, "bytes": 5000, "oldest_age_seconds": 1.5, "dropped_spans": 0, "refused_full": 0,
               "write_batches": 4, "fsyncs": 1, "write_errors": 0, "quarantined": 1, "quarantined_total": 1,
               "dead_letters": 2, "dead_letters_dropped": 0, "max_disk_bytes": 1073741824},
    "upstreams": [
      {"name": "lang\"fuse", "healthy": false, "paused": true, "pending_spans": 5, "oldest_pending_age_seconds": 1.5,
       "in_flight_batches": 1, "delivered_spans": 100, "delivered_batches": 2, "sent_bytes": 2048,
       "failed_attempts": 3, "retries": 3, "splits": 0, "dead_lettered": 2, "expired_spans": 0,
       "last_success_age_seconds": null}
    ],
    "prices": {"models": 900, "priced_spans": 8, "unpriced_spans": 1, "reloads": 0}
  })");
}

TEST(PrometheusTest, RendersEveryFamilyOnceWithHelpTypeAndSamples) {
  std::string text = RenderPrometheus(SampleStatus());
  std::istringstream in(text);
  std::string line;
  std::map<std::string, std::string> types;
  std::set<std::string> helped;
  std::map<std::string, std::string> samples;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(helped.insert(name).second) << "HELP twice for " << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      std::string name = rest.substr(0, rest.find(' '));
      types[name] = rest.substr(rest.find(' ') + 1);
      EXPECT_TRUE(helped.count(name)) << "TYPE before HELP for " << name;
      continue;
    }
    size_t space = line.rfind(' ');
    samples[line.substr(0, space)] = line.substr(space + 1);
    std::string family = line.substr(0, line.find_first_of("{ "));
    EXPECT_TRUE(types.count(family)) << "sample without TYPE: " << line;
    EXPECT_EQ(family.rfind("spanvault_", 0), 0u) << family;
    if (types[family] == "counter") {
      EXPECT_TRUE(family.ends_with("_total")) << family;
    }
  }
  EXPECT_EQ(samples["spanvault_accepted_spans_total{transport=\"unix_stream\"}"], "9");
  EXPECT_EQ(samples["spanvault_rejected_payloads_total{transport=\"unix_stream\",reason=\"schema\"}"], "1");
  EXPECT_EQ(samples["spanvault_udp_kernel_drops_total{transport=\"udp\"}"], "7");
  EXPECT_EQ(samples["spanvault_http_refused_requests_total{reason=\"host\"}"], "2");
  EXPECT_EQ(samples["spanvault_http_refused_requests_total{reason=\"origin\"}"], "1");
  EXPECT_EQ(samples["spanvault_http_refused_requests_total{reason=\"preflight\"}"], "0");
  EXPECT_EQ(types["spanvault_http_refused_requests_total"], "counter");
  EXPECT_EQ(samples["spanvault_buffer_spans"], "5");
  EXPECT_EQ(samples["spanvault_buffer_oldest_span_age_seconds"], "1.5");
  EXPECT_EQ(samples["spanvault_upstream_up{upstream=\"lang\\\"fuse\"}"], "0") << "label values are escaped";
  EXPECT_EQ(samples["spanvault_upstream_paused{upstream=\"lang\\\"fuse\"}"], "1");
  EXPECT_EQ(samples["spanvault_upstream_delivered_spans_total{upstream=\"lang\\\"fuse\"}"], "100");
  EXPECT_EQ(samples.count("spanvault_upstream_last_success_age_seconds{upstream=\"lang\\\"fuse\"}"), 0u)
      << "null means no sample";
  EXPECT_EQ(samples["spanvault_unpriced_spans_total"], "1");
  EXPECT_EQ(samples["spanvault_build_info{version=\"0.1.0\"}"], "1");
  EXPECT_EQ(types["spanvault_buffer_spans"], "gauge");
  EXPECT_EQ(types["spanvault_upstream_retries_total"], "counter");
}

TEST(PrometheusTest, ProcessorCountersPerUpstreamAndAtIngest) {
  nlohmann::json status = SampleStatus();
  const nlohmann::json processing = nlohmann::json::parse(R"({
    "processors": ["pii"], "spans_in": 10, "spans_kept": 7, "spans_dropped_by_filter": 2,
    "spans_dropped_by_sample": 1, "traces_kept": 3, "traces_dropped": 1,
    "redactions": {"email": 4, "api_key": 1}, "redact_gave_up": 1, "fields_dropped": 0,
    "fields_truncated": 2, "unreadable_spans": 0})");
  status["upstreams"][0]["processing"] = processing;
  status["ingest_processing"] = processing;
  std::string text = RenderPrometheus(status);
  for (const char* line : {"spanvault_upstream_processed_spans_total{upstream=\"lang\\\"fuse\",result=\"filtered\"} 2",
                           "spanvault_upstream_redactions_total{upstream=\"lang\\\"fuse\",detector=\"email\"} 4",
                           "spanvault_upstream_sampled_traces_total{upstream=\"lang\\\"fuse\",decision=\"dropped\"} 1",
                           "spanvault_upstream_redact_gave_up_total{upstream=\"lang\\\"fuse\"} 1",
                           "spanvault_ingest_processed_spans_total{result=\"kept\"} 7",
                           "spanvault_ingest_redactions_total{detector=\"api_key\"} 1",
                           "spanvault_ingest_processed_fields_total{action=\"truncated\"} 2",
                           "# TYPE spanvault_ingest_redactions_total counter"}) {
    EXPECT_NE(text.find(std::string(line) + "\n"), std::string::npos) << line << "\n" << text;
  }
  // Without processors, no such family at all.
  EXPECT_EQ(RenderPrometheus(SampleStatus()).find("processed_spans"), std::string::npos);
}

TEST(PrometheusTest, EmptyStatusRendersWithoutCrashing) {
  std::string text = RenderPrometheus(nlohmann::json::object());
  EXPECT_NE(text.find("spanvault_build_info"), std::string::npos);
  EXPECT_EQ(RenderPrometheus(nlohmann::json()).find("nan"), std::string::npos);
}

}  // namespace
}  // namespace spanvault::observe
