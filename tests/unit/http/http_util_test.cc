// SPDX-License-Identifier: Apache-2.0

#include "http/http_util.h"

#include <doctest/doctest.h>

using namespace cpprof::internal;

TEST_CASE("PercentDecode decodes escapes and, for queries, plus as space") {
  std::string out;
  CHECK(PercentDecode("a%20b%2Fc+d", true, &out));
  CHECK(out == "a b/c d");
  CHECK(PercentDecode("a+b", false, &out));
  CHECK(out == "a+b");
  CHECK(PercentDecode("%e2%82%AC", false, &out));
  CHECK(out == "\xE2\x82\xAC");
}

TEST_CASE("PercentDecode rejects truncated and non-hex escapes") {
  std::string out;
  CHECK_FALSE(PercentDecode("%", false, &out));
  CHECK_FALSE(PercentDecode("ab%4", false, &out));
  CHECK_FALSE(PercentDecode("%zz", false, &out));
}

TEST_CASE("ParseQuery decodes keys and values and bounds the count") {
  std::vector<QueryParam> params;
  REQUIRE(ParseQuery("seconds=5&name=a%26b&flag&&x=", 10, &params));
  REQUIRE(params.size() == 4);
  CHECK(params[0].key == "seconds");
  CHECK(params[0].value == "5");
  CHECK(params[1].value == "a&b");
  CHECK(params[2].key == "flag");
  CHECK(params[2].value == "");
  CHECK(params[3].key == "x");
  CHECK_FALSE(ParseQuery("a=1&b=2&c=3", 2, &params));
  CHECK_FALSE(ParseQuery("a=%g1", 10, &params));
}

TEST_CASE("StripQueryParam removes every token pair, encoded or not") {
  CHECK(StripQueryParam("seconds=5&token=abc&debug=1", "token") == "seconds=5&debug=1");
  CHECK(StripQueryParam("to%6Ben=abc&x=1&token", "token") == "x=1");
  CHECK(StripQueryParam("token=a", "token") == "");
  CHECK(StripQueryParam("tokens=1", "token") == "tokens=1");
}

TEST_CASE("SplitTarget separates path and query and reduces absolute form") {
  std::string path, query;
  SplitTarget("/debug/pprof/heap?debug=1", &path, &query);
  CHECK(path == "/debug/pprof/heap");
  CHECK(query == "debug=1");
  SplitTarget("http://host:6060/debug/pprof/?a=b", &path, &query);
  CHECK(path == "/debug/pprof/");
  CHECK(query == "a=b");
  SplitTarget("/x", &path, &query);
  CHECK(path == "/x");
  CHECK(query.empty());
}

TEST_CASE("HtmlEscape escapes markup characters") {
  CHECK(HtmlEscape("a<b>&\"'") == "a&lt;b&gt;&amp;&#34;&#39;");
}

TEST_CASE("JsonString escapes controls, quotes, script-closing characters and bad UTF-8") {
  CHECK(JsonString("a\"b\\c\n") == "\"a\\\"b\\\\c\\n\"");
  CHECK(JsonString("</script>") == "\"\\u003c/script\\u003e\"");
  CHECK(JsonString(std::string("\x01", 1)) == "\"\\u0001\"");
  CHECK(JsonString("\xE2\x82\xAC") == "\"\xE2\x82\xAC\"");
  CHECK(JsonString("\xFF") == "\"\xEF\xBF\xBD\"");
}

TEST_CASE("FormatNumber prints integers without a fraction") {
  CHECK(FormatNumber(42) == "42");
  CHECK(FormatNumber(0.5) == "0.5");
  CHECK(FormatNumber(1.0 / 0.0) == "0");
}

TEST_CASE("Base64Decode decodes RFC 4648 and rejects junk") {
  std::string out;
  CHECK(Base64Decode("dTpzM2NyZXQ=", &out));
  CHECK(out == "u:s3cret");
  CHECK(Base64Decode("YWI=", &out));
  CHECK(out == "ab");
  CHECK(Base64Decode("", &out));
  CHECK(out.empty());
  CHECK_FALSE(Base64Decode("YWI", &out));
  CHECK_FALSE(Base64Decode("Y=WI", &out));
  CHECK_FALSE(Base64Decode("YW!=", &out));
}

TEST_CASE("ConstantTimeEquals compares content and length") {
  CHECK(ConstantTimeEquals("secret", "secret"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secreT"));
  CHECK_FALSE(ConstantTimeEquals("secret", "secret1"));
  CHECK_FALSE(ConstantTimeEquals("", "x"));
  CHECK(ConstantTimeEquals("", ""));
}

TEST_CASE("Header helpers are case-insensitive") {
  HeaderList headers = {{"content-TYPE", "x"}, {"Connection", "Upgrade, Close"}};
  REQUIRE(FindHeader(headers, "Content-Type") != nullptr);
  CHECK(*FindHeader(headers, "Content-Type") == "x");
  CHECK(FindHeader(headers, "Accept") == nullptr);
  CHECK(HeaderHasToken(*FindHeader(headers, "connection"), "close"));
  CHECK_FALSE(HeaderHasToken("keep-alive", "close"));
}
