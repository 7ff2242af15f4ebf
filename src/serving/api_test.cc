#include "serving/api.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "nlohmann/json.hpp"

namespace pdm::serving {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::set<std::pair<std::string, std::string>> ServedRoutes() {
  std::set<std::pair<std::string, std::string>> routes;
  for (const RouteSpec& r : Api::Routes()) {
    std::string method(r.method);
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    routes.emplace(method, std::string(r.pattern));
  }
  return routes;
}

TEST(OpenApiTest, DescribesExactlyTheServedRoutes) {
  const json doc = json::parse(Api::OpenApiDocument());
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  EXPECT_NE(doc["info"]["version"], "PDM_VERSION");
  std::set<std::pair<std::string, std::string>> described;
  for (const auto& [path, operations] : doc["paths"].items()) {
    for (const auto& [method, operation] : operations.items()) {
      described.emplace(method, path);
      EXPECT_TRUE(operation.contains("responses")) << method << " " << path;
      // Every {param} of the path is declared as a path parameter.
      for (size_t open = path.find('{'); open != std::string::npos;
           open = path.find('{', open + 1)) {
        const std::string param = path.substr(open + 1, path.find('}', open) - open - 1);
        bool declared = false;
        for (const json& p : operation.value("parameters", json::array())) {
          declared |= p["in"] == "path" && p["name"] == param;
        }
        EXPECT_TRUE(declared) << method << " " << path << ": {" << param << "} undeclared";
      }
    }
  }
  const auto served = ServedRoutes();
  for (const auto& route : served) {
    EXPECT_TRUE(described.contains(route)) << route.first << " " << route.second << " undocumented";
  }
  for (const auto& route : described) {
    EXPECT_TRUE(served.contains(route)) << route.first << " " << route.second << " not served";
  }
  // Every $ref resolves.
  const std::string text(Api::OpenApiDocument());
  for (size_t at = text.find("\"$ref\": \""); at != std::string::npos;
       at = text.find("\"$ref\": \"", at + 1)) {
    const size_t begin = at + 9;
    const std::string ref = text.substr(begin, text.find('"', begin) - begin);
    ASSERT_TRUE(ref.starts_with("#/")) << ref;
    EXPECT_TRUE(doc.contains(json::json_pointer(ref.substr(1)))) << ref;
  }
}

// An Api whose routes under test never reach the model manager's registry.
class ApiRoutingTest : public ::testing::Test {
 protected:
  ApiRoutingTest()
      : models_(nullptr, "fleet", "production", &metrics_), api_(&models_, &metrics_, Options()) {}

  static ApiOptions Options() {
    ApiOptions o;
    o.cors.origins = {"https://ops.example.com"};
    return o;
  }

  HttpResponse Call(const std::string& method, const std::string& path,
                    const std::string& origin = "", const std::string& preflight = "") {
    HttpRequest r;
    r.method = method;
    r.target = r.path = path;
    r.origin = origin;
    r.access_control_request_method = preflight;
    return api_.Handle(r);
  }

  static std::string Header(const HttpResponse& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  ServerMetrics metrics_;
  ModelManager models_;
  Api api_;
};

TEST_F(ApiRoutingTest, UnknownRoutesWrongMethodsAndParameters) {
  EXPECT_EQ(Call("GET", "/livez").status, 200);
  EXPECT_EQ(Call("GET", "/nope").status, 404);
  EXPECT_EQ(Call("GET", "/livez/").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/models//reload").status, 404);  // an empty {name}
  const HttpResponse wrong = Call("DELETE", "/api/v1/predict");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(Header(wrong, "Allow"), "POST, OPTIONS");
  EXPECT_THAT(json::parse(wrong.body)["error"].get<std::string>(), HasSubstr("not allowed"));
  EXPECT_EQ(Call("GET", "/v2/models/fleet/versions/3/infer").status, 405);
}

TEST_F(ApiRoutingTest, CorsPreflightAndHeaders) {
  const HttpResponse allowed =
      Call("OPTIONS", "/api/v1/predict", "https://ops.example.com", "POST");
  EXPECT_EQ(allowed.status, 204);
  EXPECT_EQ(Header(allowed, "Access-Control-Allow-Origin"), "https://ops.example.com");
  EXPECT_THAT(Header(allowed, "Access-Control-Allow-Methods"), HasSubstr("POST"));
  EXPECT_THAT(Header(allowed, "Access-Control-Allow-Headers"), HasSubstr("Content-Type"));
  EXPECT_EQ(Header(allowed, "Access-Control-Max-Age"), "600");

  const HttpResponse refused = Call("OPTIONS", "/api/v1/predict", "https://evil.example", "POST");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(Header(refused, "Access-Control-Allow-Origin"), "");
  EXPECT_THAT(refused.body, HasSubstr("https://evil.example"));

  // OPTIONS without a preflight lists the methods; an unknown path is still 404.
  const HttpResponse plain = Call("OPTIONS", "/livez");
  EXPECT_EQ(plain.status, 204);
  EXPECT_EQ(Header(plain, "Allow"), "GET, OPTIONS");
  EXPECT_EQ(Call("OPTIONS", "/nope", "https://ops.example.com", "GET").status, 404);

  EXPECT_EQ(Header(Call("GET", "/livez", "https://ops.example.com"), "Access-Control-Allow-Origin"),
            "https://ops.example.com");
  EXPECT_EQ(Header(Call("GET", "/livez", "https://evil.example"), "Access-Control-Allow-Origin"),
            "");
}

TEST_F(ApiRoutingTest, RequestsAreCountedByRoutePatternNotByPath) {
  Call("GET", "/livez");
  Call("GET", "/livez");
  for (int i = 0; i < 5; ++i) Call("GET", "/random/" + std::to_string(i));
  Call("POST", "/api/v1/models/any-name/reload");  // 403: no token configured
  const std::string text = metrics_.Render();
  EXPECT_THAT(text,
              HasSubstr(R"(pdm_http_requests_total{code="200",method="GET",route="/livez"} 2)"));
  EXPECT_THAT(text,
              HasSubstr(R"(pdm_http_requests_total{code="404",method="GET",route="unmatched"} 5)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(pdm_http_requests_total{code="403",method="POST",route="/api/v1/models/{name}/reload"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(pdm_http_request_duration_seconds_count{route="/livez"} 2)"));
  EXPECT_THAT(text, Not(HasSubstr("/random/")));
  EXPECT_THAT(text, HasSubstr(R"(pdm_model_state{name="fleet",state="unloaded"} 1)"));
}

TEST(ServerMetricsTest, ValidationReasonsHaveBoundedLabels) {
  EXPECT_EQ(ServerMetrics::ReasonLabel("out of range [0, 100]"), "out_of_range");
  EXPECT_EQ(ServerMetrics::ReasonLabel("out of range (beyond float32)"), "out_of_range");
  EXPECT_EQ(ServerMetrics::ReasonLabel("unknown field"), "unknown_field");
  EXPECT_EQ(ServerMetrics::ReasonLabel("not a number"), "not_a_number");
  EXPECT_EQ(ServerMetrics::ReasonLabel("data has 3 elements; the shape needs 4"), "wrong_shape");
  EXPECT_EQ(ServerMetrics::ReasonLabel("malformed_json"), "malformed_json");
  EXPECT_EQ(ServerMetrics::ReasonLabel("Something Else: 42"), "other");
}

}  // namespace
}  // namespace pdm::serving
