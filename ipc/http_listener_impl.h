// ipc/ (private) — the HTTP listener in two halves: the listener itself
// (accept, the connection cap, stop, binding: http_listener.cc) and one
// HttpSession per connection (reading requests, the policy, ingest, answers,
// the query API: http_session.cc; streamed answers: http_stream.cc). This
// header is what the two share.
#pragma once

#include <sys/socket.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <memory>
#include <string>

#include "common/log.h"
#include "ipc/http_listener.h"
#include "ipc/http_policy.h"
#include "ipc/session_registry.h"

namespace spanvault::ipc {

class HttpSession;

class HttpListener::Impl : public std::enable_shared_from_this<HttpListener::Impl> {
 public:
  Impl(boost::asio::io_context& ioc, int fd, HttpOptions options, span::Limits limits, SubmitFn submit,
       Counters& counters);

  // Counts a refused request, and logs it when a line is due (RefusalLog).
  void NoteRefusal(const HttpVerdict& v, const std::string& peer) {
    counters_.refused_by_policy[static_cast<size_t>(v.refusal)].fetch_add(1, std::memory_order_relaxed);
    if (auto n = refusal_log_.Note(v.refusal, std::chrono::steady_clock::now())) {
      LOG_WARN("http request refused (at most one line per reason every 10 s)", {{"reason", HttpRefusalName(v.refusal)},
                                                                                 {"status", v.status},
                                                                                 {"peer", peer},
                                                                                 {"detail", v.reason},
                                                                                 {"refused_since_last_line", *n}});
    }
  }

  void Start() { DoAccept(); }
  void Stop();

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  HttpOptions options_;
  SubmitFn submit_;
  TransportCounters& counters_;
  InflightBudget& budget_;
  IngestContext ctx_;
  HttpPolicy policy_;
  RefusalLog refusal_log_;
  SessionRegistry<HttpSession> sessions_;

 private:
  void DoAccept();
  void OnAccept(boost::system::error_code ec, boost::asio::ip::tcp::socket socket);
};

// A session as the listener drives it (http_session.cc): make, add to
// sessions_, run; StopReading runs on the session's strand (executor()).
std::shared_ptr<HttpSession> MakeHttpSession(boost::asio::ip::tcp::socket&& socket,
                                             std::shared_ptr<HttpListener::Impl> owner);
void RunHttpSession(HttpSession& s);
boost::asio::any_io_executor HttpSessionExecutor(HttpSession& s);
void StopHttpSessionReading(HttpSession& s);

}  // namespace spanvault::ipc
