// spanvault — the command-line client: send, status, reload, check, buffer
// dump/salvage, rejected, dead-letter, prices; traces, trace, session, tail,
// export, replay (cli/trace_commands.h). The commands are in cli/cmd_*.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/trace_commands.h"

using namespace spanvault;
using namespace spanvault::cli;

int main(int argc, char** argv) {
  CLI::App app{"spanvault: the command-line client of spanvaultd"};
  app.set_version_flag("--version", std::string("spanvault ") + SPANVAULT_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Globals g;
  app.add_option("-c,--config", g.config_file, "the daemon's TOML config (to find its sockets and state)");
  app.add_option("--state-dir", g.state_dir, "the daemon's state dir");
  app.add_option("--runtime-dir", g.runtime_dir, "the daemon's runtime dir (where its sockets are)");
  app.add_option("--socket", g.socket, "the stream socket path (overrides --runtime-dir)");

  std::string file;
  bool sync = false, as_json = false;
  size_t limit = 100;
  auto* send = app.add_subcommand("send", "send NDJSON spans (stdin or FILE) over the stream socket");
  send->add_option("file", file, "NDJSON file (default: stdin)");
  send->add_flag("--sync", sync, "wait until everything is durable; print accepted/rejected; exit 1 on rejects");
  auto* status = app.add_subcommand("status", "show the running daemon's counters and buffer");
  status->add_flag("--json", as_json, "print JSON");
  auto* reload_config = app.add_subcommand(
      "reload", "make the running daemon re-read its configuration (same as SIGHUP) and print what changed");
  reload_config->add_flag("--json", as_json, "print the report as JSON");
  auto* buf = app.add_subcommand("buffer", "inspect the buffer (works with the daemon stopped)");
  buf->require_subcommand(1);
  auto* dump = buf->add_subcommand("dump", "print the buffered spans as NDJSON");
  std::string salvage_dir;
  auto* salvage = buf->add_subcommand("salvage",
                                      "re-queue every span still readable in a damaged store (one from elsewhere, or a "
                                      "moved-aside buffer.corrupt-* the daemon kept)");
  salvage->add_option("dir", salvage_dir, "the moved-aside store")->required();
  auto* rejected = app.add_subcommand("rejected", "list quarantined (refused) payloads, newest first");
  rejected->add_flag("--json", as_json, "one JSON object per line");
  rejected->add_option("-n,--limit", limit, "at most this many (default 100)");

  CheckArgs check_args;
  auto* check = app.add_subcommand("check", "exit 0 when the daemon is healthy, else 1 with a one-line reason");
  check->add_option("--max-pending-age", check_args.max_pending_age_s,
                    "seconds of backlog a failing upstream may hold before it counts as unhealthy (default 300)");
  check->add_option("--max-fill", check_args.max_fill, "buffer fill (0..1) that counts as unhealthy (default 0.9)");
  DeadLetterArgs dl;
  auto* dead = app.add_subcommand("dead-letter", "spans an upstream refused for good");
  dead->require_subcommand(1);
  auto* dl_list = dead->add_subcommand("list", "list them, newest first (works with the daemon stopped)");
  dl_list->add_flag("--json", dl.as_json, "one JSON object per line, with the span");
  dl_list->add_option("-n,--limit", dl.limit, "at most this many (default 100)");
  dl_list->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  auto* dl_replay = dead->add_subcommand(
      "replay", "queue them again (all upstreams get them again; backends deduplicate by span id)");
  dl_replay->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  dl_replay->add_option("ids", dl.ids, "only these ids (default: all)");
  auto* dl_purge = dead->add_subcommand("purge", "delete them");
  dl_purge->add_option("--upstream", dl.upstream, "only those refused by this upstream");
  dl_purge->add_option("ids", dl.ids, "only these ids (default: all)");

  auto* prices = app.add_subcommand("prices", "model prices and costs");
  prices->require_subcommand(1);
  QuoteArgs q;
  std::string list_provider;
  auto* quote = prices->add_subcommand("quote", "what a request costs (no daemon needed)");
  quote->add_option("--model", q.model, "model name")->required();
  quote->add_option("--provider", q.provider, "provider (openai, anthropic, aws.bedrock, ...)");
  quote->add_option("--input-tokens", q.input, "input tokens, including cached ones");
  quote->add_option("--output-tokens", q.output, "output tokens, including reasoning");
  quote->add_option("--cache-read-tokens", q.cache_read, "cached input tokens read");
  quote->add_option("--cache-write-tokens", q.cache_write, "input tokens written to the cache");
  quote->add_option("--reasoning-tokens", q.reasoning, "reasoning tokens");
  quote->add_option("--at", q.at, "when the request started (RFC 3339; default now)");
  quote->add_option("--price-table", q.tables, "extra price table (before the built-in one); repeatable");
  quote->add_flag("--json", q.as_json, "print JSON");
  auto* list = prices->add_subcommand("list", "list priced models (no daemon needed)");
  list->add_option("--provider", list_provider, "only this provider");
  list->add_option("--price-table", q.tables, "extra price table (before the built-in one); repeatable");
  list->add_flag("--json", as_json, "one JSON object per line");
  auto* unpriced = prices->add_subcommand("unpriced", "models the running daemon saw without a price");
  unpriced->add_flag("--json", as_json, "print JSON");
  auto* reload = prices->add_subcommand(
      "reload", "make the running daemon re-read its price tables (SIGHUP and `spanvault reload` do it too)");

  TraceCommands trace_commands;  // traces, trace, session, tail, export, replay
  trace_commands.Add(app);

  CLI11_PARSE(app, argc, argv);
  if (auto code = trace_commands.Run(g)) return *code;
  if (quote->parsed()) return CmdQuote(q);
  if (list->parsed()) return CmdPricesList(q.tables, list_provider, as_json);
  if (unpriced->parsed()) {
    auto a = Control(g, R"({"$prices":"unpriced"})");
    if (!a) return Die(a.error().message);
    if (as_json) {
      std::printf("%s\n", (*a)["models"].dump(2).c_str());
      return 0;
    }
    for (const auto& m : (*a)["models"]) {
      std::string name = m.value("model", std::string());
      std::printf("%10llu  %s\n", m.value("spans", 0ull), name.empty() ? "(no model)" : name.c_str());
    }
    return 0;
  }
  if (reload->parsed()) {
    auto a = Control(g, R"({"$prices":"reload"})");
    if (!a) return Die(a.error().message);
    if (!a->value("ok", false))
      return Die("reload failed; the previous tables stay: " + a->value("error", std::string()), 1);
    std::printf("price tables reloaded\n");
    return 0;
  }
  if (send->parsed()) return CmdSend(g, file, sync);
  if (status->parsed()) return CmdStatus(g, as_json);
  if (reload_config->parsed()) return CmdReload(g, as_json);
  if (dump->parsed()) return CmdDump(g);
  if (salvage->parsed()) return CmdSalvage(g, salvage_dir);
  if (rejected->parsed()) return CmdRejected(g, as_json, limit);
  if (check->parsed()) return CmdCheck(g, check_args);
  if (dl_list->parsed()) return CmdDeadLetterList(g, dl);
  if (dl_replay->parsed()) return CmdDeadLetterChange(g, "replay", dl);
  if (dl_purge->parsed()) return CmdDeadLetterChange(g, "purge", dl);
  return 2;
}
