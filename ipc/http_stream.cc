// A streamed answer of the HTTP listener (contract: http_stream.h).
#include "ipc/http_stream.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <cstdio>

namespace spanvault::ipc {
namespace asio = boost::asio;

HttpStreamWriter::HttpStreamWriter(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner,
                                   std::shared_ptr<LineChannel> channel, Params params, DoneFn done)
    : stream_(stream),
      owner_(std::move(owner)),
      channel_(std::move(channel)),
      params_(std::move(params)),
      done_(std::move(done)),
      keep_alive_(stream.get_executor()),
      chunked_(params_.version >= 11) {}

void HttpStreamWriter::Start() {
  // The waker holds the writer until the channel closes (Finish closes it).
  channel_->SetWaker(
      [self = shared_from_this()] { asio::post(self->stream_.get_executor(), [self] { self->Pump(); }); });
  if (params_.kind == Kind::kSse) {
    WriteHeader();
    WatchClient();
    ArmKeepAlive();
    return;
  }
  Pump();
}

void HttpStreamWriter::Stop() {
  if (done_called_) return;
  stopping_ = true;
  channel_->Close();
  if (!writing_) Pump();
}

std::string HttpStreamWriter::Frame(const std::string& data) const {
  if (!chunked_ || data.empty()) return data;
  char size[24];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string out;
  out.reserve(data.size() + static_cast<size_t>(n) + 2);
  out.append(size, static_cast<size_t>(n)).append(data).append("\r\n");
  return out;
}

std::string HttpStreamWriter::HeaderText() const {
  std::string h = params_.version >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
  h += "Server: spanvault\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n";
  h += params_.kind == Kind::kSse ? "Content-Type: text/event-stream; charset=utf-8\r\n"
                                  : "Content-Type: application/x-ndjson\r\n";
  for (const auto& [name, value] : params_.headers) h += name + ": " + value + "\r\n";
  h += chunked_ ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n";
  h += "\r\n";
  return h;
}

void HttpStreamWriter::WriteHeader() {
  header_sent_ = true;
  Write(HeaderText(), false);
}

// Takes what the channel holds and writes it; called again after each write
// and when the producer wakes us.
void HttpStreamWriter::Pump() {
  if (writing_ || done_called_ || ending_) return;
  LineChannel::Taken t = channel_->Take();
  if (t.closed) {
    // The client is gone, overflowed (too slow), or the listener stops. A
    // tail ends its body cleanly; an export is cut off.
    if (params_.kind == Kind::kSse && header_sent_ && !gone_) {
      ending_ = true;
      return Write(chunked_ ? std::string("0\r\n\r\n") : std::string(), true);
    }
    return Finish(false);
  }
  if (!header_sent_) {
    if (t.lines.empty() && !t.finished) return;  // the waker calls again
    if (t.lines.empty() && t.status != 200) return Finish(true, ApiError(t.status, t.error));
  }
  std::string data;
  for (const std::string& l : t.lines) data += l;
  std::string out;
  if (!header_sent_) {
    // The header goes out with the first rows (one write).
    header_sent_ = true;
    out = HeaderText();
  }
  out += Frame(data);
  if (t.finished) {
    if (t.status != 200) {
      // Failed after rows went out: no last chunk, so the client sees a
      // truncated body rather than a complete one.
      if (!out.empty()) return Write(std::move(out), false);
      return Finish(false);
    }
    ending_ = true;
    if (chunked_) out += "0\r\n\r\n";
    return Write(std::move(out), true);
  }
  if (!out.empty()) Write(std::move(out), false);
}

void HttpStreamWriter::Write(std::string data, bool last) {
  if (data.empty()) {
    if (last) Finish(chunked_ && params_.kind == Kind::kNdjson && !stopping_);
    return;
  }
  writing_ = true;
  out_ = std::move(data);
  stream_.expires_after(params_.write_timeout);
  asio::async_write(
      stream_, asio::buffer(out_),
      [self = shared_from_this(), last](boost::system::error_code ec, size_t) { self->OnWritten(ec, last); });
}

void HttpStreamWriter::OnWritten(boost::system::error_code ec, bool last) {
  writing_ = false;
  out_.clear();
  last_write_ = std::chrono::steady_clock::now();
  if (ec) return Finish(false);
  // An export that ended well may serve the next request (HTTP/1.1); a tail
  // (ended by overflow, disconnect or stop) closes the connection.
  if (last) return Finish(chunked_ && params_.kind == Kind::kNdjson && !stopping_);
  Pump();
}

void HttpStreamWriter::WatchClient() {
  stream_.socket().async_wait(asio::socket_base::wait_read, [self = shared_from_this()](boost::system::error_code ec) {
    if (self->done_called_ || ec) return;
    char scratch[512];
    boost::system::error_code rec;
    self->stream_.socket().read_some(asio::buffer(scratch), rec);
    if (!rec) return self->WatchClient();  // bytes after the request: ignored
    self->gone_ = true;
    self->channel_->Close();
    if (!self->writing_) self->Pump();
  });
}

void HttpStreamWriter::ArmKeepAlive() {
  keep_alive_.expires_after(params_.keep_alive);
  keep_alive_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->done_called_ || self->ending_) return;
    if (!self->writing_) self->Write(self->Frame(std::string(kSseKeepAliveText)), false);
    self->ArmKeepAlive();
  });
}

void HttpStreamWriter::Finish(bool reusable, std::optional<ApiAnswer> refused) {
  if (done_called_) return;
  done_called_ = true;
  keep_alive_.cancel();
  channel_->Close();  // the producer stops; the waker (and its reference) goes
  DoneFn done = std::move(done_);
  done_ = nullptr;
  if (done) done(reusable, std::move(refused));
}

}  // namespace spanvault::ipc
