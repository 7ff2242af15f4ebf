// The OpenAPI 3 document of every route (GET /openapi.json). A test checks that it describes
// exactly the routes Api::Routes() serves. "PDM_VERSION" is replaced by the running version.
#include <string>

#include "core/build_info.h"
#include "serving/api.h"

namespace pdm::serving {
namespace {

constexpr std::string_view kDocument = R"openapi({
 "openapi": "3.0.3",
 "info": {
  "title": "pdm inference server",
  "version": "PDM_VERSION",
  "description": "Failure-risk scoring of a registered pdm model (docs/serving.md). Every error body is {\"error\": ..., \"details\": [{\"field\", \"reason\", \"value\"}]}."
 },
 "components": {
  "responses": {
   "BadJson": {
    "description": "Malformed JSON or nesting too deep",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NotJson": {
    "description": "Content-Type is not application/json",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "TooLarge": {
    "description": "Body (or batch) too large",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "FieldErrors": {
    "description": "Field errors: missing, unknown, non-numeric, non-finite or out-of-range values",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NotMonitored": {
    "description": "The served model has no reference profile, or drift monitoring is off",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NoModel": {
    "description": "No model loaded",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "NotServed": {
    "description": "Model or version not served",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  },
  "securitySchemes": {
   "bearer": {
    "type": "http",
    "scheme": "bearer",
    "description": "The token of PDM_SERVE_TOKEN (or the config's token)"
   }
  },
  "schemas": {
   "DriftReport": {
    "type": "object",
    "required": [
     "model",
     "version",
     "evaluations",
     "window",
     "dataset_drift",
     "features"
    ],
    "properties": {
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "evaluations": {
      "type": "integer"
     },
     "evaluated_at": {
      "description": "Data time of the latest evaluation"
     },
     "window": {
      "type": "object",
      "properties": {
       "span": {
        "type": "string"
       },
       "rows": {
        "type": "integer"
       },
       "sampled_rows": {
        "type": "integer",
        "description": "of rows, those counted into the histograms (above sample_above rows an hour, a weighted sample)"
       },
       "sample_above": {
        "type": "integer"
       },
       "buckets": {
        "type": "integer"
       }
      }
     },
     "data_quality": {
      "type": "object",
      "description": "Readings refused in the window, in all and per input field (most refused first)",
      "properties": {
       "readings": {
        "type": "integer"
       },
       "refused": {
        "type": "integer"
       },
       "refusal_share": {
        "type": "number"
       },
       "thresholds": {
        "type": "object"
       },
       "fields": {
        "type": "array",
        "items": {
         "type": "object",
         "properties": {
          "field": {
           "type": "string"
          },
          "refused": {
           "type": "integer"
          },
          "share": {
           "type": "number"
          },
          "status": {
           "type": "string",
           "enum": [
            "ok",
            "warning",
            "drift"
           ]
          }
         }
        }
       }
      }
     },
     "regimes": {
      "type": "object",
      "description": "With operating regimes: the window's rows per regime, which the reference is mixed in",
      "properties": {
       "feature": {
        "type": "string"
       },
       "names": {
        "type": "array",
        "description": "each regime's centre in the settings' units",
        "items": {
         "type": "string"
        }
       },
       "window_rows": {
        "type": "array",
        "items": {
         "type": "integer"
        }
       },
       "unknown_rows": {
        "type": "integer"
       }
      }
     },
     "every": {
      "type": "string"
     },
     "warming_up": {
      "type": "boolean"
     },
     "dataset_drift": {
      "type": "boolean"
     },
     "features_in_drift": {
      "type": "integer"
     },
     "drifted_share": {
      "type": "number"
     },
     "thresholds": {
      "type": "object"
     },
     "features": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/ColumnDrift"
      }
     },
     "score": {
      "$ref": "#/components/schemas/ColumnDrift"
     }
    }
   },
   "Thresholds": {
    "type": "object",
    "description": "Thresholds of one statistic on one window (PSI, or the absolute median shift): calibrated on the training data's own windows, or the fixed floors",
    "properties": {
     "warning": {
      "type": "number"
     },
     "drift": {
      "type": "number"
     },
     "source": {
      "type": "string",
      "enum": [
       "calibrated",
       "fixed"
      ]
     }
    }
   },
   "ColumnDrift": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "status": {
      "type": "string",
      "enum": [
       "ok",
       "warning",
       "drift",
       "not_monitored"
      ]
     },
     "kind": {
      "type": "string",
      "nullable": true,
      "enum": [
       "current",
       "window",
       "event_count",
       "clock",
       null
      ]
     },
     "source": {
      "type": "string",
      "nullable": true,
      "description": "the input the feature is computed from"
     },
     "thresholds": {
      "$ref": "#/components/schemas/Thresholds"
     },
     "median_shift_thresholds": {
      "$ref": "#/components/schemas/Thresholds"
     },
     "trigger": {
      "type": "string",
      "nullable": true,
      "description": "the statistic whose level is the highest: psi, median_shift, fast_window.psi or fast_window.median_shift"
     },
     "fast_window": {
      "type": "object",
      "description": "the window's newest quarter, when the thresholds are calibrated",
      "properties": {
       "psi": {
        "type": "number"
       },
       "median_shift": {
        "type": "number"
       },
       "rows": {
        "type": "integer"
       },
       "thresholds": {
        "$ref": "#/components/schemas/Thresholds"
       },
       "median_shift_thresholds": {
        "$ref": "#/components/schemas/Thresholds"
       }
      }
     },
     "rows": {
      "type": "integer"
     },
     "statistics": {
      "type": "object",
      "properties": {
       "psi": {
        "type": "number"
       },
       "ks": {
        "type": "number"
       },
       "jensen_shannon": {
        "type": "number"
       },
       "wasserstein": {
        "type": "number"
       },
       "median_shift": {
        "type": "number",
        "nullable": true,
        "description": "where the window's median lies in the reference, minus 0.5 (signed)"
       }
      }
     },
     "missing_share": {
      "type": "number"
     },
     "reference_missing_share": {
      "type": "number"
     },
     "histogram": {
      "type": "object",
      "properties": {
       "upper_edges": {
        "type": "array",
        "items": {
         "type": "number"
        }
       },
       "reference": {
        "type": "array",
        "items": {
         "type": "number"
        }
       },
       "current": {
        "type": "array",
        "items": {
         "type": "number"
        }
       }
      }
     }
    }
   },
   "Performance": {
    "type": "object",
    "properties": {
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "threshold": {
      "type": "number"
     },
     "estimated": {
      "type": "object",
      "nullable": true
     },
     "realised": {
      "type": "object",
      "nullable": true,
      "description": "the served alarms on readings labelled by failure events: positive when a failure followed within the horizon, negative once the horizon passed without one; null with realised_reason when the model cannot be labelled so",
      "properties": {
       "method": {
        "type": "string"
       },
       "horizon": {
        "type": "number"
       },
       "labelled": {
        "type": "integer"
       },
       "pending": {
        "type": "integer"
       },
       "dropped": {
        "type": "integer"
       },
       "failures": {
        "type": "integer"
       },
       "failures_confirmed_by_alerts": {
        "type": "integer",
        "description": "of failures, those from risk alerts resolved as failure_confirmed"
       },
       "confusion_matrix": {
        "type": "array",
        "description": "[[tn, fp], [fn, tp]]",
        "items": {
         "type": "array",
         "items": {
          "type": "integer"
         }
        }
       },
       "precision": {
        "type": "number",
        "nullable": true
       },
       "recall": {
        "type": "number",
        "nullable": true
       },
       "f1": {
        "type": "number",
        "nullable": true
       }
      }
     },
     "realised_reason": {
      "type": "string"
     }
    }
   },
   "Error": {
    "type": "object",
    "required": [
     "error"
    ],
    "properties": {
     "error": {
      "type": "string"
     },
     "details": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "field": {
         "type": "string"
        },
        "reason": {
         "type": "string"
        },
        "value": {
         "type": "string"
        }
       }
      }
     }
    }
   },
   "Record": {
    "type": "object",
    "description": "Feature name -> value (null: missing). The names are GET /api/v1/models' features; they may also be nested under \"features\".",
    "additionalProperties": {
     "type": "number",
     "nullable": true
    }
   },
   "Prediction": {
    "type": "object",
    "properties": {
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "probability": {
      "type": "number"
     },
     "rul": {
      "type": "number"
     },
     "alarm": {
      "type": "boolean"
     },
     "decision": {
      "type": "string",
      "enum": [
       "ok",
       "alarm"
      ]
     },
     "threshold": {
      "type": "number"
     },
     "horizon": {
      "type": "number"
     },
     "explanation": {
      "type": "object",
      "properties": {
       "bias": {
        "type": "number"
       },
       "top": {
        "type": "array",
        "items": {
         "type": "object",
         "properties": {
          "feature": {
           "type": "string"
          },
          "contribution": {
           "type": "number"
          }
         }
        }
       }
      }
     }
    }
   },
   "Batch": {
    "oneOf": [
     {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Record"
      }
     },
     {
      "type": "object",
      "required": [
       "instances"
      ],
      "properties": {
       "instances": {
        "type": "array",
        "items": {
         "$ref": "#/components/schemas/Record"
        }
       }
      }
     }
    ]
   },
   "BatchResult": {
    "type": "object",
    "properties": {
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "scored": {
      "type": "integer"
     },
     "refused": {
      "type": "integer"
     },
     "results": {
      "type": "array",
      "items": {
       "type": "object",
       "description": "A prediction with its index, or {index, error, details}"
      }
     }
    }
   },
   "Ready": {
    "type": "object",
    "properties": {
     "ready": {
      "type": "boolean"
     },
     "model_loaded": {
      "type": "boolean"
     },
     "store_reachable": {
      "type": "boolean"
     },
     "draining": {
      "type": "boolean"
     }
    }
   },
   "Models": {
    "type": "object",
    "properties": {
     "models": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "name": {
         "type": "string"
        },
        "version": {
         "type": "integer"
        },
        "alias": {
         "type": "string"
        },
        "artifact_hash": {
         "type": "string"
        },
        "task": {
         "type": "string"
        },
        "members": {
         "type": "array",
         "items": {
          "type": "string"
         }
        },
        "features": {
         "type": "array",
         "items": {
          "type": "string"
         }
        }
       }
      }
     }
    }
   },
   "Tensor": {
    "type": "object",
    "required": [
     "name",
     "shape",
     "datatype",
     "data"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "shape": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     },
     "datatype": {
      "type": "string"
     },
     "data": {
      "type": "array",
      "items": {}
     },
     "parameters": {
      "type": "object"
     }
    }
   },
   "TensorMetadata": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "datatype": {
      "type": "string"
     },
     "shape": {
      "type": "array",
      "items": {
       "type": "integer"
      }
     }
    }
   },
   "InferRequest": {
    "type": "object",
    "required": [
     "inputs"
    ],
    "description": "One FP32/FP64 tensor per feature (shape [n] or [n,1]), or one [n, features] tensor named \"features\".",
    "properties": {
     "id": {
      "type": "string"
     },
     "parameters": {
      "type": "object"
     },
     "inputs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Tensor"
      }
     },
     "outputs": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "name": {
         "type": "string"
        }
       }
      }
     }
    }
   },
   "InferResponse": {
    "type": "object",
    "properties": {
     "model_name": {
      "type": "string"
     },
     "model_version": {
      "type": "string"
     },
     "id": {
      "type": "string"
     },
     "parameters": {
      "type": "object"
     },
     "outputs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Tensor"
      }
     }
    }
   },
   "ModelMetadata": {
    "type": "object",
    "properties": {
     "name": {
      "type": "string"
     },
     "versions": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "platform": {
      "type": "string"
     },
     "inputs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/TensorMetadata"
      }
     },
     "outputs": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/TensorMetadata"
      }
     }
    }
   },
   "Risk": {
    "type": "object",
    "properties": {
     "machine": {
      "type": "string"
     },
     "time": {
      "description": "ISO 8601 (timestamped data) or cycle"
     },
     "probability": {
      "type": "number"
     },
     "rul": {
      "type": "number"
     },
     "alarm": {
      "type": "boolean"
     },
     "decision": {
      "type": "string",
      "enum": [
       "ok",
       "alarm"
      ]
     },
     "version": {
      "type": "integer"
     },
     "readings": {
      "type": "integer"
     },
     "refused": {
      "type": "integer"
     }
    }
   },
   "Reading": {
    "type": "object",
    "required": [
     "machine",
     "values"
    ],
    "properties": {
     "machine": {
      "type": "string",
      "maxLength": 128
     },
     "time": {
      "description": "ISO 8601 timestamp or epoch seconds (timestamped data), cycle number (cycle data)"
     },
     "values": {
      "type": "object",
      "description": "Sensor and setting values by input name (numbers), categoricals by name (strings); null or absent: missing",
      "additionalProperties": {}
     },
     "attributes": {
      "type": "object",
      "description": "The machine's static attributes (machines table), used when it is first seen",
      "additionalProperties": {}
     }
    }
   },
   "MachineEvent": {
    "type": "object",
    "required": [
     "machine",
     "type"
    ],
    "properties": {
     "machine": {
      "type": "string"
     },
     "time": {},
     "type": {
      "type": "string",
      "enum": [
       "maintenance",
       "failure",
       "error"
      ]
     },
     "kind": {
      "type": "string",
      "description": "A declared component, mode or error code"
     }
    }
   },
   "Telemetry": {
    "oneOf": [
     {
      "type": "object",
      "properties": {
       "readings": {
        "type": "array",
        "items": {
         "$ref": "#/components/schemas/Reading"
        }
       },
       "events": {
        "type": "array",
        "items": {
         "$ref": "#/components/schemas/MachineEvent"
        }
       }
      }
     },
     {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Reading"
      }
     },
     {
      "$ref": "#/components/schemas/Reading"
     }
    ]
   },
   "TelemetryResult": {
    "type": "object",
    "properties": {
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "accepted": {
      "type": "integer"
     },
     "refused": {
      "type": "integer"
     },
     "duplicates": {
      "type": "integer",
      "description": "Of refused: readings at a time their machine already has (a delivery repeated), counted apart and never scored twice; absent when none"
     },
     "events_applied": {
      "type": "integer"
     },
     "events_refused": {
      "type": "integer"
     },
     "stored": {
      "type": "boolean"
     },
     "store_error": {
      "type": "string"
     },
     "machines": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Risk"
      }
     },
     "errors": {
      "type": "array",
      "items": {
       "type": "object",
       "properties": {
        "reading": {
         "type": "integer"
        },
        "event": {
         "type": "integer"
        },
        "machine": {
         "type": "string"
        },
        "details": {
         "type": "array",
         "items": {
          "type": "object"
         }
        }
       }
      }
     }
    }
   },
   "MachineList": {
    "type": "object",
    "properties": {
     "machines": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Risk"
      }
     },
     "count": {"type": "integer", "description": "Machines followed"},
     "matched": {"type": "integer", "description": "Machines that pass the filters (the pages' total)"},
     "offset": {"type": "integer"},
     "limit": {"type": "integer"},
     "alarms": {"type": "integer", "description": "Machines in alarm (of all followed)"},
     "stale": {"type": "integer", "description": "Late machines: three of their reporting intervals behind the fleet's newest reading or the wall clock"},
     "facets": {"type": "object", "description": "Per categorical attribute, machines per value (of all followed)", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}},
     "score": {"type": "string", "enum": ["probability", "rul"]},
     "threshold": {"type": "number", "description": "The served decision threshold (classifiers)"},
     "newest": {"description": "The newest reading's time in the fleet"}
    }
   },
   "Machine": {
    "allOf": [
     {
      "$ref": "#/components/schemas/Risk"
     },
     {
      "type": "object",
      "properties": {
       "state_resets": {
        "type": "integer"
       },
       "last_readings": {
        "type": "object",
        "additionalProperties": {}
       },
       "history": {
        "type": "array",
        "items": {
         "$ref": "#/components/schemas/Risk"
        }
       },
       "attributes": {"type": "object", "additionalProperties": {}},
       "trend": {"type": "array", "items": {"type": "number"}, "description": "The latest scores, oldest first (up to 32)"},
       "interval": {"type": "number", "description": "Data time between its last two readings"},
       "threshold": {"type": "number"},
       "events": {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string", "enum": ["maintenance", "failure", "error"]}, "time": {}, "kind": {"type": "string"}}}},
       "contributions": {"type": "object", "description": "TreeSHAP of the latest scored reading (top 10 by size, in the model's margin)", "properties": {"top": {"type": "array", "items": {"type": "object", "properties": {"feature": {"type": "string"}, "value": {"type": ["number", "null"]}, "contribution": {"type": "number"}}}}, "bias": {"type": "number"}, "unit": {"type": "string"}}},
       "sensors": {"type": "object", "description": "Per sensor, its recent [time, value] pairs from the store, oldest first", "additionalProperties": {"type": "array", "items": {"type": "array"}}}
      }
     }
    ]
   },
   "Alert": {
    "type": "object",
    "properties": {
     "id": {
      "type": "integer"
     },
     "machine": {
      "type": "string",
      "description": "empty for a fleet-wide alert"
     },
     "kind": {
      "type": "string",
      "enum": [
       "failure_risk",
       "drift"
      ]
     },
     "failure_mode": {
      "type": "string"
     },
     "severity": {
      "type": "string",
      "enum": [
       "warning",
       "critical"
      ]
     },
     "state": {
      "type": "string",
      "enum": [
       "open",
       "acknowledged",
       "resolved"
      ]
     },
     "message": {
      "type": "string",
      "description": "the rule that opened it"
     },
     "score": {
      "type": [
       "number",
       "null"
      ]
     },
     "model": {
      "type": "string"
     },
     "version": {
      "type": "integer"
     },
     "time": {
      "description": "data time of the opening reading (ISO 8601, or a cycle)"
     },
     "opened_at": {
      "type": "string"
     },
     "updated_at": {
      "type": "string"
     },
     "acknowledged_by": {
      "type": "string"
     },
     "acknowledged_at": {
      "type": "string"
     },
     "resolution": {
      "type": "string",
      "enum": [
       "failure_confirmed",
       "no_fault_found",
       "maintenance_done",
       "drift_ended"
      ]
     },
     "resolved_by": {
      "type": "string"
     },
     "resolved_at": {
      "type": "string"
     },
     "note": {
      "type": "string"
     },
     "history": {
      "type": "array",
      "description": "GET /api/v1/alerts/{id} and actions only; oldest first",
      "items": {
       "type": "object",
       "properties": {
        "id": {
         "type": "integer"
        },
        "time": {
         "type": "string"
        },
        "event": {
         "type": "string",
         "enum": [
          "opened",
          "escalated",
          "acknowledged",
          "resolved"
         ]
        },
        "state": {
         "type": "string"
        },
        "severity": {
         "type": "string"
        },
        "actor": {
         "type": "string"
        },
        "resolution": {
         "type": "string"
        },
        "note": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  }
 },
 "paths": {
  "/livez": {
   "get": {
    "summary": "Liveness: the process answers",
    "responses": {
     "200": {
      "description": "Alive",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "live": {
           "type": "boolean"
          }
         }
        }
       }
      }
     }
    }
   }
  },
  "/readyz": {
   "get": {
    "summary": "Readiness: a model is loaded, the store answers and the server is not shutting down",
    "responses": {
     "200": {
      "description": "Ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     },
     "503": {
      "description": "Not ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics (text exposition format 0.0.4)",
    "responses": {
     "200": {
      "description": "Metrics",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "responses": {
     "200": {
      "description": "OpenAPI 3 document",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/predict": {
   "post": {
    "summary": "Score one record of feature values",
    "responses": {
     "200": {
      "description": "The prediction",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Prediction"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadJson"
     },
     "415": {
      "$ref": "#/components/responses/NotJson"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/FieldErrors"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Record"
       }
      }
     }
    },
    "parameters": [
     {
      "name": "explain",
      "in": "query",
      "required": false,
      "schema": {
       "type": "boolean"
      },
      "description": "Add the top feature contributions (TreeSHAP)"
     }
    ]
   }
  },
  "/api/v1/predict/batch": {
   "post": {
    "summary": "Score up to --max-batch records; a bad record does not fail the good ones",
    "responses": {
     "200": {
      "description": "Per-record results",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/BatchResult"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadJson"
     },
     "415": {
      "$ref": "#/components/responses/NotJson"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/FieldErrors"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Batch"
       }
      }
     }
    }
   }
  },
  "/api/v1/models": {
   "get": {
    "summary": "The served model: name, version, alias, members and feature names",
    "responses": {
     "200": {
      "description": "Models",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Models"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/models/{name}/reload": {
   "post": {
    "summary": "Load the alias's current holder now (bearer token required)",
    "responses": {
     "200": {
      "description": "The version now served",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "name": {
           "type": "string"
          },
          "version": {
           "type": "integer"
          }
         }
        }
       }
      }
     },
     "401": {
      "description": "Missing or wrong token",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "403": {
      "description": "No token configured",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "404": {
      "description": "Model not served",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "The new version failed its checks; the current one stays",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     }
    ],
    "security": [
     {
      "bearer": []
     }
    ]
   }
  },
  "/v2": {
   "get": {
    "summary": "Open Inference Protocol v2: server metadata",
    "responses": {
     "200": {
      "description": "Server metadata",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "name": {
           "type": "string"
          },
          "version": {
           "type": "string"
          },
          "extensions": {
           "type": "array",
           "items": {
            "type": "string"
           }
          }
         }
        }
       }
      }
     }
    }
   }
  },
  "/v2/health/live": {
   "get": {
    "summary": "OIP v2 liveness",
    "responses": {
     "200": {
      "description": "Alive",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/v2/health/ready": {
   "get": {
    "summary": "OIP v2 readiness (as /readyz)",
    "responses": {
     "200": {
      "description": "Ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     },
     "503": {
      "description": "Not ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     }
    }
   }
  },
  "/v2/models/{name}": {
   "get": {
    "summary": "OIP v2 model metadata",
    "responses": {
     "200": {
      "description": "Model metadata: one FP32 input per feature",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ModelMetadata"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     }
    ]
   }
  },
  "/v2/models/{name}/ready": {
   "get": {
    "summary": "OIP v2 model readiness",
    "responses": {
     "200": {
      "description": "Ready",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "name": {
           "type": "string"
          },
          "ready": {
           "type": "boolean"
          }
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     }
    ]
   }
  },
  "/v2/models/{name}/versions/{version}": {
   "get": {
    "summary": "OIP v2 model metadata of a version",
    "responses": {
     "200": {
      "description": "Model metadata: one FP32 input per feature",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/ModelMetadata"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     },
     {
      "name": "version",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The version number; only the loaded version answers"
     }
    ]
   }
  },
  "/v2/models/{name}/versions/{version}/ready": {
   "get": {
    "summary": "OIP v2 readiness of a version",
    "responses": {
     "200": {
      "description": "Ready",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "name": {
           "type": "string"
          },
          "ready": {
           "type": "boolean"
          }
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     },
     {
      "name": "version",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The version number; only the loaded version answers"
     }
    ]
   }
  },
  "/v2/models/{name}/infer": {
   "post": {
    "summary": "OIP v2 inference",
    "responses": {
     "200": {
      "description": "Output tensors: probability (or rul) FP64 and alarm BOOL",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InferResponse"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     },
     "400": {
      "$ref": "#/components/responses/BadJson"
     },
     "415": {
      "$ref": "#/components/responses/NotJson"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/FieldErrors"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/InferRequest"
       }
      }
     }
    }
   }
  },
  "/v2/models/{name}/versions/{version}/infer": {
   "post": {
    "summary": "OIP v2 inference on a version",
    "responses": {
     "200": {
      "description": "Output tensors: probability (or rul) FP64 and alarm BOOL",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InferResponse"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/NotServed"
     },
     "400": {
      "$ref": "#/components/responses/BadJson"
     },
     "415": {
      "$ref": "#/components/responses/NotJson"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/FieldErrors"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    },
    "parameters": [
     {
      "name": "name",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The served model's registered name"
     },
     {
      "name": "version",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      },
      "description": "The version number; only the loaded version answers"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/InferRequest"
       }
      }
     }
    }
   }
  },
  "/api/v1/telemetry": {
   "post": {
    "summary": "Readings and events of machines: validated, applied to each machine's online feature state, scored, stored",
    "responses": {
     "200": {
      "description": "Accepted and refused readings, each machine's latest risk",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/TelemetryResult"
        }
       }
      }
     },
     "409": {
      "description": "The served model has no feature pipeline",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/BadJson"
     },
     "415": {
      "$ref": "#/components/responses/NotJson"
     },
     "413": {
      "$ref": "#/components/responses/TooLarge"
     },
     "422": {
      "$ref": "#/components/responses/FieldErrors"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/Telemetry"
       }
      }
     }
    }
   }
  },
  "/api/v1/machines": {
   "get": {
    "summary": "Machines followed, riskiest first",
    "responses": {
     "200": {
      "description": "Machines",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/MachineList"
        }
       }
      }
     },
     "422": {
      "description": "Bad query parameter",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    },
    "parameters": [
     {
      "name": "limit",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 100000,
       "default": 100
      }
     },
     {
      "name": "alarm",
      "in": "query",
      "required": false,
      "schema": {
       "type": "boolean"
      },
      "description": "Only machines in alarm (as state=alarm)"
     },
     {"name": "offset", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 0, "default": 0}, "description": "Machines to skip (paging)"},
     {"name": "sort", "in": "query", "required": false, "schema": {"type": "string", "enum": ["risk", "machine", "age", "readings"], "default": "risk"}, "description": "risk: riskiest first (highest probability, lowest RUL); unscored machines always last"},
     {"name": "order", "in": "query", "required": false, "schema": {"type": "string", "enum": ["asc", "desc"]}, "description": "Default: riskiest, oldest reading and most readings first; names A-Z"},
     {"name": "state", "in": "query", "required": false, "schema": {"type": "string", "enum": ["all", "alarm", "stale", "ok", "unscored"], "default": "all"}},
     {"name": "q", "in": "query", "required": false, "schema": {"type": "string", "maxLength": 128}, "description": "Machines whose id contains this"}
    ]
   }
  },
  "/api/v1/machines/{id}": {
   "get": {
    "summary": "One machine: latest risk, last readings, recent history",
    "responses": {
     "200": {
      "description": "The machine",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Machine"
        }
       }
      }
     },
     "404": {
      "description": "No reading from that machine",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ]
   }
  },
  "/api/v1/drift": {
   "get": {
    "summary": "Drift of the served model's features and score: the latest evaluation of the telemetry window against the model's reference profile (docs/monitoring.md)",
    "parameters": [
     {
      "name": "histograms",
      "in": "query",
      "required": false,
      "schema": {
       "type": "boolean",
       "default": true
      },
      "description": "Include each column's reference and current histograms"
     }
    ],
    "responses": {
     "200": {
      "description": "Per feature: statistics (psi, ks, jensen_shannon, wasserstein), status (ok, warning, drift), rows, missing shares, histograms; the window, thresholds and dataset drift",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/DriftReport"
        }
       }
      }
     },
     "409": {
      "$ref": "#/components/responses/NotMonitored"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    }
   }
  },
  "/api/v1/performance": {
   "get": {
    "summary": "Label-free estimate (CBPE) of the served alarms' precision, recall and F1 over the drift window",
    "responses": {
     "200": {
      "description": "The estimate",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Performance"
        }
       }
      }
     },
     "409": {
      "$ref": "#/components/responses/NotMonitored"
     },
     "503": {
      "$ref": "#/components/responses/NoModel"
     }
    }
   }
  },
  "/api/v1/alerts": {
   "get": {
    "summary": "Alerts, newest first (paged by id)",
    "parameters": [
     {
      "name": "state",
      "in": "query",
      "schema": {
       "type": "string",
       "enum": [
        "open",
        "acknowledged",
        "resolved",
        "active"
       ]
      }
     },
     {
      "name": "machine",
      "in": "query",
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "kind",
      "in": "query",
      "schema": {
       "type": "string"
      }
     },
     {
      "name": "before",
      "in": "query",
      "description": "only alerts with a smaller id (the previous page's next_before)",
      "schema": {
       "type": "integer",
       "minimum": 1
      }
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000,
       "default": 100
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The alerts",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "properties": {
          "alerts": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Alert"
           }
          },
          "next_before": {
           "type": "integer",
           "description": "present when the page is full"
          }
         }
        }
       }
      }
     },
     "422": {
      "description": "An invalid query parameter",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "The store cannot be read",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/alerts/{id}": {
   "get": {
    "summary": "One alert and its history",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "The alert with its history",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Alert"
        }
       }
      }
     },
     "404": {
      "description": "No such alert",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "The store cannot be read",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/alerts/{id}/ack": {
   "post": {
    "summary": "Acknowledge an open alert (starts the machine's cooldown) (bearer token required)",
    "security": [
     {
      "bearer": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "by"
        ],
        "properties": {
         "by": {
          "type": "string",
          "maxLength": 128,
          "description": "who acts"
         },
         "note": {
          "type": "string",
          "maxLength": 2000
         }
        },
        "additionalProperties": false
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "The alert with its history",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Alert"
        }
       }
      }
     },
     "404": {
      "description": "No such alert",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "The store cannot be read",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "401": {
      "description": "Missing or wrong token",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "403": {
      "description": "No token configured",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "Not allowed in the alert's state (already acknowledged, or resolved)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "422": {
      "description": "A missing, unknown or invalid field",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/alerts/{id}/resolve": {
   "post": {
    "summary": "Resolve an active alert with a resolution (bearer token required)",
    "security": [
     {
      "bearer": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer"
      }
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "by",
         "resolution"
        ],
        "properties": {
         "by": {
          "type": "string",
          "maxLength": 128,
          "description": "who acts"
         },
         "note": {
          "type": "string",
          "maxLength": 2000
         },
         "resolution": {
          "type": "string",
          "enum": [
           "failure_confirmed",
           "no_fault_found",
           "maintenance_done"
          ]
         }
        },
        "additionalProperties": false
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "The alert with its history",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Alert"
        }
       }
      }
     },
     "404": {
      "description": "No such alert",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "503": {
      "description": "The store cannot be read",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "401": {
      "description": "Missing or wrong token",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "403": {
      "description": "No token configured",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "409": {
      "description": "Not allowed in the alert's state (already acknowledged, or resolved)",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     },
     "422": {
      "description": "A missing, unknown or invalid field",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Error"
        }
       }
      }
     }
    }
   }
  },
  "/api/v1/notifications": {
   "get": {
    "summary": "The webhook outbox of the alert events, newest first: pending, delivered and dead (the dead-letter list) notifications, targets shown by origin only",
    "parameters": [
     {"name": "state", "in": "query", "schema": {"type": "string", "enum": ["pending", "delivered", "dead"]}},
     {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}
    ],
    "responses": {
     "200": {
      "description": "Notifications and the outbox's counts by state",
      "content": {"application/json": {"schema": {
       "type": "object",
       "required": ["notifications", "counts", "webhooks"],
       "properties": {
        "notifications": {"type": "array", "items": {
         "type": "object",
         "required": ["id", "alert_id", "event", "target", "idempotency_key", "state", "attempts", "created_at", "updated_at"],
         "properties": {
          "id": {"type": "integer"},
          "alert_id": {"type": "integer"},
          "event": {"type": "string", "enum": ["opened", "escalated", "acknowledged", "resolved"]},
          "target": {"type": "string", "description": "scheme://host[:port] of the webhook URL"},
          "idempotency_key": {"type": "string", "description": "sent as the Idempotency-Key header of every attempt"},
          "state": {"type": "string", "enum": ["pending", "delivered", "dead"]},
          "attempts": {"type": "integer"},
          "next_attempt_at": {"type": "string", "format": "date-time"},
          "last_error": {"type": "string"},
          "created_at": {"type": "string", "format": "date-time"},
          "updated_at": {"type": "string", "format": "date-time"}
         }
        }},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "webhooks": {"type": "integer", "description": "webhook targets this server sends to"}
       }
      }}}
     },
     "422": {"description": "An invalid query parameter", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "503": {"description": "The store cannot be read", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/": {
   "get": {
    "summary": "The dashboard (HTML; its files are served under /ui/)",
    "responses": {"200": {"description": "The dashboard's page", "content": {"text/html": {}}}}
   }
  },
  "/api/v1/stream": {
   "get": {
    "summary": "Live events as Server-Sent Events: risk (the machines a telemetry request scored), alert (an alert's new state), model (the served version changed), reset (events were missed: reload)",
    "parameters": [{"name": "after", "in": "query", "required": false, "schema": {"type": "integer"}, "description": "Send the events after this id (the Last-Event-ID header does the same); default: from now"}],
    "responses": {
     "200": {"description": "An endless event stream (chunked); a comment line every 15 s without events", "content": {"text/event-stream": {}}},
     "503": {"description": "Too many streams open (--max-streams); Retry-After says when to try again", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/api/v1/models/{name}/versions": {
   "get": {
    "summary": "A registered model's versions (metrics, aliases, lineage fingerprints), its aliases, the served version and the audit trail (newest first, up to 200)",
    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
    "responses": {
     "200": {"description": "The versions", "content": {"application/json": {"schema": {"type": "object", "required": ["name", "versions", "aliases", "audit"], "properties": {"name": {"type": "string"}, "served": {}, "aliases": {"type": "object", "additionalProperties": {"type": "integer"}}, "versions": {"type": "array", "items": {"type": "object"}}, "audit": {"type": "array", "items": {"type": "object"}}}}}}},
     "404": {"description": "No such model", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "503": {"description": "The registry cannot be read", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/api/v1/models/{name}/aliases/{alias}": {
   "post": {
    "summary": "Move an alias: promote a version ({\"version\": N}) or roll back ({\"rollback\": true}), with an optional reason and actor (\"by\"); the served alias's model is swapped at once (bearer token required)",
    "security": [{"bearer": []}],
    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "alias", "in": "path", "required": true, "schema": {"type": "string"}}],
    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {"version": {"type": "integer", "minimum": 1}, "rollback": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 500}, "by": {"type": "string", "maxLength": 500}}}}}},
    "responses": {
     "200": {"description": "Moved", "content": {"application/json": {"schema": {"type": "object", "required": ["name", "alias", "version"], "properties": {"name": {"type": "string"}, "alias": {"type": "string"}, "version": {"type": "integer"}, "from_version": {"type": "integer"}, "served_version": {"type": ["integer", "null"]}, "reload_error": {"type": "string"}}}}}},
     "401": {"description": "Missing or wrong token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "403": {"description": "No token configured", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "404": {"description": "No such model or version", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "409": {"description": "Nothing to roll back to", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "422": {"description": "Invalid body or alias name", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/api/v1/models/{name}/versions/{version}/report": {
   "get": {
    "summary": "The training report of a version (HTML, as pdm train wrote it)",
    "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}, {"name": "version", "in": "path", "required": true, "schema": {"type": "integer"}}],
    "responses": {
     "200": {"description": "The report", "content": {"text/html": {}}},
     "404": {"description": "No such version, or it was registered without a report", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "422": {"description": "Not a version number", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/api/v1/roi": {
   "get": {
    "summary": "The business case (pdm roi's JSON) of --roi's config with the served model's measured errors (recall and false alarms from its out-of-fold confusion matrix), and the cost-optimal threshold over its out-of-fold scores",
    "responses": {
     "200": {"description": "The business case", "content": {"application/json": {"schema": {"type": "object", "required": ["currency", "years", "roi_simple", "model", "detection_from"], "properties": {"currency": {"type": "string"}, "years": {"type": "array", "items": {"type": "object"}}, "roi_simple": {"type": "number"}, "npv": {"type": "number"}, "model": {"type": "object"}, "detection_from": {"type": "string"}, "threshold": {"type": "object"}, "threshold_reason": {"type": "string"}, "served_threshold": {"type": ["number", "null"]}}}}}},
     "404": {"description": "No business case configured (pdm serve --roi)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "409": {"description": "The config and the model's metrics do not make a business case", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "503": {"description": "No model loaded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  },
  "/api/v1/sources": {
   "get": {
    "summary": "The ingestion sources of server.yaml (docs/ingest.md): per source its connection and what it took, accepted, refused and counted as duplicates",
    "responses": {
     "200": {"description": "The sources and the export sinks (empty lists without any)", "content": {"application/json": {"schema": {"type": "object", "required": ["sources", "sinks"], "properties": {"sinks": {"type": "array", "items": {"type": "object", "required": ["name", "type", "connected", "queued", "points_written", "points_dropped"], "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": ["influxdb", "redis"]}, "describe": {"type": "string"}, "connected": {"type": "boolean", "description": "The last write succeeded"}, "queued": {"type": "integer"}, "points_written": {"type": "integer"}, "points_dropped": {"type": "integer"}, "batches": {"type": "integer"}, "retries": {"type": "integer"}, "last_error": {"type": "string"}}}}, "sources": {"type": "array", "items": {"type": "object", "required": ["name", "type", "connected", "messages", "readings_accepted", "readings_refused", "readings_duplicate"], "properties": {"name": {"type": "string"}, "type": {"type": "string", "enum": ["mqtt", "modbus", "kafka"]}, "url": {"type": "string"}, "topics": {"type": "array", "items": {"type": "string"}}, "connected": {"type": "boolean"}, "last_error": {"type": "string"}, "messages": {"type": "integer"}, "messages_malformed": {"type": "integer"}, "readings_accepted": {"type": "integer"}, "readings_refused": {"type": "integer"}, "readings_duplicate": {"type": "integer"}, "events_applied": {"type": "integer"}, "events_refused": {"type": "integer"}, "dead_lettered": {"type": "integer"}, "retries": {"type": "integer"}, "connects": {"type": "integer"}, "connection_losses": {"type": "integer"}, "poll_interval_ms": {"type": "integer", "description": "Modbus: the poll interval"}, "polls_failed": {"type": "integer", "description": "Modbus: polls that read nothing"}, "stale_devices": {"type": "integer", "description": "Modbus: devices not read for stale_after intervals"}, "brokers": {"type": "string", "description": "Kafka"}, "group_id": {"type": "string", "description": "Kafka: the consumer group"}, "partitions": {"type": "array", "items": {"type": "string"}, "description": "Kafka: topic/partition owned now"}, "rebalances": {"type": "integer"}, "states_saved": {"type": "integer", "description": "Kafka: machines' online states handed over to the Store"}, "states_restored": {"type": "integer"}, "devices": {"type": "array", "description": "Modbus: each device's poller", "items": {"type": "object", "properties": {"machine": {"type": "string"}, "host": {"type": "string"}, "port": {"type": "integer"}, "unit": {"type": "integer"}, "connected": {"type": "boolean"}, "stale": {"type": "boolean"}, "polls": {"type": "integer"}, "polls_failed": {"type": "integer"}, "last_read": {"type": ["string", "null"]}, "last_error": {"type": "string"}}}}}}}}}}}}
    }
   }
  },
  "/api/v1/notifications/{id}/retry": {
   "post": {
    "summary": "Send a dead notification again (its attempts start over; bearer token required)",
    "security": [{"bearer": []}],
    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
    "responses": {
     "202": {
      "description": "Pending again",
      "content": {"application/json": {"schema": {"type": "object", "required": ["id", "state"], "properties": {"id": {"type": "integer"}, "state": {"type": "string", "enum": ["pending"]}}}}}
     },
     "401": {"description": "Missing or wrong token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "403": {"description": "No token configured", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "404": {"description": "No dead notification of that id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
     "503": {"description": "The store cannot be written", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }
   }
  }
 }
})openapi";

}  // namespace

std::string_view Api::OpenApiDocument() {
  static const std::string document = [] {
    std::string text(kDocument);
    const std::string placeholder = "PDM_VERSION";
    text.replace(text.find(placeholder), placeholder.size(), core::PdmVersion());
    return text;
  }();
  return document;
}

}  // namespace pdm::serving
