// ipc/ (private) — one streamed answer of the HTTP listener: GET /api/export
// (chunked application/x-ndjson) and GET /api/tail (text/event-stream),
// written from a LineChannel the daemon fills on its own threads.
//
// Runs on the connection's strand; holds the connection (`owner`) alive
// while it writes. Memory: only what the channel holds (its bound) plus the
// one write in progress. Each write has `write_timeout`; a client that stops
// reading is closed by it (an export's producer then stops: the channel is
// closed). A tail also watches the socket for the client closing (an idle
// SSE stream writes nothing but the 15 s keep-alive) and ends when the
// channel overflows (a slow client is dropped).
//
// An export answers its status only when the first row (or the end) is
// there: a refusal before any row (Finish(400, ...)) is handed back to the
// session as a plain answer (`done` with `refused`). HTTP/1.0 clients get
// the body unchunked, and the connection closes after it.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipc/http_api.h"
#include "ipc/line_channel.h"

namespace spanvault::ipc {

class HttpStreamWriter : public std::enable_shared_from_this<HttpStreamWriter> {
 public:
  enum class Kind { kNdjson, kSse };
  struct Params {
    Kind kind = Kind::kNdjson;
    unsigned version = 11;
    std::vector<std::pair<std::string, std::string>> headers;  // extra (CORS) headers
    std::chrono::milliseconds write_timeout{30000};
    std::chrono::milliseconds keep_alive{kSseKeepAlive};
  };
  // reusable: the answer ended cleanly and the connection may serve the next
  // request. refused: the export was refused before any row; the session
  // answers it (nothing was written).
  using DoneFn = std::function<void(bool reusable, std::optional<ApiAnswer> refused)>;

  HttpStreamWriter(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner, std::shared_ptr<LineChannel> channel,
                   Params params, DoneFn done);

  // On the strand: starts (an SSE stream sends its header at once).
  void Start();
  // On the strand: the listener stops. The channel closes; a tail ends its
  // body, an export is cut off (no last chunk: the client sees it truncated).
  void Stop();

 private:
  void Pump();
  std::string HeaderText() const;
  void WriteHeader();
  void Write(std::string data, bool last);
  void OnWritten(boost::system::error_code ec, bool last);
  void WatchClient();
  void ArmKeepAlive();
  void Finish(bool reusable, std::optional<ApiAnswer> refused = std::nullopt);
  std::string Frame(const std::string& data) const;

  boost::beast::tcp_stream& stream_;
  std::shared_ptr<void> owner_;
  std::shared_ptr<LineChannel> channel_;
  Params params_;
  DoneFn done_;
  boost::asio::steady_timer keep_alive_;
  std::string out_;  // the write in progress
  bool chunked_ = true;
  bool header_sent_ = false;
  bool writing_ = false;
  bool ending_ = false;  // the last write is queued or sent
  bool done_called_ = false;
  bool stopping_ = false;
  bool gone_ = false;  // the client closed its end
  std::chrono::steady_clock::time_point last_write_{};
};

}  // namespace spanvault::ipc
