// SPDX-License-Identifier: Apache-2.0
//
// Routes that describe the endpoint or serve a registered profile source:
// the HTML index (Go's layout plus cpprof's own cost), index.json for the
// flame-graph page, /stats (Prometheus text or JSON), /cmdline and
// /<name> → Registry → ProfileSource::Collect().
//
// Every name that reaches HTML is escaped (profile names and descriptions
// come from code, but C++ names are full of <, > and &, and a future source
// might echo user input); JSON strings are escaped so they can never close
// a <script> element. Headers follow Go's net/http/pprof exactly: protos are
// application/octet-stream with Content-Disposition, text is
// text/plain; charset=utf-8, and errors go through ServeError().

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/process_metrics.h"
#include "base/read_file.h"
#include "base/self_stats.h"
#include "cpprof/cpprof.h"
#include "http/routes.h"
#include "registry/registry.h"

namespace cpprof {
namespace internal {
namespace {

constexpr size_t kMaxCmdlineBytes = 1 << 20;

// The index page has no script and no style sheet of its own.
constexpr char kIndexCsp[] = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

std::string VersionString() { return CPPROF_VERSION_STRING; }

bool HasParameter(const ProfileSource& source, const char* name) {
  for (const std::string& p : source.parameters()) {
    if (p == name) return true;
  }
  return false;
}

// "name?debug=1&token=..." with every part escaped for an HTML attribute.
std::string Link(const std::string& name, const std::string& query, const RouteContext& ctx) {
  std::string q = query;
  if (!ctx.link_query.empty()) q += (q.empty() ? "" : "&") + ctx.link_query;
  // Relative links, so the page works under any prefix. A name with ':'
  // would read as a URL scheme; "./" prevents that.
  return HtmlEscape("./" + name + (q.empty() ? "" : "?" + q));
}

std::string StatsJsonObject(const std::vector<StatLine>& stats) {
  std::string out = "{";
  for (size_t i = 0; i < stats.size(); ++i) {
    if (i) out += ",";
    out += JsonString(stats[i].name) + ":" + FormatNumber(stats[i].value);
  }
  out += "}";
  return out;
}

void SetText(Response* response, std::string body) {
  response->status = 200;
  SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
  response->body = std::move(body);
}

}  // namespace

void ServeIndex(const RouteContext& ctx, Response* response) {
  std::vector<ProfileSource*> sources = Registry::Global().List();
  std::string h;
  h += "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>";
  h += HtmlEscape(ctx.prefix + "/");
  h += "</title>\n</head>\n<body>\n";
  h += HtmlEscape(ctx.prefix + "/");
  h += "\n<br>\n<p>Set debug=1 as a query parameter to export in legacy text format "
       "(for the profiles that support it)</p>\n<br>\nTypes of profiles available:\n"
       "<table>\n<thead><td>Count</td><td>Profile</td></thead>\n";
  for (ProfileSource* s : sources) {
    std::string name = s->name();
    int64_t count = s->count();
    h += "<tr><td>";
    if (count >= 0) h += std::to_string(count);
    h += "</td><td><a href=\"" + Link(name, HasParameter(*s, "debug") ? "debug=1" : "", ctx) + "\">" +
         HtmlEscape(name) + "</a></td></tr>\n";
  }
  for (const char* fixed : {"cmdline", "symbol", "stats", "metrics"}) {
    h += "<tr><td></td><td><a href=\"" + Link(fixed, "", ctx) + "\">" + fixed + "</a></td></tr>\n";
  }
  h += "</table>\n<p><a href=\"" + Link("ui/", "", ctx) +
       "\">Flame graph</a>: an interactive view of any profile above.</p>\n";
  h += "<br>\n<p>\nProfile Descriptions:\n<ul>\n";
  for (ProfileSource* s : sources) {
    h += "<li><div class=profile-name>" + HtmlEscape(s->name()) + ": </div> " + HtmlEscape(s->description()) +
         "</li>\n";
  }
  h += "<li><div class=profile-name>cmdline: </div> The command line invocation of the current program</li>\n"
       "<li><div class=profile-name>symbol: </div> Looks up the program counters listed in the request, "
       "responding with a table mapping program counters to function names</li>\n"
       "<li><div class=profile-name>stats: </div> What cpprof itself costs (also ?format=json)</li>\n"
       "<li><div class=profile-name>metrics: </div> Prometheus metrics: the process collector's "
       "(CPU, memory, descriptors, threads) and cpprof's own</li>\n"
       "</ul>\n</p>\n";
  h += "<h2>cpprof's own cost</h2>\n<table>\n<thead><td>Value</td><td>Name</td><td>Meaning</td></thead>\n";
  for (const StatLine& line : CollectSelfStats()) {
    h += "<tr><td>" + HtmlEscape(FormatNumber(line.value)) + "</td><td>" + HtmlEscape(line.name) + "</td><td>" +
         HtmlEscape(line.help) + "</td></tr>\n";
  }
  h += "</table>\n<p>cpprof " + HtmlEscape(VersionString()) + "</p>\n</body>\n</html>\n";
  response->status = 200;
  SetHeader(response, "Content-Type", "text/html; charset=utf-8");
  SetHeader(response, "Content-Security-Policy", kIndexCsp);
  response->body = std::move(h);
}

void ServeIndexJson(const RouteContext& ctx, Response* response) {
  std::string j = "{\"version\":" + JsonString(VersionString()) + ",\"profiles\":[";
  bool first = true;
  for (ProfileSource* s : Registry::Global().List()) {
    if (!first) j += ",";
    first = false;
    std::string name = s->name();
    j += "{\"name\":" + JsonString(name) + ",\"path\":" + JsonString(ctx.prefix + "/" + name) +
         ",\"description\":" + JsonString(s->description()) + ",\"params\":[";
    std::vector<std::string> params = s->parameters();
    for (size_t i = 0; i < params.size(); ++i) j += (i ? "," : "") + JsonString(params[i]);
    j += "]";
    if (s->seconds_is_delta()) j += ",\"seconds_delta\":true";
    int64_t count = s->count();
    if (count >= 0) j += ",\"count\":" + std::to_string(count);
    j += "}";
  }
  j += "],\"stats\":" + StatsJsonObject(CollectSelfStats()) + "}\n";
  response->status = 200;
  SetHeader(response, "Content-Type", "application/json");
  SetHeader(response, "Cache-Control", "no-cache");
  response->body = std::move(j);
}

namespace {

// One metric in the Prometheus text exposition format 0.0.4.
void AppendMetric(std::string* out, const std::string& name, std::string_view help, bool counter, double value) {
  *out += "# HELP " + name + " ";
  for (char c : help) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
  *out += "\n# TYPE " + name + (counter ? " counter\n" : " gauge\n");
  *out += name + " " + FormatNumber(value) + "\n";
}

// cpprof's own figures; names get a cpprof_ prefix so they do not collide
// with the host's own metrics when scraped.
std::string PrometheusText(const std::vector<StatLine>& stats) {
  std::string out;
  for (const StatLine& s : stats) {
    const std::string name = "cpprof_" + s.name;
    const bool counter = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    AppendMetric(&out, name, s.help, counter, s.value);
  }
  return out;
}

}  // namespace

void ServeStats(const RouteContext& ctx, Response* response) {
  std::vector<StatLine> stats = CollectSelfStats();
  std::string format;
  for (const QueryParam& p : ctx.params) {
    if (p.key == "format") format = p.value;
  }
  if (format == "json") {
    response->status = 200;
    SetHeader(response, "Content-Type", "application/json");
    response->body = StatsJsonObject(stats) + "\n";
    return;
  }
  if (!format.empty() && format != "text" && format != "prometheus") {
    ServeError(response, 400, "invalid value for \"format\" - must be text or json");
    return;
  }
  std::string out = PrometheusText(stats);
  response->status = 200;
  SetHeader(response, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response->body = std::move(out);
}

void ServeMetrics(const RouteContext& ctx, Response* response) {
  if (!ctx.params.empty()) {
    ServeError(response, 400, "unknown parameter \"" + ctx.params[0].key + "\": /metrics takes none");
    return;
  }
  // Prometheus' process collector, then cpprof's own figures.
  std::string out;
  for (const ProcessMetric& m : ReadProcessMetrics()) AppendMetric(&out, m.name, m.help, m.counter, m.value);
  out += PrometheusText(CollectSelfStats());
  response->status = 200;
  SetHeader(response, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response->body = std::move(out);
}

void ServeCmdline(const RouteContext& ctx, Response* response) {
  std::string data;
  if (!ReadFileToString("/proc/self/cmdline", kMaxCmdlineBytes, &data)) {
    ServeError(response, 500, std::string("Could not read /proc/self/cmdline: ") + strerror(errno));
    return;
  }
  // The kernel ends every argument with NUL; Go joins them with NUL.
  if (!data.empty() && data.back() == '\0') data.pop_back();
  SetText(response, std::move(data));
}

void ServeProfile(const RouteContext& ctx, Response* response) {
  const std::string& name = ctx.subpath;
  ProfileSource* source = name.find('/') == std::string::npos ? Registry::Global().Find(name) : nullptr;
  if (source == nullptr) {
    ServeError(response, 404, "Unknown profile: " + name);
    return;
  }
  ProfileRequest req;
  for (const QueryParam& p : ctx.params) req.params[p.key] = p.value;  // the last value wins
  req.limits = ctx.config->limits;
  req.cancelled = ctx.cancelled;
  ProfileResponse r = source->Collect(req);
  if (r.status != 200) {
    ServeError(response, r.status == 0 ? 500 : r.status, r.body);
    for (auto& h : r.extra_headers) SetHeader(response, h.first, h.second);
    return;
  }
  response->status = 200;
  if (r.is_proto) {
    std::string filename = r.filename.empty() ? name : r.filename;
    // The name is one path segment from our own registry; quotes and
    // control characters are dropped all the same.
    std::string safe;
    for (char c : filename) {
      if (static_cast<unsigned char>(c) >= 0x20 && c != '"' && c != '\\' && c != 0x7F) safe.push_back(c);
    }
    SetHeader(response, "Content-Type", "application/octet-stream");
    SetHeader(response, "Content-Disposition", "attachment; filename=\"" + safe + "\"");
  } else {
    SetHeader(response, "Content-Type", "text/plain; charset=utf-8");
  }
  for (auto& h : r.extra_headers) SetHeader(response, h.first, h.second);
  response->body = std::move(r.body);
}

}  // namespace internal
}  // namespace cpprof
