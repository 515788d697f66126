/// The API's OpenAPI 3 description, served at `/api/v1/openapi.json`. `OpenAPIDocumentTests`
/// checks it against the route table (every route documented and served) and the live server.
enum OpenAPIDocument {
    static let json = #"""
{
  "openapi": "3.0.3",
  "info": {
    "title": "TurboDiffusion web UI API",
    "version": "1.0.0",
    "description": "Generate videos with the TurboDiffusion engine: upload an image, queue jobs, follow their progress, fetch the MP4s. Errors are JSON: {\"error\": {\"message\", \"field\"}}. When the server runs with a token, send it as Authorization: Bearer <token> (or the td_token cookie)."
  },
  "servers": [{"url": "/api/v1"}],
  "security": [{}, {"bearer": []}],
  "paths": {
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Server state",
        "responses": {"200": {"description": "Running", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}
      }
    },
    "/models": {
      "get": {
        "operationId": "listModels",
        "summary": "Models and whether their files are installed",
        "responses": {"200": {"description": "Models", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ModelList"}}}}}
      }
    },
    "/uploads": {
      "post": {
        "operationId": "upload",
        "summary": "Upload a PNG or JPEG image for an I2V job (raw body or multipart field \"image\")",
        "requestBody": {
          "required": true,
          "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {"image": {"type": "string", "format": "binary"}}, "required": ["image"]}}
          }
        },
        "responses": {
          "201": {"description": "Stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Upload"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/jobs": {
      "post": {
        "operationId": "createJob",
        "summary": "Queue a generation",
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/JobRequest"}}}},
        "responses": {
          "202": {"description": "Queued", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Created"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"},
          "413": {"$ref": "#/components/responses/Error"},
          "415": {"$ref": "#/components/responses/Error"},
          "429": {"$ref": "#/components/responses/Error"}
        }
      },
      "get": {
        "operationId": "listJobs",
        "summary": "Jobs, newest first",
        "responses": {"200": {"description": "Jobs", "content": {"application/json": {"schema": {"type": "object", "required": ["jobs"], "properties": {"jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}}}}}
      }
    },
    "/jobs/{id}": {
      "parameters": [{"$ref": "#/components/parameters/JobID"}],
      "get": {
        "operationId": "getJob",
        "summary": "One job",
        "responses": {
          "200": {"description": "The job", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      },
      "delete": {
        "operationId": "cancelJob",
        "summary": "Cancel a job: a queued one at once (200), a running one at its next step (202)",
        "responses": {
          "200": {"description": "Cancelled", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "202": {"description": "Stopping", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "409": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/jobs/{id}/events": {
      "parameters": [{"$ref": "#/components/parameters/JobID"}],
      "get": {
        "operationId": "jobEvents",
        "summary": "Server-sent events: 'progress' with the job while it waits or runs, then one 'done' with the final job; the stream then ends",
        "responses": {
          "200": {"description": "Event stream", "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/JobEvent"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/jobs/{id}/frames/{index}": {
      "parameters": [{"$ref": "#/components/parameters/JobID"}, {"name": "index", "in": "path", "required": true, "description": "0 … output.frames - 1", "schema": {"type": "integer", "minimum": 0}}],
      "get": {
        "operationId": "getJobFrame",
        "summary": "One frame as PNG, of a succeeded job submitted with \"frames\": true (exact pixels, unlike the MP4)",
        "responses": {
          "200": {"description": "The frame", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/outputs": {
      "get": {
        "operationId": "listOutputs",
        "summary": "The videos in the output folder, newest first",
        "responses": {"200": {"description": "Videos", "content": {"application/json": {"schema": {"type": "object", "required": ["outputs"], "properties": {"outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}}}}}}}}
      }
    },
    "/outputs/{name}": {
      "parameters": [{"$ref": "#/components/parameters/OutputName"}],
      "get": {
        "operationId": "getOutput",
        "summary": "An MP4, whole or one byte range (Range: bytes=a-b)",
        "parameters": [
          {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"}},
          {"name": "download", "in": "query", "required": false, "description": "Any value: answer as an attachment", "schema": {"type": "string"}}
        ],
        "responses": {
          "200": {"description": "The file", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
          "206": {"description": "A range of it", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"},
          "416": {"description": "The range lies beyond the file"}
        }
      },
      "delete": {
        "operationId": "deleteOutput",
        "summary": "Delete a video",
        "responses": {
          "200": {"description": "Deleted", "content": {"application/json": {"schema": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}}}}},
          "400": {"$ref": "#/components/responses/Error"},
          "404": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/restart": {
      "post": {
        "operationId": "restart",
        "summary": "Cancel the running job and unload every model (frees GPU memory); queued jobs stay",
        "responses": {"200": {"description": "Done", "content": {"application/json": {"schema": {"type": "object", "required": ["released"], "properties": {"released": {"type": "string"}, "cancelled": {"type": "string", "nullable": true}}}}}}}
      }
    },
    "/logs": {
      "get": {
        "operationId": "logs",
        "summary": "The most recent lines of the server log",
        "parameters": [{"name": "lines", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "maximum": 2000, "default": 200}}],
        "responses": {
          "200": {"description": "Lines, oldest first", "content": {"application/json": {"schema": {"type": "object", "required": ["lines"], "properties": {"lines": {"type": "array", "items": {"type": "string"}}}}}}},
          "400": {"$ref": "#/components/responses/Error"}
        }
      }
    },
    "/openapi.json": {
      "get": {
        "operationId": "openapi",
        "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}}}
      }
    }
  },
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    "parameters": {
      "JobID": {"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}},
      "OutputName": {"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*\\.mp4$"}}
    },
    "responses": {
      "Error": {"description": "The request was refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    },
    "schemas": {
      "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}, "field": {"type": "string", "description": "The request field, parameter or header that was wrong"}}}}
      },
      "Health": {
        "type": "object", "required": ["status", "version", "queued", "auth", "queue_capacity"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"}, "queued": {"type": "integer"}, "running": {"type": "string", "nullable": true}, "auth": {"type": "boolean"}, "queue_capacity": {"type": "integer"}}
      },
      "ModelList": {
        "type": "object", "required": ["models", "defaults"],
        "properties": {
          "models": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}},
          "defaults": {"type": "object", "description": "The model of each task (t2v, i2v) when a job names none", "additionalProperties": {"type": "string"}}
        }
      },
      "Model": {
        "type": "object", "required": ["id", "tasks", "available", "missing", "default_frames"],
        "properties": {
          "id": {"type": "string"},
          "tasks": {"type": "array", "items": {"type": "string", "enum": ["t2v", "i2v"]}},
          "available": {"type": "boolean"},
          "missing": {"type": "array", "items": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}, "url": {"type": "string"}}}},
          "default_resolution": {"type": "string"}, "default_size": {"type": "string"}, "default_frames": {"type": "integer"}
        }
      },
      "Upload": {
        "type": "object", "required": ["id", "width", "height", "format"],
        "properties": {"id": {"type": "string"}, "width": {"type": "integer"}, "height": {"type": "integer"}, "format": {"type": "string", "enum": ["png", "jpeg"]}}
      },
      "JobEvent": {
        "type": "object", "required": ["event", "data"],
        "description": "One server-sent event; data holds the Job as JSON",
        "properties": {"event": {"type": "string", "enum": ["progress", "done"]}, "data": {"type": "string"}}
      },
      "Created": {"type": "object", "required": ["id", "url"], "properties": {"id": {"type": "string"}, "url": {"type": "string"}}},
      "JobRequest": {
        "type": "object", "required": ["prompt"], "additionalProperties": false,
        "description": "Upstream's flag names. Fields left out take the model's defaults.",
        "properties": {
          "task": {"type": "string", "enum": ["t2v", "i2v"], "default": "t2v"},
          "model": {"type": "string", "enum": ["Wan2.1-1.3B", "Wan2.1-14B", "Wan2.2-A14B", "demo"], "description": "An id from GET /models; default: the server's model for the task"},
          "prompt": {"type": "string", "minLength": 1, "maxLength": 4000},
          "num_steps": {"type": "integer", "minimum": 1, "maximum": 4, "default": 4},
          "seed": {"description": "An integer, or \"random\" (also when left out)", "oneOf": [{"type": "integer", "minimum": 0, "maximum": 9007199254740991}, {"type": "string", "enum": ["random"]}]},
          "resolution": {"type": "string", "enum": ["480p", "720p"]},
          "aspect_ratio": {"type": "string", "enum": ["16:9", "9:16", "4:3", "3:4", "1:1"], "default": "16:9"},
          "size": {"type": "string", "pattern": "^[0-9]+x[0-9]+$", "description": "WxH, multiples of 16; takes precedence over resolution and aspect_ratio"},
          "num_frames": {"type": "integer", "minimum": 1, "maximum": 161, "description": "4n+1"},
          "attention_type": {"type": "string", "enum": ["original", "sla", "sagesla"], "default": "sagesla"},
          "sla_topk": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 1},
          "quant_linear": {"type": "boolean", "default": false},
          "sigma_max": {"type": "number", "exclusiveMinimum": true, "minimum": 0, "maximum": 10000},
          "ode": {"type": "boolean", "default": false},
          "boundary": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.9, "description": "i2v only"},
          "adaptive_resolution": {"type": "boolean", "default": false, "description": "i2v only"},
          "num_samples": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
          "image": {"type": "string", "pattern": "^u[0-9a-f]{16}$", "description": "i2v: an upload id (required unless the model is demo, which has a sample image)"},
          "frames": {"type": "boolean", "default": false, "description": "Also keep every frame as PNG (GET /jobs/{id}/frames/{index}); the 16 most recent jobs' frames are kept"}
        }
      },
      "Progress": {
        "type": "object", "required": ["stage", "step", "steps", "fraction"],
        "properties": {"stage": {"type": "string"}, "step": {"type": "integer"}, "steps": {"type": "integer"}, "fraction": {"type": "number", "minimum": 0, "maximum": 1}, "eta_s": {"type": "number", "nullable": true}}
      },
      "Job": {
        "type": "object", "required": ["id", "status", "request", "created_at"],
        "properties": {
          "id": {"type": "string"},
          "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled"]},
          "request": {"type": "object", "description": "The request with its defaults filled in (the seed as used)"},
          "progress": {"$ref": "#/components/schemas/Progress"},
          "output": {"type": "object", "required": ["name", "url"], "properties": {"name": {"type": "string"}, "url": {"type": "string"}, "frames": {"type": "integer", "description": "PNG frames served at /jobs/{id}/frames/{index} (jobs submitted with frames: true)"}}},
          "error": {"type": "string"},
          "created_at": {"type": "string", "format": "date-time"},
          "started_at": {"type": "string", "format": "date-time"},
          "finished_at": {"type": "string", "format": "date-time"}
        }
      },
      "Output": {
        "type": "object", "required": ["name", "url", "bytes", "modified_at"],
        "properties": {"name": {"type": "string"}, "url": {"type": "string"}, "bytes": {"type": "integer"}, "modified_at": {"type": "string"}}
      }
    }
  }
}
"""#
}
