// The listeners Daemon::Start builds: one per configured transport, each
// handing its decoded batches to the ingest pipeline's submit function
// (daemon/pipeline.cc), with the limits, sockets and counters it shares with
// the others. Sockets passed by systemd (spanvault.socket) are used as they
// are; a listener with none binds its own.
#include <sys/socket.h>

#include <algorithm>

#include "common/log.h"
#include "daemon/daemon_impl.h"
#include "decode/otlp/otlp_ingest.h"
#include "ipc/socket_activation.h"
#include "ipc/unix_socket.h"
#include "web/assets.h"

namespace spanvault::daemon {
namespace {

// What one OTLP request may map to: this many bytes of canonical spans per
// byte of its (inflated) body, plus a constant. Protobuf spans of ids, times
// and a short name grow about five-fold into canonical JSON; resource and
// scope attributes repeated into every span are what the bound stops.
constexpr size_t kOtlpOutputPerBodyByte = 8;
constexpr size_t kOtlpOutputSlack = 1u << 20;
// What span::Decoder may add to a span at most (received_at, source, cost).
constexpr size_t kCanonicalOverhead = 16u << 10;

// The OTLP decoders of the HTTP listener (ipc/ does not depend on decode/otlp/).
ipc::OtlpCodec OtlpCodecForHttp(const IngestConfig& ingest) {
  auto adapt = [](Result<otlp::OtlpSpans> r) -> Result<ipc::OtlpDecoded> {
    if (!r) return Fail(r.error());
    return ipc::OtlpDecoded{std::move(r->spans), r->rejected, std::move(r->error_message)};
  };
  otlp::IngestLimits limits;
  limits.max_depth = ingest.max_depth;
  limits.max_attributes = ingest.max_attributes;
  limits.max_attribute_value_bytes = ingest.max_attribute_value_bytes;
  limits.max_span_bytes = ingest.max_span_bytes;
  // Never more than the whole in-flight budget either: that much decoded
  // output is what the daemon may hold for all listeners together.
  const size_t budget = ingest.max_inflight_bytes == 0 ? SIZE_MAX : ingest.max_inflight_bytes;
  auto for_body = [limits, budget](std::string_view body) {
    otlp::IngestLimits l = limits;
    l.max_output_bytes = std::min(body.size() * kOtlpOutputPerBodyByte + kOtlpOutputSlack, budget);
    return l;
  };
  ipc::OtlpCodec c;
  c.decode_proto = [adapt, for_body](std::string_view body) {
    return adapt(otlp::DecodeOtlpProto(body, for_body(body)));
  };
  c.decode_json = [adapt, for_body](std::string_view body) {
    return adapt(otlp::DecodeOtlpJson(body, for_body(body)));
  };
  c.encode_response_proto = otlp::EncodeExportResponseProto;
  c.encode_response_json = otlp::EncodeExportResponseJson;
  return c;
}

// What every listener's builder shares.
struct ListenerContext {
  Daemon::Impl& d;
  const Config& config;
  const ipc::SubmitFn& submit;
  span::Limits limits;
  bool machine = false;  // durability = "machine": fsync barriers per line/request
  ipc::InheritedSockets inherited = ipc::InheritedSockets::FromEnvironment();

  // The Unix socket at `path`: systemd's if it passed one (its file belongs
  // to the socket unit and is not removed at Stop), else bound here.
  Result<int> UnixSocket(const std::string& path, ipc::UnixKind kind, int type) {
    if (int fd = inherited.TakeUnix(type, path); fd >= 0) {
      int one = 1;
      if (type == SOCK_DGRAM) setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
      LOG_INFO("using the socket passed by systemd", {{"path", path}});
      return fd;
    }
    auto fd = ipc::BindUnixSocket(path, kind, config.ingest.socket_mode);
    if (fd) d.socket_files.push_back(path);
    return fd;
  }
};

// NDJSON lines and control lines on the Unix stream socket.
Status BuildStream(ListenerContext& c) {
  Daemon::Impl& d = c.d;
  const Config& config = c.config;
  if (std::string path = config.SocketPath(config.ingest.unix_stream); !path.empty()) {
    auto fd = c.UnixSocket(path, ipc::UnixKind::kStream, SOCK_STREAM);
    if (!fd) return Fail(fd.error());
    ipc::StreamOptions so;
    so.max_line_bytes = config.ingest.max_span_bytes;
    so.fsync_barriers = c.machine;
    so.max_connections = config.ingest.max_connections;
    so.max_connections_per_uid = config.ingest.max_connections_per_uid;
    so.idle_timeout = config.ingest.stream_idle_timeout;
    so.admin = ipc::AdminPolicy::ForThisProcess();
    if (!config.ingest.admin_group.empty()) {
      so.admin.admin_gid = ipc::LookupGroup(config.ingest.admin_group);
      so.admin.admin_group = config.ingest.admin_group;
    }
    // These may take seconds (Control below): never on an I/O thread, where
    // they would stall every connection and datagram socket it serves.
    // $dead_letter reads and writes the dead-letter store (a replay waits
    // for an fsynced append).
    so.offload_controls = {"$reload", "$salvage", "$dead_letter"};
    // $query, $export, $tail, $replay: on the query threads (daemon/query.h).
    so.query = QuerySocketHooks(d);
    // The listener starts before the Daemon object exists; `self` is set
    // right after Start() builds it, before any I/O thread runs.
    d.stream = std::make_unique<ipc::StreamListener>(
        d.ioc, *fd, so, c.limits, c.submit, d.counters,
        [&d](const std::string& key, const nlohmann::json& line) -> std::optional<std::string> {
          return d.self != nullptr ? d.self->Control(key, line) : std::nullopt;
        });
    LOG_INFO("listening", {{"transport", "unix_stream"}, {"path", path}});
  }
  return {};
}

// One payload per datagram on the Unix datagram socket.
Status BuildUnixDatagram(ListenerContext& c) {
  Daemon::Impl& d = c.d;
  const Config& config = c.config;
  if (std::string path = config.SocketPath(config.ingest.unix_dgram); !path.empty()) {
    auto fd = c.UnixSocket(path, ipc::UnixKind::kDatagram, SOCK_DGRAM);
    if (!fd) return Fail(fd.error());
    int granted = ipc::SetReceiveBuffer(*fd, static_cast<int>(config.ingest.receive_buffer_bytes));
    ipc::DatagramOptions o;
    o.transport = span::Transport::kUnixDatagram;
    o.max_datagram_bytes = config.ingest.max_unix_datagram_bytes;
    o.messages_per_call = 16;
    o.lanes = config.io_threads == 0 ? 2 : config.io_threads;
    d.dgram = std::make_unique<ipc::DatagramListener>(d.ioc, *fd, o, c.limits, c.submit, d.counters);
    // The kernel queues at most net.unix.max_dgram_qlen datagrams per Unix
    // datagram socket, whatever its buffer size: beyond that senders block
    // (or get EAGAIN). The kernel default, 10, is far too few for bursts.
    const int qlen = ipc::MaxDatagramQueue();
    LOG_INFO("listening", {{"transport", "unix_dgram"},
                           {"path", path},
                           {"receive_buffer_bytes", granted},
                           {"max_queued_datagrams", qlen}});
    if (qlen > 0 && qlen < 128) {
      LOG_WARN(
          "net.unix.max_dgram_qlen is low: apps sending to the datagram socket block (or drop spans) after this "
          "many queued datagrams; set it to 512 (the .deb installs /usr/lib/sysctl.d/60-spanvault.conf): "
          "sysctl -w net.unix.max_dgram_qlen=512",
          {{"max_dgram_qlen", qlen}, {"path", path}});
    }
  }
  return {};
}

// One payload per datagram on 127.0.0.1 UDP.
Status BuildUdp(ListenerContext& c) {
  Daemon::Impl& d = c.d;
  const Config& config = c.config;
  if (config.ingest.udp != "off") {
    auto hp = ipc::ParseHostPort(config.ingest.udp);
    if (!hp) return Fail(hp.error());
    Result<int> fd = c.inherited.TakeInet(SOCK_DGRAM, *hp);
    if (*fd >= 0) {
      int one = 1;
      setsockopt(*fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
      ipc::SetReceiveBuffer(*fd, static_cast<int>(config.ingest.receive_buffer_bytes));
      LOG_INFO("using the socket passed by systemd", {{"udp", config.ingest.udp}});
    } else {
      fd = ipc::BindUdpSocket(*hp, config.ingest.allow_remote, static_cast<int>(config.ingest.receive_buffer_bytes));
    }
    if (!fd) return Fail(fd.error());
    d.udp_port = ipc::BoundPort(*fd);
    ipc::DatagramOptions o;
    o.transport = span::Transport::kUdp;
    o.max_datagram_bytes = config.ingest.max_udp_datagram_bytes;
    o.lanes = config.io_threads == 0 ? 2 : config.io_threads;
    d.udp = std::make_unique<ipc::DatagramListener>(d.ioc, *fd, o, c.limits, c.submit, d.counters);
    int granted = 0;
    socklen_t len = sizeof granted;
    getsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    LOG_INFO("listening", {{"transport", "udp"},
                           {"address", hp->host + ":" + std::to_string(d.udp_port)},
                           {"receive_buffer_bytes", granted}});
  }
  return {};
}

// OTLP/HTTP and /v1/spans, health and metrics.
Status BuildHttp(ListenerContext& c) {
  Daemon::Impl& d = c.d;
  const Config& config = c.config;
  if (config.ingest.http != "off") {
    auto hp = ipc::ParseHostPort(config.ingest.http);
    if (!hp) return Fail(hp.error());
    Result<int> fd = c.inherited.TakeInet(SOCK_STREAM, *hp);
    if (*fd >= 0) {
      LOG_INFO("using the socket passed by systemd", {{"http", config.ingest.http}});
    } else {
      fd = ipc::BindTcpListener(*hp, config.ingest.allow_remote);
    }
    if (!fd) return Fail(fd.error());
    d.http_port = ipc::BoundPort(*fd);
    ipc::HttpOptions o;
    o.max_body_bytes = config.ingest.max_http_body_bytes;
    o.max_span_bytes = config.ingest.max_span_bytes;
    o.header_timeout = config.ingest.http_header_timeout;
    o.idle_timeout = config.ingest.http_idle_timeout;
    o.body_timeout = config.ingest.http_body_timeout;
    o.max_connections = config.ingest.http_max_connections;
    o.max_requests_per_connection = config.ingest.http_max_requests_per_connection;
    o.allowed_origins = config.ingest.http_allowed_origins;
    o.fsync_requests = c.machine;
    o.otlp = OtlpCodecForHttp(config.ingest);
    o.ready = [&d] { return d.ready.load(); };
    o.metrics = [&d] { return d.self != nullptr ? d.self->MetricsText() : std::string(); };
    // /api/... on the query threads (daemon/query.h); the page's files from
    // web/ (compiled in), with the API.
    o.api = QueryHttpHooks(d);
    if (o.api.query) {
      o.api.asset = [](std::string_view path) -> std::optional<ipc::Asset> {
        const web::Asset* a = web::FindAsset(path);
        if (a == nullptr) return std::nullopt;
        return ipc::Asset{a->content_type, a->body, a->etag};
      };
    }
    d.http = std::make_unique<ipc::HttpListener>(d.ioc, *fd, std::move(o), c.limits, c.submit, d.counters);
    LOG_INFO("listening", {{"transport", "http"}, {"address", hp->host + ":" + std::to_string(d.http_port)}});
  }
  return {};
}

}  // namespace

Status BuildListeners(Daemon::Impl& d, const ipc::SubmitFn& submit) {
  const Config& config = d.config;
  ListenerContext c{d, config, submit};
  c.limits.max_depth = config.ingest.max_depth;
  // The canonical form adds received_at, source and cost to what was sent.
  c.limits.max_span_bytes = config.ingest.max_span_bytes + kCanonicalOverhead;
  c.limits.max_payload_bytes = std::max(
      {config.ingest.max_span_bytes, config.ingest.max_udp_datagram_bytes, config.ingest.max_unix_datagram_bytes});
  c.machine = config.buffer.durability == buffer::Durability::kMachine;
  d.counters.budget.SetCapacity(config.ingest.max_inflight_bytes);
  for (auto build : {BuildStream, BuildUnixDatagram, BuildUdp, BuildHttp}) {
    if (Status st = build(c); !st) return st;
  }
  return {};
}

void StartListeners(Daemon::Impl& d) {
  if (d.stream) d.stream->Start();
  if (d.dgram) d.dgram->Start();
  if (d.udp) d.udp->Start();
  if (d.http) d.http->Start();
}

}  // namespace spanvault::daemon
