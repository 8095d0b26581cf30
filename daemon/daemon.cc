#include "daemon/daemon.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <system_error>

#include "buffer/salvage.h"
#include "common/log.h"
#include "daemon/daemon_impl.h"
#include "daemon/status.h"
#include "ipc/socket_activation.h"
#include "ipc/unix_socket.h"
#include "otlp/otlp_ingest.h"

namespace spanvault::daemon {
namespace asio = boost::asio;

Daemon::Impl::~Impl() {
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  // After a failed Start (or without Stop): cancel what the forwarders
  // have in flight while their threads still run, then end the threads.
  forwarders.clear();
  upstream_work.reset();
  upstream_ioc.stop();
  for (auto& t : upstream_threads) {
    if (t.joinable()) t.join();
  }
  // After a failed Start: leave no socket file of ours behind.
  if (!stopped) {
    for (const auto& f : socket_files) ::unlink(f.c_str());
  }
}

void StartUpstreamThreads(Daemon::Impl& d) {
  if (!d.upstream_threads.empty()) return;
  for (uint32_t i = 0; i < d.config.upstream_threads; ++i) {
    d.upstream_threads.emplace_back([&ioc = d.upstream_ioc] {
      pthread_setname_np(pthread_self(), "sv-upstream");
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          LOG_ERROR("upstream thread caught an exception; continuing", {{"error", e.what()}});
        }
      }
    });
  }
}

void StopForwardersInParallel(std::vector<RunningForwarder> forwarders, std::chrono::milliseconds grace) {
  std::vector<std::thread> stoppers;
  for (auto& f : forwarders) {
    stoppers.emplace_back([&f, grace] { f.forwarder->Stop(grace); });
  }
  for (auto& t : stoppers) t.join();
  forwarders.clear();
}

namespace {

// Consumers follow the config: an upstream new to this store starts at the
// current head (it does not get the backlog); one no longer configured stops
// holding spans back. Then one forwarder per upstream.
Status StartForwarders(Daemon::Impl& d) {
  std::vector<std::string> existing = d.queue->Consumers();
  for (const std::string& name : existing) {
    bool configured = std::any_of(d.config.upstreams.begin(), d.config.upstreams.end(),
                                  [&](const auto& u) { return u.name == name; });
    if (configured) continue;
    if (auto st = d.queue->RemoveConsumer(name); !st) return st;
    LOG_WARN("upstream no longer configured: its cursor is removed and it holds no spans back", {{"upstream", name}});
  }
  for (const auto& u : d.config.upstreams) {
    if (std::find(existing.begin(), existing.end(), u.name) != existing.end()) continue;
    if (auto st = d.queue->AddConsumer(u.name); !st) return st;
    LOG_INFO("new upstream: it receives spans from the current head on", {{"upstream", u.name}});
  }
  upstream::ForwarderOptions fo;
  fo.max_age = d.config.buffer.max_age;
  std::vector<RunningForwarder> forwarders;
  for (const auto& u : d.config.upstreams) {
    auto f = upstream::Forwarder::Create(d.upstream_ioc, *d.queue, u, fo);
    if (!f) return Fail(f.error());
    forwarders.push_back({std::move(*f), d.next_instance++});
  }
  d.upstream_work.emplace(d.upstream_ioc.get_executor());
  if (!forwarders.empty()) StartUpstreamThreads(d);
  for (auto& f : forwarders) f.forwarder->Start();
  std::unique_lock lk(d.forwarders_mu);
  d.forwarders = std::move(forwarders);
  return {};
}

// One sample of the rate windows: accepted spans per transport, delivered
// spans per upstream.
void SampleRates(Daemon::Impl& d) {
  std::array<uint64_t, span::kTransportCount> accepted{};
  for (size_t i = 0; i < accepted.size(); ++i) accepted[i] = d.counters.transport[i].spans_accepted.load();
  std::vector<RateSampler::UpstreamSample> upstreams;
  {
    std::shared_lock lk(d.forwarders_mu);
    for (const auto& f : d.forwarders) {
      upstreams.push_back({f.forwarder->name(), f.instance, f.forwarder->DeliveredSpans()});
    }
  }
  int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::lock_guard lk(d.rates_mu);
  d.rates.Record(now, accepted, upstreams);
}

// Every second on an I/O thread until Stop() clears `sampling`; ioc.stop()
// abandons the last wait.
void ScheduleSample(Daemon::Impl& d) {
  auto now = std::chrono::steady_clock::now();
  d.next_sample += std::chrono::seconds(1);
  if (d.next_sample < now) d.next_sample = now + std::chrono::seconds(1);  // fell behind: skip, do not burst
  d.rate_timer->expires_at(d.next_sample);
  d.rate_timer->async_wait([&d](const boost::system::error_code& ec) {
    if (ec || !d.sampling.load()) return;
    SampleRates(d);
    ScheduleSample(d);
  });
}

// What one OTLP request may map to: this many bytes of canonical spans per
// byte of its (inflated) body, plus a constant. Protobuf spans of ids, times
// and a short name grow about five-fold into canonical JSON; resource and
// scope attributes repeated into every span are what the bound stops.
constexpr size_t kOtlpOutputPerBodyByte = 8;
constexpr size_t kOtlpOutputSlack = 1u << 20;
// What span::Decoder may add to a span at most (received_at, source, cost).
constexpr size_t kCanonicalOverhead = 16u << 10;

// The OTLP decoders of the HTTP listener (ipc/ does not depend on otlp/).
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

}  // namespace

// Why `dir` may not be salvaged into the running daemon: a relative path,
// the live store, a directory inside it or holding it (a copy of the live
// store would duplicate its spans until drop_oldest discards real ones).
static std::string SalvageRefusal(const std::string& dir, const std::filesystem::path& state_dir) {
  namespace fs = std::filesystem;
  fs::path p(dir);
  if (!p.is_absolute()) return "salvage needs an absolute path, got \"" + dir + "\"";
  std::error_code ec;
  fs::path target = fs::weakly_canonical(p, ec);
  if (ec) return "cannot resolve " + dir + ": " + ec.message();
  fs::path live = fs::weakly_canonical(state_dir / "buffer", ec);
  if (ec) live = state_dir / "buffer";
  auto within = [](const fs::path& inner, const fs::path& outer) {
    auto [a, b] = std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return a == outer.end();
  };
  if (within(target, live) || within(live, target)) {
    return dir + " is (or holds, or is inside) the live store " + live.string() +
           "; salvage only a moved-aside store (<state_dir>/buffer.corrupt-*) or one from elsewhere";
  }
  return {};
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Daemon::~Daemon() { Stop(); }
int Daemon::udp_port() const { return impl_->udp_port; }
int Daemon::http_port() const { return impl_->http_port; }
const Config& Daemon::config() const { return impl_->config; }

Result<std::unique_ptr<Daemon>> Daemon::Start(const Config& config) {
  log::Level level;
  if (log::ParseLevel(config.log_level, &level)) log::SetLevel(level);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  Impl& d = *impl;
  std::error_code ec;
  for (const auto& dir : {config.state_dir, config.runtime_dir}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(Error::Io("cannot create " + dir.string() + ": " + ec.message()));
  }
  auto pricing = Pricing::Create(config.price_tables);
  if (!pricing) return Fail(Error::Invalid("price tables: " + pricing.error().message));
  d.pricing = std::move(*pricing);
  buffer::Options bo = config.buffer;
  bo.dir = config.state_dir / "buffer";
  bo.on_commit = [&d] {
    std::shared_lock lk(d.forwarders_mu);
    for (auto& f : d.forwarders) f.forwarder->Notify();
  };
  // A damaged store moved aside (at start, or later by the writer thread):
  // salvaged in the background into the live queue.
  auto salvage = [&d](const std::filesystem::path& from) {
    std::lock_guard lk(d.salvage_mu);
    d.salvages.push_back(std::make_unique<AutoSalvage>(*d.queue, from));
  };
  bo.on_moved_aside = salvage;
  auto q = buffer::SpanQueue::Open(bo);
  if (!q) return Fail(q.error());
  d.queue = std::move(*q);
  if (std::string from = d.queue->GetStats().store_recovered_from; !from.empty()) salvage(from);
  if (auto st = StartForwarders(d); !st) return Fail(st.error());

  buffer::SpanQueue* queue = d.queue.get();
  ipc::SubmitFn submit = [queue](span::Batch&& batch, bool fsync, ipc::SubmitDone done) {
    queue->Append(std::move(batch), fsync, std::move(done));
  };
  span::Limits limits;
  limits.max_depth = config.ingest.max_depth;
  // The canonical form adds received_at, source and cost to what was sent.
  limits.max_span_bytes = config.ingest.max_span_bytes + kCanonicalOverhead;
  d.counters.budget.SetCapacity(config.ingest.max_inflight_bytes);
  limits.max_payload_bytes = std::max(
      {config.ingest.max_span_bytes, config.ingest.max_udp_datagram_bytes, config.ingest.max_unix_datagram_bytes});
  const bool machine = config.buffer.durability == buffer::Durability::kMachine;

  // Sockets passed by systemd (spanvault.socket) are used as they are; a
  // listener with none binds its own. Inherited Unix socket files belong to
  // the socket unit and are not removed at Stop.
  ipc::InheritedSockets inherited = ipc::InheritedSockets::FromEnvironment();
  auto unix_socket = [&](const std::string& path, ipc::UnixKind kind, int type) -> Result<int> {
    if (int fd = inherited.TakeUnix(type, path); fd >= 0) {
      int one = 1;
      if (type == SOCK_DGRAM) setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
      LOG_INFO("using the socket passed by systemd", {{"path", path}});
      return fd;
    }
    auto fd = ipc::BindUnixSocket(path, kind, config.ingest.socket_mode);
    if (fd) d.socket_files.push_back(path);
    return fd;
  };

  if (std::string path = config.SocketPath(config.ingest.unix_stream); !path.empty()) {
    auto fd = unix_socket(path, ipc::UnixKind::kStream, SOCK_STREAM);
    if (!fd) return Fail(fd.error());
    ipc::StreamOptions so;
    so.max_line_bytes = config.ingest.max_span_bytes;
    so.fsync_barriers = machine;
    so.max_connections = config.ingest.max_connections;
    so.max_connections_per_uid = config.ingest.max_connections_per_uid;
    so.idle_timeout = config.ingest.stream_idle_timeout;
    so.admin = ipc::AdminPolicy::ForThisProcess();
    if (!config.ingest.admin_group.empty()) {
      so.admin.admin_gid = ipc::LookupGroup(config.ingest.admin_group);
      so.admin.admin_group = config.ingest.admin_group;
    }
    so.enricher = d.pricing.get();
    // These may take seconds (Control below): never on an I/O thread, where
    // they would stall every connection and datagram socket it serves.
    // $dead_letter reads and writes the dead-letter store (a replay waits
    // for an fsynced append).
    so.offload_controls = {"$reload", "$salvage", "$dead_letter"};
    // The listener starts before the Daemon object exists; `self` is set
    // right after Start() builds it, before any I/O thread runs.
    d.stream = std::make_unique<ipc::StreamListener>(
        d.ioc, *fd, so, limits, submit, d.counters,
        [&d](const std::string& key, const nlohmann::json& line) -> std::optional<std::string> {
          return d.self != nullptr ? d.self->Control(key, line) : std::nullopt;
        });
    LOG_INFO("listening", {{"transport", "unix_stream"}, {"path", path}});
  }
  if (std::string path = config.SocketPath(config.ingest.unix_dgram); !path.empty()) {
    auto fd = unix_socket(path, ipc::UnixKind::kDatagram, SOCK_DGRAM);
    if (!fd) return Fail(fd.error());
    int granted = ipc::SetReceiveBuffer(*fd, static_cast<int>(config.ingest.receive_buffer_bytes));
    ipc::DatagramOptions o;
    o.transport = span::Transport::kUnixDatagram;
    o.max_datagram_bytes = config.ingest.max_unix_datagram_bytes;
    o.messages_per_call = 16;
    o.enricher = d.pricing.get();
    o.lanes = config.io_threads == 0 ? 2 : config.io_threads;
    d.dgram = std::make_unique<ipc::DatagramListener>(d.ioc, *fd, o, limits, submit, d.counters);
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
  if (config.ingest.udp != "off") {
    auto hp = ipc::ParseHostPort(config.ingest.udp);
    if (!hp) return Fail(hp.error());
    Result<int> fd = inherited.TakeInet(SOCK_DGRAM, *hp);
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
    o.enricher = d.pricing.get();
    o.lanes = config.io_threads == 0 ? 2 : config.io_threads;
    d.udp = std::make_unique<ipc::DatagramListener>(d.ioc, *fd, o, limits, submit, d.counters);
    int granted = 0;
    socklen_t len = sizeof granted;
    getsockopt(*fd, SOL_SOCKET, SO_RCVBUF, &granted, &len);
    LOG_INFO("listening", {{"transport", "udp"},
                           {"address", hp->host + ":" + std::to_string(d.udp_port)},
                           {"receive_buffer_bytes", granted}});
  }
  if (config.ingest.http != "off") {
    auto hp = ipc::ParseHostPort(config.ingest.http);
    if (!hp) return Fail(hp.error());
    Result<int> fd = inherited.TakeInet(SOCK_STREAM, *hp);
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
    o.fsync_requests = machine;
    o.enricher = d.pricing.get();
    o.otlp = OtlpCodecForHttp(config.ingest);
    o.ready = [&d] { return d.ready.load(); };
    o.metrics = [&d] { return d.self != nullptr ? d.self->MetricsText() : std::string(); };
    d.http = std::make_unique<ipc::HttpListener>(d.ioc, *fd, std::move(o), limits, submit, d.counters);
    LOG_INFO("listening", {{"transport", "http"}, {"address", hp->host + ":" + std::to_string(d.http_port)}});
  }
  auto daemon = std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
  Impl& started = *daemon->impl_;
  started.self = daemon.get();
  if (started.stream) started.stream->Start();
  if (started.dgram) started.dgram->Start();
  if (started.udp) started.udp->Start();
  if (started.http) started.http->Start();
  started.work.emplace(started.ioc.get_executor());
  unsigned n = config.io_threads == 0 ? 2 : config.io_threads;
  for (unsigned i = 0; i < n; ++i) {
    started.threads.emplace_back([&ioc = started.ioc] {
      pthread_setname_np(pthread_self(), "sv-io");
      for (;;) {
        try {
          ioc.run();
          return;
        } catch (const std::exception& e) {
          LOG_ERROR("I/O thread caught an exception; continuing", {{"error", e.what()}});
        }
      }
    });
  }
  // The first sample of the rate windows, then one a second.
  SampleRates(started);
  started.rate_timer.emplace(started.ioc);
  started.next_sample = std::chrono::steady_clock::now();
  started.sampling = true;
  ScheduleSample(started);
  started.ready = true;
  auto stats = started.queue->GetStats();
  LOG_INFO("spanvaultd started", {{"version", SPANVAULT_VERSION},
                                  {"state_dir", config.state_dir.string()},
                                  {"buffered_spans", stats.spans},
                                  {"io_threads", n},
                                  {"durability", machine ? "machine" : "process"}});
  return daemon;
}

namespace {

void StopForwarders(Daemon::Impl& d) {
  // No reload may start forwarders again after this.
  std::lock_guard reload_lock(d.reload_mu);
  d.forwarders_closed = true;
  std::vector<RunningForwarder> forwarders;
  {
    std::unique_lock lk(d.forwarders_mu);
    forwarders.swap(d.forwarders);
  }
  // Side by side: the grace is a bound on the whole shutdown.
  StopForwardersInParallel(std::move(forwarders), d.config.shutdown_grace);
  d.upstream_work.reset();
  d.upstream_ioc.stop();
  for (auto& t : d.upstream_threads) {
    if (t.joinable()) t.join();
  }
}

}  // namespace

void Daemon::Stop() {
  Impl& d = *impl_;
  if (d.stopped) return;
  d.stopped = true;
  d.ready = false;
  d.sampling = false;
  // 1. Stop reading: lines already read are decoded and handed to the store.
  if (d.stream) d.stream->Stop();
  if (d.dgram) d.dgram->Stop();
  if (d.udp) d.udp->Stop();
  if (d.http) d.http->Stop();
  // Wait until every stream connection has handed its last lines to the
  // store and closed, and every HTTP request already being read has been
  // answered (they need the store open for that), at most 5 s. The
  // datagram readers' stop handlers run on their strands after any handler
  // that was still decoding; a short pause covers them.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((d.counters[span::Transport::kUnixStream].connections.load() > 0 ||
          d.counters[span::Transport::kHttp].connections.load() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // 2. Requests in flight get shutdown_grace; what they do not finish stays
  // unacknowledged in the store and is sent again after the next start.
  StopForwarders(d);
  {
    // Each stops at its next batch; what it did not take stays in the
    // moved-aside store. Joined outside the lock: the writer thread may be
    // adding one.
    std::vector<std::unique_ptr<AutoSalvage>> salvages;
    {
      std::lock_guard lk(d.salvage_mu);
      salvages.swap(d.salvages);
    }
  }
  // 3. The store commits everything queued, fsyncs and closes; the last
  // answers are posted to the connections, which the I/O threads still write.
  d.queue->Close();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  d.work.reset();
  d.ioc.stop();
  for (auto& t : d.threads) {
    if (t.joinable()) t.join();
  }
  for (const auto& f : d.socket_files) ::unlink(f.c_str());
  LOG_INFO("spanvaultd stopped", nullptr);
}

std::string Daemon::StatusJson() const {
  nlohmann::json j =
      nlohmann::json::parse(BuildStatusJson(*impl_->queue, impl_->counters, impl_->config, impl_->started_ns));
  j["prices"] = nlohmann::json::parse(impl_->pricing->StatusJson());
  {
    std::lock_guard lk(impl_->salvage_mu);
    if (!impl_->salvages.empty()) j["buffer"]["salvage"] = impl_->salvages.back()->ToJson();
  }
  std::vector<std::pair<upstream::ForwarderStats, uint64_t>> forwarders;  // with their instance
  {
    std::shared_lock lk(impl_->forwarders_mu);
    for (const auto& f : impl_->forwarders) forwarders.emplace_back(f.forwarder->GetStats(), f.instance);
  }
  // Rates over the last minute (or since start), from the 1 s samples. A
  // forwarder not sampled yet (just started by a reload) has none yet.
  nlohmann::json ups = nlohmann::json::array();
  std::lock_guard lk(impl_->rates_mu);
  j["rate_window_seconds"] = impl_->rates.transport(span::Transport::kUnixStream).WindowSeconds();
  for (int i = 0; i < span::kTransportCount; ++i) {
    auto t = static_cast<span::Transport>(i);
    j["transports"][std::string(span::TransportName(t))]["spans_per_second_1m"] = impl_->rates.transport(t).PerSecond();
  }
  for (const auto& [stats, instance] : forwarders) {
    nlohmann::json u = ForwarderStatusJson(stats);
    const CounterWindow* w = impl_->rates.upstream(stats.name, instance);
    u["delivered_per_second_1m"] = w != nullptr ? w->PerSecond() : 0.0;
    u["rate_window_seconds"] = w != nullptr ? w->WindowSeconds() : 0.0;
    ups.push_back(std::move(u));
  }
  j["upstreams"] = std::move(ups);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status Daemon::ReloadPrices() { return impl_->pricing->Reload(); }

std::optional<std::string> Daemon::Control(const std::string& key, const nlohmann::json& line) {
  if (key == "$status") return StatusJson();
  if (key == "$reload") {
    // Takes up to shutdown_grace while replaced forwarders stop: runs on
    // the stream listener's control thread (offload_controls above).
    if (line["$reload"] != true) return std::nullopt;
    nlohmann::json answer = ReloadFromSource().ToJson();
    answer["$reload"] = true;
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (key == "$dead_letter") return DeadLetterControl(*impl_->queue, line);
  if (key == "$salvage") {
    // `spanvault buffer salvage DIR` while the daemon runs: the spans of a
    // moved-aside store go into the live queue.
    nlohmann::json answer;
    answer["$salvage"] = line["$salvage"];
    if (!line["$salvage"].is_string()) return std::nullopt;
    if (std::string why = SalvageRefusal(line["$salvage"].get<std::string>(), impl_->config.state_dir); !why.empty()) {
      answer["ok"] = false;
      answer["error"] = why;
      return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    buffer::SpanQueue* queue = impl_->queue.get();
    auto r = buffer::Salvage(line["$salvage"].get<std::string>(), [queue](span::Batch&& b) -> Status {
      std::promise<buffer::StoreResult> p;
      auto f = p.get_future();
      queue->Append(std::move(b), true, [&p](const buffer::StoreResult& ar) { p.set_value(ar); });
      auto ar = f.get();
      if (!ar.ok) return Fail(Error::Io(ar.error));
      if (ar.refused_full > 0) return Fail(Error::Io("the buffer is full (buffer.on_full = reject); salvage again later"));
      return {};
    });
    answer["ok"] = r.has_value();
    if (r) {
      answer.update(SalvageResultJson(*r));
      LOG_WARN("salvaged spans from a damaged store",
               {{"dir", line["$salvage"]}, {"spans", r->spans}, {"note", r->repair_note}});
    } else {
      answer["error"] = r.error().message;
    }
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (key == "$prices") {
    const nlohmann::json& what = line["$prices"];
    nlohmann::json answer;
    if (what == "reload") {
      Status st = ReloadPrices();
      answer["$prices"] = "reload";
      answer["ok"] = st.has_value();
      if (!st) answer["error"] = st.error().message;
    } else if (what == "unpriced") {
      answer["$prices"] = "unpriced";
      nlohmann::json models = nlohmann::json::array();
      for (auto& [model, n] : impl_->pricing->Unpriced()) models.push_back({{"model", model}, {"spans", n}});
      answer["models"] = std::move(models);
    } else {
      return std::nullopt;
    }
    return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return std::nullopt;
}

}  // namespace spanvault::daemon
