// SPDX-License-Identifier: Apache-2.0

#include "http/listen_address.h"

#include <doctest/doctest.h>

using namespace cpprof::internal;

TEST_CASE("ParseListenAddress accepts IPv4, bracketed IPv6, localhost and an empty host") {
  ListenAddress a;
  REQUIRE(ParseListenAddress("127.0.0.1:6060", &a).ok());
  CHECK(a.family == AF_INET);
  CHECK(a.port == 6060);
  CHECK(a.loopback);
  REQUIRE(ParseListenAddress("[::1]:0", &a).ok());
  CHECK(a.family == AF_INET6);
  CHECK(a.loopback);
  REQUIRE(ParseListenAddress("localhost:1", &a).ok());
  CHECK(a.loopback);
  REQUIRE(ParseListenAddress(":8080", &a).ok());
  CHECK_FALSE(a.loopback);
  REQUIRE(ParseListenAddress("10.1.2.3:80", &a).ok());
  CHECK_FALSE(a.loopback);
  REQUIRE(ParseListenAddress("[::]:80", &a).ok());
  CHECK_FALSE(a.loopback);
  REQUIRE(ParseListenAddress("127.8.9.10:80", &a).ok());
  CHECK(a.loopback);
}

TEST_CASE("ParseListenAddress refuses bad ports, bare IPv6 and host names") {
  ListenAddress a;
  CHECK_FALSE(ParseListenAddress("127.0.0.1", &a).ok());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:65536", &a).ok());
  CHECK_FALSE(ParseListenAddress("127.0.0.1:-1", &a).ok());
  CHECK_FALSE(ParseListenAddress("::1:80", &a).ok());
  CHECK_FALSE(ParseListenAddress("[::1]80", &a).ok());
  CHECK_FALSE(ParseListenAddress("example.com:80", &a).ok());
}
