#include "ipc/datagram_listener.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cstring>

#include "common/log.h"
#include "common/log_limiter.h"
#include "common/util.h"

namespace spanvault::ipc {
namespace {
LogLimiter& DropLimiter() {
  static LogLimiter limiter;
  return limiter;
}
}  // namespace
namespace asio = boost::asio;

namespace {
// Rounds of recvmmsg per readiness event before yielding to other work.
constexpr int kMaxRoundsPerWake = 16;
}  // namespace

class DatagramListener::Impl : public std::enable_shared_from_this<DatagramListener::Impl> {
 public:
  Impl(asio::io_context& ioc, int fd, DatagramOptions options, span::Limits limits, SubmitFn submit, Counters& counters)
      : desc_(asio::make_strand(ioc), fd),
        options_(options),
        limits_(limits),
        submit_(std::move(submit)),
        counters_(counters[options.transport]),
        budget_(counters.budget) {
    size_t n = options_.messages_per_call;
    // One spare byte tells a datagram over the limit from one exactly at it;
    // the padding lets simdjson parse in place.
    slot_bytes_ = options_.max_datagram_bytes + 1 + span::Decoder::kPadding;
    data_.resize(n * slot_bytes_);
    control_.resize(n * kControlBytes);
    msgs_.resize(n);
    iov_.resize(n);
  }

  void Start() { DoWait(); }

  void Stop() {
    asio::post(desc_.get_executor(), [self = shared_from_this()] {
      self->stopped_ = true;
      boost::system::error_code ec;
      self->desc_.cancel(ec);
      self->desc_.close(ec);
    });
  }

 private:
  static constexpr size_t kControlBytes = CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(uint32_t)) + 64;

  void DoWait() {
    if (stopped_ || waiting_ || inflight_bytes_ > options_.max_inflight_bytes) return;
    waiting_ = true;
    desc_.async_wait(asio::posix::descriptor_base::wait_read,
                     [self = shared_from_this()](boost::system::error_code ec) { self->OnReadable(ec); });
  }

  void OnReadable(boost::system::error_code ec) {
    waiting_ = false;
    if (ec || stopped_) return;
    span::Batch batch;
    int64_t now = NowNanos();
    for (int round = 0; round < kMaxRoundsPerWake; ++round) {
      int got = ReceiveRound(batch, now);
      if (got < static_cast<int>(options_.messages_per_call)) break;
    }
    if (!batch.empty()) {
      size_t bytes = batch.data.size();
      inflight_bytes_ += bytes;
      budget_.Acquire(bytes);
      submit_(std::move(batch), false, [self = shared_from_this(), bytes](const SubmitResult& r) {
        asio::post(self->desc_.get_executor(), [self, bytes, r] { self->OnStored(bytes, r); });
      });
    }
    DoWait();
  }

  // One recvmmsg call; returns how many datagrams it got.
  int ReceiveRound(span::Batch& batch, int64_t now) {
    size_t n = options_.messages_per_call;
    for (size_t i = 0; i < n; ++i) {
      iov_[i].iov_base = data_.data() + i * slot_bytes_;
      iov_[i].iov_len = options_.max_datagram_bytes + 1;
      std::memset(&msgs_[i], 0, sizeof(mmsghdr));
      msgs_[i].msg_hdr.msg_iov = &iov_[i];
      msgs_[i].msg_hdr.msg_iovlen = 1;
      msgs_[i].msg_hdr.msg_control = control_.data() + i * kControlBytes;
      msgs_[i].msg_hdr.msg_controllen = kControlBytes;
    }
    int got = recvmmsg(desc_.native_handle(), msgs_.data(), static_cast<unsigned>(n), MSG_DONTWAIT, nullptr);
    if (got < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        LOG_WARN("datagram receive failed",
                 {{"transport", span::TransportName(options_.transport)}, {"error", std::strerror(errno)}});
      }
      return 0;
    }
    // Counted once per call, not per datagram: the counters are shared by
    // the lanes on the other I/O threads.
    counters_.payloads.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
    if (budget_.Exhausted()) {
      // The daemon holds all the memory it may for input: these datagrams
      // are read (so the kernel queue keeps moving) and dropped, counted.
      budget_.CountRefusal(options_.transport, static_cast<uint64_t>(got));
      counters_.rejected_by_kind[static_cast<size_t>(span::RejectKind::kBusy)].fetch_add(static_cast<uint64_t>(got),
                                                                                         std::memory_order_relaxed);
      counters_.payloads_rejected.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
      if (uint64_t n = DropLimiter().Tick(std::string(span::TransportName(options_.transport)))) {
        LOG_WARN("datagrams dropped: the in-flight budget is spent (ingest.max_inflight_bytes)",
                 {{"transport", span::TransportName(options_.transport)}, {"drop_events", n}});
      }
      return got;
    }
    uint64_t bytes = 0;
    span::Decoder& decoder = ThreadDecoder(limits_);
    for (int i = 0; i < got; ++i) {
      const msghdr& h = msgs_[i].msg_hdr;
      span::Source source;
      source.transport = options_.transport;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
          ucred cred;
          std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
          source.pid = cred.pid;
          source.uid = cred.uid;
          source.gid = cred.gid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
          uint32_t drops;
          std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
          // The kernel reports the socket's running total; lanes may see it
          // out of order.
          uint64_t seen = counters_.kernel_drops.load(std::memory_order_relaxed);
          while (drops > seen && !counters_.kernel_drops.compare_exchange_weak(seen, drops)) {
          }
        }
      }
      size_t len = msgs_[i].msg_len;
      bytes += len;
      std::string_view payload(data_.data() + i * slot_bytes_, len);
      size_t q0 = batch.quarantine.size();
      if ((h.msg_flags & MSG_TRUNC) != 0 || len > options_.max_datagram_bytes) {
        span::Batch::Quarantined q;
        q.rejection.kind = span::RejectKind::kTooLarge;
        q.rejection.reason =
            "datagram is larger than the limit of " + std::to_string(options_.max_datagram_bytes) + " bytes";
        q.rejection.excerpt = std::string(payload.substr(0, 4096));
        q.source = source;
        q.received_ns = now;
        batch.quarantine.push_back(std::move(q));
      } else if (len == 0) {
        continue;
      } else {
        decoder.Decode(payload, source, now, batch, /*padded=*/true);
      }
      if (batch.quarantine.size() > q0) {
        counters_.payloads_rejected.fetch_add(1, std::memory_order_relaxed);
        CountRejections(batch, q0, counters_);
      }
    }
    counters_.bytes.fetch_add(bytes, std::memory_order_relaxed);
    return got;
  }

  void OnStored(size_t bytes, const SubmitResult& r) {
    inflight_bytes_ -= bytes;
    budget_.Release(bytes);
    counters_.spans_accepted.fetch_add(r.stored, std::memory_order_relaxed);
    if (!r.ok || r.refused_full > 0) {
      uint64_t lost = r.refused_full;
      if (lost > 0) {
        counters_.rejected_by_kind[static_cast<size_t>(span::RejectKind::kFull)].fetch_add(lost);
      }
      // The store logs its own failure; here at most one line per 10 s.
      if (!r.ok) {
        if (uint64_t n = DropLimiter().Tick("not stored")) {
          LOG_ERROR("datagrams not stored", {{"error", r.error}, {"events", n}});
        }
      }
    }
    DoWait();
  }

  asio::posix::stream_descriptor desc_;
  DatagramOptions options_;
  span::Limits limits_;
  SubmitFn submit_;
  TransportCounters& counters_;
  InflightBudget& budget_;
  size_t slot_bytes_ = 0;
  std::string data_;
  std::string control_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iov_;
  size_t inflight_bytes_ = 0;
  bool waiting_ = false;
  bool stopped_ = false;
};

DatagramListener::DatagramListener(asio::io_context& ioc, int fd, DatagramOptions options, span::Limits limits,
                                   SubmitFn submit, Counters& counters) {
  size_t lanes = std::max<size_t>(1, options.lanes);
  for (size_t i = 0; i < lanes; ++i) {
    int lane_fd = i == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (lane_fd < 0) {
      LOG_WARN("datagram listener: cannot add a reader lane", {{"error", std::strerror(errno)}});
      break;
    }
    lanes_.push_back(std::make_shared<Impl>(ioc, lane_fd, options, limits, submit, counters));
  }
}
DatagramListener::~DatagramListener() { Stop(); }
void DatagramListener::Start() {
  for (auto& l : lanes_) l->Start();
}
void DatagramListener::Stop() {
  for (auto& l : lanes_) l->Stop();
}

}  // namespace spanvault::ipc
