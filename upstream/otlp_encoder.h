// upstream/ — OTLP/HTTP trace export as an upstream format (docs/forwarding.md):
// `format = "otlp-proto"` (application/x-protobuf) or `"otlp-json"`
// (application/json, the OTLP JSON encoding), with a `dialect` that decides
// which attributes the backend reads (upstream/format/otlp_export.h has the mapping).
// The credential options of every format that has them, and the headers
// they make, are config/upstream_options.h's.
//
// Answers: a 2xx answer's ExportTraceServiceResponse.partial_success is
// reported by InspectSuccess (the batch still counts as delivered: the
// backend refused those spans for good and does not say which).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "config/upstream_options.h"
#include "upstream/encoder.h"

namespace spanvault::upstream {

struct UpstreamConfig;

// The encoder for an OTLP format. Resolves the credentials now (errors as in
// OtlpOptionProblems).
Result<std::unique_ptr<Encoder>> MakeOtlpEncoder(const UpstreamConfig& config);

}  // namespace spanvault::upstream
