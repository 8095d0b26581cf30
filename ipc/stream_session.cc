// One connection of the stream listener: reads lines into a pooled buffer,
// decodes NDJSON spans into a batch handed to the ingest pipeline, answers
// `$sync` barriers once everything before them is durable, and passes control
// lines to the daemon (some on the listener's control thread).
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "common/util.h"
#include "ipc/control_line.h"
#include "ipc/line_channel.h"
#include "ipc/read_buffer_pool.h"
#include "ipc/stream_listener_impl.h"

namespace spanvault::ipc {
namespace {

struct LineError {
  uint64_t line;
  std::string reason;
};

// What a barrier answer reports, accumulated between barriers.
struct Window {
  uint64_t accepted = 0;
  uint64_t rejected = 0;
  std::vector<LineError> errors;
};

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

}  // namespace

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  StreamSession(stream::socket socket, std::shared_ptr<StreamListener::Impl> owner, PeerCred peer, bool admin,
                bool uid_counted)
      : socket_(std::move(socket)),
        owner_(std::move(owner)),
        opts_(owner_->options_),
        peer_(std::move(peer)),
        admin_(admin),
        uid_counted_(uid_counted),
        buf_size_(opts_.read_chunk_bytes + opts_.max_line_bytes + span::Decoder::kPadding + 1) {
    counters_ = &owner_->counters_[span::Transport::kUnixStream];
    source_.transport = span::Transport::kUnixStream;
    if (peer_.known) {
      source_.pid = peer_.pid;
      source_.uid = static_cast<int64_t>(peer_.uid);
      source_.gid = static_cast<int64_t>(peer_.gid);
    }
    last_active_ns_.store(LogLimiter::SteadyNowNs(), std::memory_order_relaxed);
  }

  ~StreamSession() {
    if (buf_) BufferPool::Give(std::move(buf_), buf_size_);
  }

  void Start() { DoRead(); }

  // Runs on the session's strand.
  void StopReading() {
    stopping_ = true;
    boost::system::error_code ec;
    socket_.shutdown(stream::socket::shutdown_receive, ec);
    // An export or tail streaming ends here (an export without its $end
    // line: the client sees it cut off); its producer stops.
    if (channel_) {
      channel_->Close();
      PumpChannel();
    }
  }

  // Runs on the session's strand: closes the connection when no byte came
  // since `cutoff_ns` (steady clock) and nothing of it is still in flight.
  void CloseIfIdle(int64_t cutoff_ns) {
    if (closed_ || stopping_ || eof_ || last_active_ns_.load(std::memory_order_relaxed) > cutoff_ns) return;
    if (inflight_batches_ > 0 || inflight_barriers_ > 0 || control_pending_ || writing_) return;
    idle_closed_ = true;
    StopReading();
  }

  int64_t last_active_ns() const { return last_active_ns_.load(std::memory_order_relaxed); }
  asio::any_io_executor executor() { return socket_.get_executor(); }

 private:
  size_t Capacity() const { return buf_size_ - span::Decoder::kPadding; }

  void DoRead() {
    if (reading_ || eof_ || stopping_ || control_pending_ || closed_) return;
    if (inflight_bytes_ > opts_.max_inflight_bytes || output_bytes_ > opts_.max_pending_output) return;
    InflightBudget& budget = owner_->counters_.budget;
    if (budget.Exhausted() && inflight_batches_ == 0) {
      // Nothing of ours is in flight to wake us (OnStored does that): look
      // again shortly. Counted once per pause.
      if (!budget_paused_) {
        budget_paused_ = true;
        budget.CountRefusal(span::Transport::kUnixStream);
      }
      if (!retry_timer_) retry_timer_.emplace(socket_.get_executor());
      reading_ = true;
      retry_timer_->expires_after(std::chrono::milliseconds(5));
      retry_timer_->async_wait([self = shared_from_this()](boost::system::error_code) {
        self->reading_ = false;
        if (self->stopping_) return self->OnRead(asio::error::eof, 0);
        self->DoRead();
      });
      return;
    }
    if (budget.Exhausted()) return;  // OnStored of a batch in flight reads on
    budget_paused_ = false;
    reading_ = true;
    if (!buf_) {
      // No line in progress: wait until the peer sends something before
      // taking a buffer, so that idle connections cost no memory.
      socket_.async_wait(stream::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
        self->reading_ = false;
        if (ec) return self->OnRead(ec, 0);
        if (self->stopping_ || self->closed_) return self->OnRead(asio::error::eof, 0);
        self->buf_ = BufferPool::Take(self->buf_size_);
        self->DoRead();
      });
      return;
    }
    // Keep the unconsumed tail at the front so a whole line always fits.
    if (begin_ > 0 && Capacity() - end_ < opts_.read_chunk_bytes) {
      std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      scan_ -= begin_;
      begin_ = 0;
    }
    size_t room = std::min(opts_.read_chunk_bytes, Capacity() - end_);
    socket_.async_read_some(
        asio::buffer(buf_.get() + end_, room),
        [self = shared_from_this()](boost::system::error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  // Gives the read buffer back when no byte of a line is left in it.
  void MaybeReleaseBuffer() {
    if (!buf_ || begin_ != end_ || control_pending_) return;
    begin_ = scan_ = end_ = 0;
    BufferPool::Give(std::move(buf_), buf_size_);
  }

  void OnRead(boost::system::error_code ec, size_t n) {
    reading_ = false;
    if (n > 0) {
      last_active_ns_.store(LogLimiter::SteadyNowNs(), std::memory_order_relaxed);
      counters_->bytes.fetch_add(n, std::memory_order_relaxed);
      end_ += n;
      // Canonical spans are a little larger than what was sent: reserve once
      // instead of growing (and copying) the batch buffer while encoding.
      batch_.data.reserve(batch_.data.size() + n + n / 4 + 1024);
      ProcessLines(/*at_eof=*/false);
    }
    if (ec) {
      eof_ = true;
      // A last line without a newline is still a line when the client ended
      // the stream, not when we stopped reading in the middle of it.
      if (buf_) ProcessLines(/*at_eof=*/!stopping_);
      FlushBatch();
      MaybeReleaseBuffer();
      if (idle_closed_) {
        if (uint64_t k = Limiter().Tick(PeerKey(peer_) + " idle")) {
          LOG_INFO("unix stream connection closed after the idle timeout (ingest.stream_idle_timeout)",
                   {{"peer", PeerKey(peer_)}, {"pid", peer_.pid}, {"connections_closed", k}});
        }
      }
      MaybeClose();
      return;
    }
    FlushBatch();
    MaybeReleaseBuffer();
    DoRead();
  }

  void ProcessLines(bool at_eof) {
    for (;;) {
      if (control_pending_) return;  // resumed by OnControlAnswer
      const char* base = buf_.get();
      const char* nl = static_cast<const char*>(std::memchr(base + scan_, '\n', end_ - scan_));
      if (nl == nullptr) {
        scan_ = end_;
        if (discarding_) {
          // Still inside an over-long line: drop what we have.
          begin_ = scan_ = end_ = 0;
        } else if (end_ - begin_ > opts_.max_line_bytes) {
          RejectLongLine(std::string_view(base + begin_, end_ - begin_));
          discarding_ = true;
          begin_ = scan_ = end_ = 0;
        } else if (at_eof && end_ > begin_) {
          std::string_view line(base + begin_, end_ - begin_);
          begin_ = scan_ = end_;
          HandleLine(line);
        }
        return;
      }
      std::string_view line(base + begin_, static_cast<size_t>(nl - (base + begin_)));
      begin_ = scan_ = static_cast<size_t>(nl - base) + 1;
      if (discarding_) {
        discarding_ = false;
        continue;  // the tail of a line already refused and counted
      }
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > opts_.max_line_bytes) {
        RejectLongLine(line);
        continue;
      }
      HandleLine(line);
    }
  }

  void RejectLongLine(std::string_view prefix) {
    ++line_no_;
    counters_->payloads.fetch_add(1, std::memory_order_relaxed);
    span::Batch::Quarantined q;
    q.rejection.kind = span::RejectKind::kTooLarge;
    q.rejection.reason = "line is longer than the limit of " + std::to_string(opts_.max_line_bytes) + " bytes";
    q.rejection.excerpt = std::string(prefix.substr(0, 4096));
    q.source = source_;
    q.received_ns = NowNanos();
    batch_.quarantine.push_back(std::move(q));
    counters_->rejected_by_kind[static_cast<size_t>(span::RejectKind::kTooLarge)].fetch_add(1);
    counters_->payloads_rejected.fetch_add(1, std::memory_order_relaxed);
    AddError(window_, line_no_, batch_.quarantine.back().rejection.reason);
  }

  void AddError(Window& w, uint64_t line, std::string reason) {
    ++w.rejected;
    if (w.errors.size() < opts_.max_errors_per_answer) w.errors.push_back({line, std::move(reason)});
  }

  void HandleLine(std::string_view line) {
    ++line_no_;
    if (IsBlank(line)) return;
    std::string_view t = TrimLeft(line);
    if (t.size() > 3 && t[0] == '{' && t[1] == '"' && t[2] == '$') {
      HandleControl(line);
      return;
    }
    ++payloads_pending_;  // published by FlushBatch, once per read
    if (received_ns_ == 0) received_ns_ = NowNanos();
    size_t q0 = batch_.quarantine.size();
    // The line sits inside buf_, which has kPadding readable bytes past end_.
    span::DecodeResult r = ThreadDecoder(owner_->limits_).Decode(line, source_, received_ns_, batch_, /*padded=*/true);
    if (r.accepted > 0) span_lines_.push_back(line_no_);
    if (r.rejected > 0) {
      counters_->payloads_rejected.fetch_add(1, std::memory_order_relaxed);
      CountRejections(batch_, q0, *counters_);
      // One line counts once however many of its spans were refused.
      ++window_.rejected;
      for (size_t i = q0; i < batch_.quarantine.size(); ++i) {
        if (window_.errors.size() < opts_.max_errors_per_answer) {
          window_.errors.push_back({line_no_, batch_.quarantine[i].rejection.reason});
        }
      }
    }
  }

  void HandleControl(std::string_view line) {
    ControlLine c;
    if (std::string why = ParseControlLine(line, &c); !why.empty()) return RejectControl(why);
    if (c.key == "$sync") {
      FlushBatch();
      Window snapshot = std::move(window_);
      window_ = Window{};
      nlohmann::json id = std::move(c.obj["$sync"]);
      inflight_barriers_++;
      owner_->submit_(span::Batch{}, opts_.fsync_barriers,
                      [self = shared_from_this(), snapshot = std::move(snapshot),
                       id = std::move(id)](const SubmitResult& r) mutable {
                        asio::post(self->executor(), [self, snapshot = std::move(snapshot), id = std::move(id),
                                                      r]() mutable { self->OnBarrier(std::move(snapshot), id, r); });
                      });
      return;
    }
    if (NeedsAdmin(c) && !admin_) {
      const std::string why = opts_.admin.Refusal(peer_);
      if (uint64_t n = Limiter().Tick(PeerKey(peer_) + " admin " + c.key)) {
        LOG_WARN("admin control line refused: the peer has no admin rights",
                 {{"line", c.key}, {"peer", PeerKey(peer_)}, {"pid", peer_.pid}, {"refused", n}});
      }
      counters_->payloads.fetch_add(1, std::memory_order_relaxed);
      counters_->payloads_rejected.fetch_add(1, std::memory_order_relaxed);
      counters_->rejected_by_kind[static_cast<size_t>(span::RejectKind::kForbidden)].fetch_add(1);
      nlohmann::json a;
      a[c.key] = c.obj[c.key];
      a["ok"] = false;
      a["error"] = why;
      return SendAnswer(c.key, a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (opts_.query.enabled() && IsQueryLine(c.key)) return StartQuery(c.key, std::move(c.obj));
    if (owner_->control_) {
      if (owner_->Offloaded(c.key)) {
        Offload(c.key, std::move(c.obj));
        return;
      }
      if (std::optional<std::string> answer = owner_->control_(c.key, c.obj)) {
        SendAnswer(c.key, std::move(*answer));
        return;
      }
    }
    RejectControl("unknown control line");
  }

  // A control answer, replaced by an error when it is over max_answer_bytes.
  void SendAnswer(const std::string& key, std::string answer) {
    if (answer.size() > opts_.max_answer_bytes) {
      nlohmann::json a;
      a[key] = nullptr;
      a["ok"] = false;
      a["error"] = "the answer is " + std::to_string(answer.size()) + " bytes, over the limit of " +
                   std::to_string(opts_.max_answer_bytes) + "; ask for less (a limit, ids, an upstream)";
      answer = a.dump();
    }
    Send(std::move(answer));
  }

  // A control line that may block: answered from the control thread, and
  // until then this connection decodes no further line (ProcessLines and
  // DoRead wait for control_pending_ to clear).
  void Offload(const std::string& key, nlohmann::json j) {
    FlushBatch();
    control_pending_ = true;
    owner_->Offload([self = shared_from_this(), key, j = std::move(j)](bool cancelled) {
      std::optional<std::string> answer;
      std::string error = "spanvaultd is stopping";
      if (!cancelled) {
        try {
          answer = self->owner_->control_(key, j);
        } catch (const std::exception& e) {
          error = std::string("control line failed: ") + e.what();
          cancelled = true;
        }
      }
      if (cancelled) {
        nlohmann::json a;
        a[key] = j[key];
        a["ok"] = false;
        a["error"] = error;
        answer = a.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      }
      asio::post(self->executor(),
                 [self, key, answer = std::move(answer)]() mutable { self->OnControlAnswer(key, std::move(answer)); });
    });
  }

  void OnControlAnswer(const std::string& key, std::optional<std::string> answer) {
    control_pending_ = false;
    if (answer) {
      SendAnswer(key, std::move(*answer));
    } else {
      RejectControl("unknown control line");
    }
    Resume();
  }

  static bool IsQueryLine(std::string_view key) {
    return key == "$query" || key == "$export" || key == "$tail" || key == "$replay";
  }

  // A query line (SocketQueryHooks): like an offloaded control line, no
  // further line is read until it is over; $export and $tail stream their
  // lines through a channel, bounded by max_pending_output.
  void StartQuery(const std::string& key, nlohmann::json line) {
    FlushBatch();
    control_pending_ = true;
    if (key == "$query" || key == "$replay") {
      opts_.query.answer(key, line, [self = shared_from_this(), key](std::string answer) {
        asio::post(self->executor(), [self, key, answer = std::move(answer)]() mutable {
          self->OnControlAnswer(key, std::move(answer));
        });
      });
      return;
    }
    channel_ = std::make_shared<LineChannel>(opts_.max_pending_output);
    // The waker holds the session while nothing else may (no read or write
    // is pending while the producer works); the channel drops it when it
    // closes (PumpChannel closes it at the end).
    channel_->SetWaker([self = shared_from_this()] { asio::post(self->executor(), [self] { self->PumpChannel(); }); });
    opts_.query.stream(key, line, channel_);
    if (key == "$tail") WatchTailClose();
    // Not inline: a refusal finishes the channel at once, and PumpChannel
    // would then read further lines from inside ProcessLines.
    asio::post(executor(), [self = shared_from_this()] { self->PumpChannel(); });
  }

  // Moves the channel's lines to the output while the client reads them.
  void PumpChannel() {
    if (!channel_) return;
    if (write_failed_ || closed_) channel_->Close();
    if (output_bytes_ > opts_.max_pending_output) return;  // OnWrite comes back
    LineChannel::Taken t = channel_->Take();
    for (std::string& l : t.lines) {
      output_bytes_ += l.size();
      out_.push_back(std::move(l));
    }
    if (!writing_) DoWrite();
    if (!t.finished && !t.closed) return;
    channel_->Close();
    channel_.reset();
    control_pending_ = false;
    Resume();
  }

  // A tail ends when its client closes: the socket is read (and what comes
  // is dropped) until the end of the stream.
  void WatchTailClose() {
    socket_.async_wait(stream::socket::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
      if (!self->channel_) return;
      char scratch[4096];
      boost::system::error_code rec;
      if (!ec) self->socket_.read_some(asio::buffer(scratch), rec);
      if (!ec && !rec) return self->WatchTailClose();
      self->eof_ = true;
      self->channel_->Close();
      self->PumpChannel();
    });
  }

  // The lines that arrived behind a control line, as OnRead would have.
  void Resume() {
    if (buf_) ProcessLines(/*at_eof=*/eof_ && !stopping_);
    FlushBatch();
    MaybeReleaseBuffer();
    DoRead();
    MaybeClose();
  }

  void RejectControl(const std::string& reason) {
    if (uint64_t n = Limiter().Tick(PeerKey(peer_) + " control")) {
      LOG_WARN("control line refused",
               {{"reason", reason}, {"peer", PeerKey(peer_)}, {"pid", peer_.pid}, {"refused", n}});
    }
    counters_->payloads.fetch_add(1, std::memory_order_relaxed);
    counters_->payloads_rejected.fetch_add(1, std::memory_order_relaxed);
    counters_->rejected_by_kind[static_cast<size_t>(span::RejectKind::kSchema)].fetch_add(1);
    AddError(window_, line_no_, reason);
  }

  void FlushBatch() {
    received_ns_ = 0;
    if (payloads_pending_ != 0) {
      counters_->payloads.fetch_add(payloads_pending_, std::memory_order_relaxed);
      payloads_pending_ = 0;
    }
    if (batch_.empty()) return;
    size_t bytes = batch_.data.size();
    for (auto& q : batch_.quarantine) bytes += q.rejection.excerpt.size();
    inflight_bytes_ += bytes;
    ++inflight_batches_;
    owner_->counters_.budget.Acquire(bytes);
    std::vector<uint64_t> lines = std::move(span_lines_);
    span_lines_.clear();
    span::Batch b = std::move(batch_);
    batch_ = span::Batch{};
    owner_->submit_(std::move(b), false,
                    [self = shared_from_this(), bytes, lines = std::move(lines)](const SubmitResult& r) mutable {
                      asio::post(self->executor(), [self, bytes, lines = std::move(lines), r]() mutable {
                        self->OnStored(bytes, lines, r);
                      });
                    });
  }

  void OnStored(size_t bytes, const std::vector<uint64_t>& lines, const SubmitResult& r) {
    inflight_bytes_ -= bytes;
    owner_->counters_.budget.Release(bytes);
    --inflight_batches_;
    counters_->spans_accepted.fetch_add(r.stored, std::memory_order_relaxed);
    accepted_ += r.stored;
    if (!r.ok || r.refused_full > 0) {
      // The store refused the whole batch: every line that had spans in it
      // is reported as rejected.
      std::string reason = !r.ok ? "not stored: " + r.error : "buffer full (on_full = \"reject\"); resend later";
      span::RejectKind kind = !r.ok ? span::RejectKind::kSchema : span::RejectKind::kFull;
      for (uint64_t line : lines) {
        AddError(store_window_, line, reason);
        counters_->payloads_rejected.fetch_add(1, std::memory_order_relaxed);
        if (r.ok) counters_->rejected_by_kind[static_cast<size_t>(kind)].fetch_add(1);
      }
    }
    DoRead();
    MaybeClose();
  }

  void OnBarrier(Window snapshot, const nlohmann::json& id, const SubmitResult& r) {
    --inflight_barriers_;
    Window& w = store_window_;
    nlohmann::json answer;
    answer["$sync"] = id;
    answer["accepted"] = accepted_;
    answer["rejected"] = snapshot.rejected + w.rejected;
    std::vector<LineError> errors = std::move(snapshot.errors);
    errors.insert(errors.end(), std::make_move_iterator(w.errors.begin()), std::make_move_iterator(w.errors.end()));
    std::stable_sort(errors.begin(), errors.end(),
                     [](const LineError& a, const LineError& b) { return a.line < b.line; });
    if (errors.size() > opts_.max_errors_per_answer) errors.resize(opts_.max_errors_per_answer);
    nlohmann::json list = nlohmann::json::array();
    for (auto& e : errors) list.push_back({{"line", e.line}, {"reason", e.reason}});
    answer["errors"] = std::move(list);
    if (!r.ok) answer["error"] = "sync failed: " + r.error;
    accepted_ = 0;
    store_window_ = Window{};
    Send(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }

  void Send(std::string line) {
    line.push_back('\n');
    output_bytes_ += line.size();
    out_.push_back(std::move(line));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (out_.empty() || write_failed_) return;
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = shared_from_this()](boost::system::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(boost::system::error_code ec) {
    writing_ = false;
    output_bytes_ -= out_.front().size();
    out_.pop_front();
    if (ec) {
      write_failed_ = true;  // the client went away; answers are dropped
      output_bytes_ = 0;
      out_.clear();
    }
    DoWrite();
    PumpChannel();
    DoRead();
    MaybeClose();
  }

  void MaybeClose() {
    if (!(eof_ || stopping_) || reading_ || writing_ || inflight_batches_ > 0 || inflight_barriers_ > 0 ||
        control_pending_) {
      return;
    }
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    if (retry_timer_) retry_timer_->cancel();
    socket_.close(ec);
    counters_->connections.fetch_sub(1);
    if (uid_counted_) owner_->ReleaseUid(peer_.uid);
  }

  stream::socket socket_;
  std::shared_ptr<StreamListener::Impl> owner_;
  const StreamOptions& opts_;
  const PeerCred peer_;
  const bool admin_;        // may send admin control lines
  const bool uid_counted_;  // holds one of its uid's connections
  TransportCounters* counters_;
  span::Source source_;
  const size_t buf_size_;
  std::unique_ptr<char[]> buf_;  // only while a read or a line is in progress
  std::atomic<int64_t> last_active_ns_{0};
  std::optional<asio::steady_timer> retry_timer_;
  bool budget_paused_ = false;
  bool idle_closed_ = false;
  size_t begin_ = 0, scan_ = 0, end_ = 0;  // unconsumed bytes [begin_, end_); no '\n' in [begin_, scan_)
  bool discarding_ = false;
  uint64_t line_no_ = 0;
  // Lines decoded since the last FlushBatch, not yet in counters_->payloads:
  // one atomic add per read instead of one per line (the counters are shared
  // with every other connection's I/O thread).
  uint64_t payloads_pending_ = 0;
  int64_t received_ns_ = 0;
  span::Batch batch_;
  std::vector<uint64_t> span_lines_;  // lines of batch_ that produced spans
  Window window_;                     // decode-side rejections since the last barrier
  Window store_window_;               // store-side refusals since the last barrier
  uint64_t accepted_ = 0;
  size_t inflight_bytes_ = 0;
  size_t inflight_batches_ = 0;
  size_t inflight_barriers_ = 0;
  std::deque<std::string> out_;
  size_t output_bytes_ = 0;
  bool reading_ = false, writing_ = false, eof_ = false, stopping_ = false, closed_ = false, write_failed_ = false;
  bool control_pending_ = false;          // an offloaded control line is not answered yet
  std::shared_ptr<LineChannel> channel_;  // while $export or $tail streams
};

std::shared_ptr<StreamSession> MakeSession(stream::socket socket, std::shared_ptr<StreamListener::Impl> owner,
                                           PeerCred peer, bool admin, bool uid_counted) {
  return std::make_shared<StreamSession>(std::move(socket), std::move(owner), std::move(peer), admin, uid_counted);
}
void StartSession(StreamSession& s) { s.Start(); }
asio::any_io_executor SessionExecutor(StreamSession& s) { return s.executor(); }
int64_t SessionLastActiveNs(const StreamSession& s) { return s.last_active_ns(); }
void StopSessionReading(StreamSession& s) { s.StopReading(); }
void CloseSessionIfIdle(StreamSession& s, int64_t cutoff_ns) { s.CloseIfIdle(cutoff_ns); }

}  // namespace spanvault::ipc
