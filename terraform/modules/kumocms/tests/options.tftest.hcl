# The switches: a customer managed KMS key, SnapStart, X-Ray tracing and CORS origins.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "customer_managed_key" {
  command = apply

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition = (
      one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "aws:kms" &&
      one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].kms_master_key_id == var.kms_key_arn &&
      one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).bucket_key_enabled
    )
    error_message = "With a key the bucket uses SSE-KMS with an S3 bucket key."
  }

  assert {
    condition = (
      aws_dynamodb_table.documents.server_side_encryption[0].kms_key_arn == var.kms_key_arn &&
      aws_dynamodb_table.users.server_side_encryption[0].kms_key_arn == var.kms_key_arn &&
      aws_dynamodb_table.history.server_side_encryption[0].kms_key_arn == var.kms_key_arn
    )
    error_message = "With a key every table uses it."
  }

  assert {
    condition = (
      one(data.aws_iam_policy_document.kms_key[0].statement).sid == "KmsThroughStorage" &&
      one(data.aws_iam_policy_document.kms_key[0].statement).actions == toset(["kms:Decrypt", "kms:GenerateDataKey"]) &&
      one(data.aws_iam_policy_document.kms_key[0].statement).resources == toset([var.kms_key_arn]) &&
      alltrue([for document in data.aws_iam_policy_document.function : contains(document.source_policy_documents, data.aws_iam_policy_document.kms_key[0].json)])
    )
    error_message = "With a key every role may use it (through S3, DynamoDB and Lambda only)."
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.kms_key_arn == var.kms_key_arn])
    error_message = "With a key the functions' environments are encrypted with it."
  }
}

run "snap_start_invokes_the_live_alias" {
  command = apply

  variables {
    snap_start = true
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.publish && function.snap_start[0].apply_on == "PublishedVersions"])
    error_message = "SnapStart publishes versions of every function."
  }

  assert {
    condition     = length(aws_lambda_alias.live) == length(aws_lambda_function.this) && alltrue([for alias in aws_lambda_alias.live : alias.name == "live"])
    error_message = "Every function has the alias live."
  }

  assert {
    condition     = alltrue([for key, integration in aws_api_gateway_integration.route : integration.uri == aws_lambda_alias.live[local.routes[key].function].invoke_arn])
    error_message = "API Gateway invokes the alias."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this.authorizer_uri == aws_lambda_alias.live["authorizer"].invoke_arn
    error_message = "The authorizer is the alias."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.ingest.function_name == aws_lambda_alias.live["ingest"].arn
    error_message = "The event source mapping invokes the alias."
  }

  assert {
    condition = (
      alltrue([for permission in aws_lambda_permission.route : permission.qualifier == "live"]) &&
      aws_lambda_permission.authorizer.qualifier == "live" &&
      alltrue([for permission in aws_lambda_permission.schedule : permission.qualifier == "live"])
    )
    error_message = "Invoke permissions are granted on the alias."
  }
}

run "xray_tracing" {
  command = apply

  variables {
    xray_tracing = true
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.tracing_config[0].mode == "Active"]) && aws_api_gateway_stage.this.xray_tracing_enabled
    error_message = "Tracing is active on the functions and the stage."
  }

  assert {
    condition = (
      one(data.aws_iam_policy_document.xray_tracing.statement).sid == "XRayTracing" &&
      alltrue([for document in data.aws_iam_policy_document.function : contains(document.source_policy_documents, data.aws_iam_policy_document.xray_tracing.json)])
    )
    error_message = "Every role may send traces."
  }
}

run "cors_for_browsers" {
  command = apply

  variables {
    cors_allowed_origins = ["https://app.example", "https://admin.example"]
  }

  assert {
    condition = (
      one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_origins == toset(var.cors_allowed_origins) &&
      one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_methods == toset(["GET", "POST", "PUT"]) &&
      one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).allowed_headers == toset(["*", "content-type", "x-amz-checksum-sha256"]) &&
      one(aws_s3_bucket_cors_configuration.documents[0].cors_rule).expose_headers == toset(["ETag"])
    )
    error_message = "Browsers may upload from the allowed origins and read the ETag."
  }

  assert {
    condition     = length(aws_api_gateway_method.options) == length(distinct([for route in jsondecode(file("${path.module}/routes.json")).routes : route.path]))
    error_message = "Every path with a route answers preflight requests."
  }

  assert {
    condition     = alltrue([for method in aws_api_gateway_method.options : method.authorization == "NONE"])
    error_message = "Preflight requests are not authorized (browsers send no credentials)."
  }

  assert {
    condition     = aws_api_gateway_integration_response.options["/documents/{id}"].response_parameters["method.response.header.Access-Control-Allow-Methods"] == "'DELETE,GET,PATCH,PUT,OPTIONS'"
    error_message = "A preflight lists the path's methods."
  }

  assert {
    condition     = strcontains(aws_api_gateway_integration_response.options["/documents"].response_templates["application/json"], "https://admin.example")
    error_message = "With several origins the preflight echoes only allowed ones."
  }

  assert {
    condition     = alltrue([for response in aws_api_gateway_gateway_response.problem : response.response_parameters["gatewayresponse.header.Access-Control-Allow-Origin"] == "method.request.header.Origin"])
    error_message = "Gateway errors carry CORS headers so browsers can read them."
  }

  assert {
    condition     = aws_lambda_function.this["documents_write"].environment[0].variables["CORS_ALLOWED_ORIGINS"] == "https://app.example,https://admin.example"
    error_message = "The functions learn the allowed origins."
  }
}

run "indexed_fields_reach_every_function_as_json" {
  command = plan

  variables {
    indexed_fields = { team = "string", year = "number" }
  }

  assert {
    condition = alltrue([
      for name in ["documents_read", "documents_write", "ingest", "reconcile", "transfer"] :
      jsondecode(aws_lambda_function.this[name].environment[0].variables["INDEXED_FIELDS"]) == { team = "string", year = "number" }
    ])
    error_message = "every function that reads or writes documents gets INDEXED_FIELDS."
  }
}
