// TEMPORARY STUB (issue 18 wiring, branch h-b2) — DROP AT MERGE.
//
// query::Service as an engine that is not there yet: every path answers 501
// {"error": "query engine not built"}, export streams no row, replay finds no
// span, the tail never fires. It lets the wiring (HTTP /api/..., the stream
// socket's $query/$export/$tail/$replay, daemon/query.cc) build and be tested
// before the real engine (query/*.cc, helper B1) lands; the real sv_query
// replaces this file and its CMake line.
#include "query/service.h"

namespace spanvault::query {

struct Service::Impl {
  buffer::SpanQueue& queue;
};

namespace {
Response NotBuilt() {
  Response r;
  r.status = 501;
  r.body = "{\"error\": \"query engine not built (temporary stub, query/service_stub.cc)\"}";
  return r;
}
}  // namespace

Service::Service(buffer::SpanQueue& queue) : impl_(std::make_unique<Impl>(Impl{queue})) {}
Service::~Service() = default;

Response Service::Handle(const Request&) const { return NotBuilt(); }

Response Service::Export(const Request&, const std::function<bool(std::string_view)>&) const { return NotBuilt(); }

Status Service::ForEachSpan(const Request&, const std::function<bool(const buffer::RecordBatch&)>&) const {
  return Fail(Error::Invalid("query engine not built (temporary stub, query/service_stub.cc)"));
}

uint64_t Service::Subscribe(TailFn) { return 0; }
void Service::Unsubscribe(uint64_t) {}

}  // namespace spanvault::query
