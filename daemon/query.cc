// The local query API in the daemon (contract: daemon/query.h): the builder,
// the HTTP listener's hooks and the stream socket's $query, $export and $tail
// lines; $replay is daemon/query_replay.cc.
#include "daemon/query.h"

#include "common/log.h"
#include "common/util.h"

namespace spanvault::daemon {
namespace {

constexpr char kRetentionOff[] = "local retention is off (local.retention = 0)";
constexpr char kBusy[] = "too many queries at once; retry shortly";
constexpr char kStopping[] = "spanvaultd is stopping";
// Query tasks waiting for a query thread, at most.
constexpr size_t kMaxQueuedQueries = 64;

std::string Dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// line[key] of a const line (null when absent).
const nlohmann::json& Field(const nlohmann::json& line, const char* key) {
  static const nlohmann::json kNull;
  if (!line.is_object()) return kNull;
  auto it = line.find(key);
  return it == line.end() ? kNull : *it;
}

// The reason in an engine's {"error": "..."} answer (else its body).
std::string ErrorOf(const query::Response& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return r.body;
}

ipc::ApiAnswer ToApi(query::Response r) {
  return ipc::ApiAnswer{static_cast<unsigned>(r.status), std::move(r.content_type), std::move(r.body)};
}

// The answer line of a socket query line that failed before the engine ran.
std::string ErrorLine(const std::string& key, const nlohmann::json& line, int status, const std::string& error) {
  nlohmann::json a;
  if (key == "$query") {
    a = {{"$query", Field(line, "$query")}, {"status", status}, {"body", {{"error", error}}}};
  } else if (key == "$replay") {
    a = {{"$replay", Field(line, "$replay")}, {"ok", false}, {"error", error}};
  } else {
    a = {{"$end", key.substr(1)}, {"status", status}, {"error", error}};
  }
  return Dump(a);
}

// Rows of an export into `out` (on a query thread): HTTP ends with Finish
// (a refusal as its status), the socket with a {"$end": "export"} line.
void RunExport(const query::Service& svc, const query::Request& req, ipc::LineChannel& out, bool socket) {
  uint64_t rows = 0;
  query::Response r = svc.Export(req, [&](std::string_view row) {
    std::string l(row);
    if (l.empty() || l.back() != '\n') l.push_back('\n');
    if (!out.Push(std::move(l))) return false;  // the client is gone
    ++rows;
    return true;
  });
  if (!socket) {
    if (r.status != 200) return out.Finish(r.status, ErrorOf(r));
    return out.Finish();
  }
  nlohmann::json end = {{"$end", "export"}};
  if (r.status != 200) {
    end["status"] = r.status;
    end["error"] = ErrorOf(r);
  } else {
    end["rows"] = rows;
  }
  out.Push(Dump(end) + "\n");
  out.Finish();
}

// Which tail events a client wants: "spans", "traces", or both ("").
Result<std::string> TailKind(std::string_view wanted) {
  if (wanted.empty()) return std::string();
  if (wanted == "spans") return std::string("span");
  if (wanted == "traces") return std::string("trace");
  return Fail(Error::Invalid("kind must be \"spans\" or \"traces\", got \"" + std::string(wanted) + "\""));
}

using TailFormat = std::string (*)(std::string_view kind, std::string_view json);

// Subscribes `out` to the engine's tail; the subscription ends when `out`
// closes (on a query thread: never inside the engine's callback).
void SubscribeTail(Daemon::Impl& d, std::string kind, const std::shared_ptr<ipc::LineChannel>& out, TailFormat format) {
  query::Service* svc = d.query.get();
  std::weak_ptr<ipc::LineChannel> weak = out;
  uint64_t id = svc->Subscribe([kind, weak, format](std::string_view k, std::string_view json) {
    if (!kind.empty() && k != kind) return;
    if (auto ch = weak.lock()) ch->TryPush(format(k, json));
  });
  QueryPool* pool = d.query_pool.get();
  out->SetOnClose([pool, svc, id] {
    pool->PostAlways([svc, id](bool cancelled) {
      if (!cancelled) svc->Unsubscribe(id);  // cancelled: the engine is going, with its subscriptions
    });
  });
}

std::string SseFormat(std::string_view kind, std::string_view json) { return ipc::SseEvent(kind, json); }

std::string SocketTailFormat(std::string_view kind, std::string_view json) {
  std::string s = R"({"$tail":")";
  s.append(kind).append(R"(","data":)").append(json).append("}\n");
  return s;
}

// {"$query": PATH, "params": {...}} → {"$query": PATH, "status": N, "body": ...}.
std::string QueryLine(Daemon::Impl& d, const nlohmann::json& line) {
  const nlohmann::json& p = Field(line, "$query");
  if (!p.is_string() || !p.get<std::string>().starts_with("/api/")) {
    return ErrorLine("$query", line, 400, "$query needs a path under /api/");
  }
  std::string path = p.get<std::string>();
  if (path == "/api/export" || path == "/api/tail") {
    return ErrorLine("$query", line, 400,
                     "use the " + std::string(path == "/api/export" ? "$export" : "$tail") + " line");
  }
  if (!d.query) return ErrorLine("$query", line, 404, kRetentionOff);
  auto req = RequestFromLine(path, line);
  if (!req) return ErrorLine("$query", line, 400, req.error().message);
  query::Response r = d.query->Handle(*req);
  std::string body = r.content_type.starts_with("application/json") && !r.body.empty() ? r.body : Dump(r.body);
  return R"({"$query":)" + Dump(path) + R"(,"status":)" + std::to_string(r.status) + R"(,"body":)" + body + "}";
}

}  // namespace

Result<query::Request> RequestFromLine(std::string path, const nlohmann::json& line) {
  query::Request req;
  req.path = std::move(path);
  auto it = line.find("params");
  if (it == line.end() || it->is_null()) return req;
  if (!it->is_object()) return Fail(Error::Invalid("\"params\" must be an object of strings"));
  for (auto& [k, v] : it->items()) {
    if (v.is_string()) {
      req.params.emplace_back(k, v.get<std::string>());
    } else if (v.is_number() || v.is_boolean()) {
      req.params.emplace_back(k, v.dump());
    } else {
      return Fail(Error::Invalid("parameter \"" + k + "\" must be a string"));
    }
  }
  return req;
}

Status BuildQuery(Daemon::Impl& d) {
  if (!d.config.local.api) return {};
  d.query_pool = std::make_unique<QueryPool>(2, kMaxQueuedQueries);
  if (d.config.buffer.retention.count() > 0) d.query = std::make_unique<query::Service>(*d.queue);
  LOG_INFO("local query API", {{"retention", FormatDuration(d.config.buffer.retention)},
                               {"engine", d.query != nullptr},
                               {"max_disk_bytes", d.config.buffer.local_max_disk_bytes}});
  return {};
}

void StopQuery(Daemon::Impl& d) {
  if (d.query_pool) d.query_pool->Stop();
  d.query.reset();
}

ipc::ApiHooks QueryHttpHooks(Daemon::Impl& d) {
  ipc::ApiHooks h;
  if (!d.query_pool) return h;
  h.query = [&d](ipc::ApiRequest r, std::function<void(ipc::ApiAnswer)> done) {
    bool posted = d.query_pool->Post([&d, r = std::move(r), done](bool cancelled) {
      if (cancelled) return done(ipc::ApiError(503, kStopping));
      if (!d.query) return done(ipc::ApiError(404, kRetentionOff));
      done(ToApi(d.query->Handle(query::Request{r.path, r.params})));
    });
    if (!posted) done(ipc::ApiError(503, kBusy));
  };
  h.export_rows = [&d](ipc::ApiRequest r, std::shared_ptr<ipc::LineChannel> out) {
    bool posted = d.query_pool->Post([&d, r = std::move(r), out](bool cancelled) {
      if (cancelled) return out->Finish(503, kStopping);
      if (!d.query) return out->Finish(404, kRetentionOff);
      RunExport(*d.query, query::Request{r.path, r.params}, *out, false);
    });
    if (!posted) out->Finish(503, kBusy);
  };
  h.tail = [&d](const ipc::ApiRequest& r, std::shared_ptr<ipc::LineChannel> out) -> std::optional<ipc::ApiAnswer> {
    if (!d.query) return ipc::ApiError(404, kRetentionOff);
    std::string wanted;
    for (const auto& [k, v] : r.params) {
      if (k != "kind") return ipc::ApiError(400, "unknown parameter \"" + k + "\" (the tail takes kind)");
      wanted = v;
    }
    auto kind = TailKind(wanted);
    if (!kind) return ipc::ApiError(400, kind.error().message);
    SubscribeTail(d, *kind, out, SseFormat);
    return std::nullopt;
  };
  return h;
}

ipc::SocketQueryHooks QuerySocketHooks(Daemon::Impl& d) {
  ipc::SocketQueryHooks h;
  if (!d.query_pool) return h;
  h.answer = [&d](const std::string& key, const nlohmann::json& line, std::function<void(std::string)> done) {
    bool posted = d.query_pool->Post([&d, key, line, done](bool cancelled) {
      if (cancelled) return done(ErrorLine(key, line, 503, kStopping));
      done(key == "$replay" ? ReplayLine(d, line) : QueryLine(d, line));
    });
    if (!posted) done(ErrorLine(key, line, 503, kBusy));
  };
  h.stream = [&d](const std::string& key, const nlohmann::json& line, std::shared_ptr<ipc::LineChannel> out) {
    auto refuse = [&](int status, const std::string& error) {
      out->TryPush(ErrorLine(key, line, status, error) + "\n");
      out->Finish();
    };
    if (!d.query) return refuse(404, kRetentionOff);
    if (key == "$tail") {
      const nlohmann::json& v = Field(line, "$tail");
      auto kind = TailKind(v.is_string() ? v.get<std::string>() : std::string("?"));
      if (!kind) return refuse(400, kind.error().message);
      return SubscribeTail(d, *kind, out, SocketTailFormat);
    }
    auto req = RequestFromLine("/api/export", line);
    if (!req) return refuse(400, req.error().message);
    if (const nlohmann::json& shape = Field(line, "$export"); shape.is_string())
      req->params.emplace_back("shape", shape.get<std::string>());
    bool posted = d.query_pool->Post([&d, req = std::move(*req), out](bool cancelled) {
      if (cancelled || !d.query) {
        out->Push(ErrorLine("$export", {}, 503, kStopping) + "\n");
        return out->Finish();
      }
      RunExport(*d.query, req, *out, true);
    });
    if (!posted) refuse(503, kBusy);
  };
  return h;
}

}  // namespace spanvault::daemon
