// The SigV4 signer against AWS's published test vectors (the "aws-sig-v4-test-suite":
// AKIDEXAMPLE, us-east-1, service "service", 20150830T123600Z) and the S3 documentation's
// "GET Object" example. No server involved.

#include "s3_sigv4.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "s3_request.hpp"

using namespace tetherd::stores::s3;

namespace {

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
constexpr const char* kDate = "20150830T123600Z";
constexpr const char* kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

SigningInput suite_request(std::string method) {
  SigningInput input;
  input.method = std::move(method);
  input.canonical_uri = "/";
  input.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}};
  input.payload_hash = kEmptyHash;
  return input;
}

std::string authorization(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         signed_headers + ", Signature=" + signature;
}

}  // namespace

TEST_CASE("sigv4: get-vanilla") {
  auto signed_request = sign_v4(suite_request("GET"), kSuite, "us-east-1", "service", kDate);
  CHECK(signed_request.canonical_request ==
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
            std::string(kEmptyHash));
  CHECK(signed_request.string_to_sign ==
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  CHECK(signed_request.authorization ==
        authorization("host;x-amz-date",
                      "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"));
}

TEST_CASE("sigv4: get-vanilla-query-order-key-case sorts the query") {
  auto input = suite_request("GET");
  input.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  auto signed_request = sign_v4(input, kSuite, "us-east-1", "service", kDate);
  CHECK(signed_request.canonical_request.find("\nParam1=value1&Param2=value2\n") !=
        std::string::npos);
  CHECK(signed_request.string_to_sign.substr(signed_request.string_to_sign.rfind('\n') + 1) ==
        "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
  CHECK(signed_request.signature ==
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST_CASE("sigv4: post-vanilla and post-header-value-case") {
  CHECK(sign_v4(suite_request("POST"), kSuite, "us-east-1", "service", kDate).authorization ==
        authorization("host;x-amz-date",
                      "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"));
  auto input = suite_request("POST");
  input.headers.emplace_back("My-Header1", "VALUE1");
  CHECK(sign_v4(input, kSuite, "us-east-1", "service", kDate).authorization ==
        authorization("host;my-header1;x-amz-date",
                      "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"));
}

TEST_CASE("sigv4: post-x-www-form-urlencoded signs the body's hash") {
  auto input = suite_request("POST");
  input.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  input.payload_hash = sha256_hex("Param1=value1");
  CHECK(input.payload_hash == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  auto signed_request = sign_v4(input, kSuite, "us-east-1", "service", kDate);
  CHECK(signed_request.string_to_sign.substr(signed_request.string_to_sign.rfind('\n') + 1) ==
        "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
  CHECK(signed_request.authorization ==
        authorization("content-type;host;x-amz-date",
                      "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"));
}

TEST_CASE("sigv4: the S3 documentation's GET Object example (Range, payload hash header)") {
  SigningInput input;
  input.method = "GET";
  input.canonical_uri = "/test.txt";
  input.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                   {"Range", "bytes=0-9"},
                   {"x-amz-content-sha256", kEmptyHash},
                   {"x-amz-date", "20130524T000000Z"}};
  input.payload_hash = kEmptyHash;
  const Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
  auto signed_request = sign_v4(input, credentials, "us-east-1", "s3", "20130524T000000Z");
  CHECK(signed_request.string_to_sign ==
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  CHECK(signed_request.signed_headers == "host;range;x-amz-content-sha256;x-amz-date");
  CHECK(signed_request.signature ==
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_CASE("sigv4: post-sts-header-before signs the session token header") {
  const std::string token =
      "AQoDYXdzEPT//////////"
      "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuw"
      "thAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9H"
      "FvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
      "scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
  auto input = suite_request("POST");
  input.headers.emplace_back("X-Amz-Security-Token", token);
  auto signed_request = sign_v4(input, kSuite, "us-east-1", "service", kDate);
  CHECK(signed_request.authorization ==
        authorization("host;x-amz-date;x-amz-security-token",
                      "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"));
}

TEST_CASE("sigv4: requests with temporary credentials carry the token, signed") {
  Endpoint endpoint;
  endpoint.scheme = "http";
  endpoint.host = "127.0.0.1:7480";
  endpoint.bucket = "photos";
  endpoint.region = "us-east-1";
  endpoint.credentials = {"AKIDEXAMPLE", "secret", "the-token"};
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1440938160));
  const auto with_token = make_request(endpoint, "GET", "a/b", {}, {}, "", now);
  const auto token_header =
      std::find_if(with_token.headers.begin(), with_token.headers.end(),
                   [](const auto& header) { return header.first == "x-amz-security-token"; });
  REQUIRE(token_header != with_token.headers.end());
  CHECK(token_header->second == "the-token");
  const auto& authorization = with_token.headers.back();
  REQUIRE(authorization.first == "Authorization");
  CHECK(authorization.second.find(
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,") !=
        std::string::npos);

  endpoint.credentials.session_token.clear();
  const auto without = make_request(endpoint, "GET", "a/b", {}, {}, "", now);
  CHECK(std::none_of(without.headers.begin(), without.headers.end(),
                     [](const auto& header) { return header.first == "x-amz-security-token"; }));
  CHECK(without.headers.back().second.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date,") !=
        std::string::npos);
}

TEST_CASE("sigv4: encoding, digests, dates") {
  CHECK(uri_encode("a b/c+d%é~", true) == "a%20b/c%2Bd%25%C3%A9~");
  CHECK(uri_encode("a/b", false) == "a%2Fb");
  CHECK(canonical_query({{"prefix", "a/b c"}, {"list-type", "2"}, {"delimiter", "/"}}) ==
        "delimiter=%2F&list-type=2&prefix=a%2Fb%20c");
  CHECK(canonical_query({{"uploads", ""}}) == "uploads=");
  CHECK(md5_base64("") == "1B2M2Y8AsgTpgAmY7PhCfg==");
  CHECK(sha256_hex("") == kEmptyHash);
  CHECK(amz_date(std::chrono::system_clock::time_point(std::chrono::seconds(1440938160))) == kDate);
}
