// The REST routes of `pdm serve` (docs/serving.md): probes, single and batch prediction from
// feature values, the model listing and reload. Every error is JSON:
// {"error": ..., "details": [{"field": ..., "reason": ..., "value": ...}]}.
#ifndef PDM_SERVING_API_H_
#define PDM_SERVING_API_H_

#include <string>

#include "serving/http_server.h"
#include "serving/model_manager.h"

namespace pdm::serving {

struct ApiOptions {
  size_t max_batch = 1000;
  bool allow_unknown_fields = false;
  std::string token;  // bearer token of mutating routes; empty: they are refused
};

class Api {
 public:
  Api(ModelManager* models, ApiOptions options) : models_(models), options_(std::move(options)) {}
  HttpResponse Handle(const HttpRequest& request);

 private:
  HttpResponse Predict(const HttpRequest& request, bool batch);
  HttpResponse Models();
  HttpResponse Reload(const HttpRequest& request, const std::string& name);

  ModelManager* models_;
  ApiOptions options_;
};

}  // namespace pdm::serving

#endif  // PDM_SERVING_API_H_
