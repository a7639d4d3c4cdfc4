# The module's promises with its defaults, applied against a mocked AWS provider (offline).
# Assertions read resource arguments and policy-document inputs, never rendered JSON: mocked
# data sources return canned strings.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "storage_is_protected" {
  command = apply

  assert {
    condition     = aws_dynamodb_table.documents.point_in_time_recovery[0].enabled && aws_dynamodb_table.users.point_in_time_recovery[0].enabled && aws_dynamodb_table.history.point_in_time_recovery[0].enabled
    error_message = "Point-in-time recovery must be on for every table."
  }

  assert {
    condition     = aws_dynamodb_table.documents.deletion_protection_enabled && aws_dynamodb_table.users.deletion_protection_enabled && aws_dynamodb_table.history.deletion_protection_enabled
    error_message = "Deletion protection must be on for every table."
  }

  assert {
    condition     = aws_dynamodb_table.documents.server_side_encryption[0].enabled && aws_dynamodb_table.users.server_side_encryption[0].enabled && aws_dynamodb_table.history.server_side_encryption[0].enabled
    error_message = "Every table must be encrypted."
  }

  assert {
    condition     = aws_dynamodb_table.documents.ttl[0].enabled && aws_dynamodb_table.documents.ttl[0].attribute_name == "expires_at"
    error_message = "The documents table must expire items by expires_at."
  }

  assert {
    condition     = aws_dynamodb_table.documents.billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.users.billing_mode == "PAY_PER_REQUEST"
    error_message = "Both tables are on-demand."
  }

  assert {
    condition = (
      aws_s3_bucket_public_access_block.documents.block_public_acls &&
      aws_s3_bucket_public_access_block.documents.block_public_policy &&
      aws_s3_bucket_public_access_block.documents.ignore_public_acls &&
      aws_s3_bucket_public_access_block.documents.restrict_public_buckets
    )
    error_message = "Every public access block setting must be on."
  }

  assert {
    condition = anytrue([
      for statement in data.aws_iam_policy_document.bucket.statement :
      statement.effect == "Deny" && contains(statement.actions, "s3:*") && anytrue([
        for condition in statement.condition :
        condition.test == "Bool" && condition.variable == "aws:SecureTransport" && condition.values == tolist(["false"])
      ])
    ])
    error_message = "The bucket policy must deny every request not made over TLS."
  }

  assert {
    condition     = aws_s3_bucket_policy.documents.policy == data.aws_iam_policy_document.bucket.json
    error_message = "The bucket policy must be the TLS-only policy document."
  }

  assert {
    condition     = aws_s3_bucket_versioning.documents.versioning_configuration[0].status == "Enabled"
    error_message = "The bucket must be versioned."
  }

  assert {
    condition     = one(aws_s3_bucket_server_side_encryption_configuration.documents.rule).apply_server_side_encryption_by_default[0].sse_algorithm == "AES256"
    error_message = "Without a KMS key the bucket uses SSE-S3."
  }

  assert {
    condition     = aws_s3_bucket_ownership_controls.documents.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition = (
      aws_s3_bucket_lifecycle_configuration.documents.rule[0].noncurrent_version_expiration[0].noncurrent_days == 7 &&
      aws_s3_bucket_lifecycle_configuration.documents.rule[0].abort_incomplete_multipart_upload[0].days_after_initiation == 7 &&
      aws_s3_bucket_lifecycle_configuration.documents.rule[0].expiration[0].expired_object_delete_marker
    )
    error_message = "Lifecycle must purge noncurrent versions after 7 days, abort stale multipart uploads and drop expired delete markers."
  }

  assert {
    condition     = aws_s3_bucket_notification.documents.eventbridge
    error_message = "S3 must send its events to EventBridge."
  }

  assert {
    condition     = length(aws_s3_bucket_cors_configuration.documents) == 0
    error_message = "Without allowed origins there is no CORS configuration."
  }
}

run "events_flow_through_queues" {
  command = apply

  assert {
    condition     = aws_lambda_event_source_mapping.ingest.function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "The ingest event source mapping must report batch item failures."
  }

  assert {
    condition     = aws_lambda_event_source_mapping.ingest.scaling_config[0].maximum_concurrency == var.ingest_maximum_concurrency
    error_message = "The event source mapping's maximum concurrency comes from the variable."
  }

  assert {
    condition     = aws_sqs_queue.ingest.visibility_timeout_seconds >= 6 * aws_lambda_function.this["ingest"].timeout
    error_message = "The ingest queue's visibility timeout must be at least 6x the ingest timeout."
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.ingest.redrive_policy).deadLetterTargetArn == aws_sqs_queue.ingest_dlq.arn
    error_message = "The ingest queue must redrive to the ingest DLQ."
  }

  assert {
    condition     = aws_cloudwatch_event_target.s3_events.dead_letter_config[0].arn == aws_sqs_queue.ingest_dlq.arn
    error_message = "The S3 event rule's target must have a dead-letter queue."
  }

  assert {
    condition     = aws_cloudwatch_event_target.s3_events.arn == aws_sqs_queue.ingest.arn
    error_message = "S3 events go to the ingest queue."
  }

  assert {
    condition = (
      jsondecode(aws_cloudwatch_event_rule.s3_events.event_pattern).source == ["aws.s3"] &&
      jsondecode(aws_cloudwatch_event_rule.s3_events.event_pattern).detail.bucket.name == [aws_s3_bucket.documents.id] &&
      length(jsondecode(aws_cloudwatch_event_rule.s3_events.event_pattern)["detail-type"]) == 4
    )
    error_message = "The rule matches this bucket's object and restore events."
  }

  assert {
    condition     = aws_sqs_queue.ingest.sqs_managed_sse_enabled && aws_sqs_queue.ingest_dlq.sqs_managed_sse_enabled && aws_sqs_queue.parking.sqs_managed_sse_enabled
    error_message = "Every queue is encrypted."
  }

  assert {
    condition     = aws_sqs_queue.parking.name == "kumocms-parking" && aws_sqs_queue.ingest_dlq.name == "kumocms-ingest-dlq"
    error_message = "The DLQ and the parking queue exist."
  }

  assert {
    condition     = aws_cloudwatch_event_bus.domain.name == "kumocms"
    error_message = "The domain event bus is named after the prefix."
  }

  assert {
    condition = (
      aws_cloudwatch_event_target.schedule["dlq_retry"].arn == aws_lambda_function.this["dlq_retry"].arn &&
      aws_cloudwatch_event_target.schedule["reconcile"].arn == aws_lambda_function.this["reconcile"].arn
    )
    error_message = "The schedules invoke dlq_retry and reconcile."
  }
}

run "every_route_is_served" {
  command = apply

  assert {
    condition     = length(aws_api_gateway_method.route) == length(jsondecode(file("${path.module}/routes.json")).routes)
    error_message = "Every route of routes.json has a method."
  }

  assert {
    condition = alltrue([
      for key, method in aws_api_gateway_method.route :
      contains(["GET /healthcheck", "GET /docs"], key) ? method.authorization == "NONE" && method.authorizer_id == null : method.authorization == "CUSTOM" && method.authorizer_id == aws_api_gateway_authorizer.this.id
    ])
    error_message = "Every route but GET /healthcheck and GET /docs must use the REQUEST authorizer, and those two none."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this.type == "REQUEST" && aws_api_gateway_authorizer.this.identity_source == "method.request.header.Authorization"
    error_message = "The authorizer is a REQUEST authorizer on the Authorization header."
  }

  assert {
    condition     = aws_api_gateway_authorizer.this.authorizer_result_ttl_in_seconds == 300
    error_message = "The authorizer caches results for the configured TTL."
  }

  assert {
    condition = alltrue([
      for key, integration in aws_api_gateway_integration.route :
      integration.type == "AWS_PROXY" && integration.uri == aws_lambda_function.this[local.routes[key].function].invoke_arn
    ])
    error_message = "Every route is a Lambda proxy integration of its function."
  }

  assert {
    condition     = aws_api_gateway_method.route["GET /documents/{id}/content"].request_parameters["method.request.path.id"]
    error_message = "Routes with {id} declare the path parameter."
  }

  assert {
    condition     = aws_api_gateway_rest_api.this.binary_media_types == tolist(["multipart/form-data"])
    error_message = "Only multipart/form-data bodies are binary; JSON reaches the functions as text."
  }

  assert {
    condition = alltrue([
      for type in ["UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "REQUEST_TOO_LARGE", "THROTTLED", "AUTHORIZER_FAILURE", "DEFAULT_4XX", "DEFAULT_5XX"] :
      jsondecode(aws_api_gateway_gateway_response.problem[type].response_templates["application/problem+json"]).status == tonumber(aws_api_gateway_gateway_response.problem[type].status_code) &&
      aws_api_gateway_gateway_response.problem[type].response_parameters["gatewayresponse.header.Content-Type"] == "'application/problem+json'"
    ])
    error_message = "Gateway errors are problem+json documents whose status matches the response."
  }

  assert {
    condition = alltrue([
      for response in aws_api_gateway_gateway_response.problem :
      response.status_code == "401" ? response.response_parameters["gatewayresponse.header.WWW-Authenticate"] == "'Bearer realm=\"kumocms\"'" : !contains(keys(response.response_parameters), "gatewayresponse.header.WWW-Authenticate")
    ]) && contains(keys(aws_api_gateway_gateway_response.problem["UNAUTHORIZED"].response_parameters), "gatewayresponse.header.WWW-Authenticate")
    error_message = "Every 401 gateway response (and only a 401) carries WWW-Authenticate: Bearer."
  }

  assert {
    condition = (
      aws_api_gateway_gateway_response.problem["UNAUTHORIZED"].status_code == "401" &&
      aws_api_gateway_gateway_response.problem["ACCESS_DENIED"].status_code == "403" &&
      aws_api_gateway_gateway_response.problem["MISSING_AUTHENTICATION_TOKEN"].status_code == "404" &&
      aws_api_gateway_gateway_response.problem["REQUEST_TOO_LARGE"].status_code == "413" &&
      aws_api_gateway_gateway_response.problem["THROTTLED"].status_code == "429" &&
      aws_api_gateway_gateway_response.problem["AUTHORIZER_FAILURE"].status_code == "503"
    )
    error_message = "Gateway responses carry the contract's status codes."
  }

  assert {
    condition     = length(aws_api_gateway_method.options) == 0
    error_message = "Without allowed origins there are no preflight methods."
  }

  assert {
    condition     = aws_api_gateway_stage.this.access_log_settings[0].destination_arn == aws_cloudwatch_log_group.api_access.arn
    error_message = "The stage writes access logs."
  }

  assert {
    condition     = !strcontains(aws_api_gateway_stage.this.access_log_settings[0].format, "$context.requestBody") && !strcontains(aws_api_gateway_stage.this.access_log_settings[0].format, "$input")
    error_message = "Access logs never carry bodies."
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.settings[0].throttling_burst_limit == 500 && aws_api_gateway_method_settings.all.settings[0].throttling_rate_limit == 1000
    error_message = "The stage is throttled."
  }
}

run "one_function_per_manifest_entry" {
  command = apply

  assert {
    condition = alltrue([
      for function in jsondecode(file("${path.module}/routes.json")).functions :
      aws_lambda_function.this[function.name].handler == function.handler && aws_lambda_function.this[function.name].runtime == "python3.13"
    ])
    error_message = "Each function uses the manifest's handler string on python3.13."
  }

  assert {
    condition = alltrue([
      for function in jsondecode(file("${path.module}/routes.json")).functions : alltrue([
        for name in function.required_variables : contains(keys(aws_lambda_function.this[function.name].environment[0].variables), name)
      ])
    ])
    error_message = "Every function gets every environment variable it requires."
  }

  assert {
    condition = alltrue([
      for function in jsondecode(file("${path.module}/routes.json")).functions : alltrue([
        for name in keys(aws_lambda_function.this[function.name].environment[0].variables) :
        contains(concat(function.required_variables, function.optional_variables), name)
      ])
    ])
    error_message = "No function gets a variable its code does not read."
  }

  assert {
    condition     = aws_lambda_function.this["dlq_retry"].environment[0].variables["PARKING_QUEUE_URL"] == aws_sqs_queue.parking.url
    error_message = "dlq_retry knows the parking queue."
  }

  assert {
    condition     = alltrue([for name, function in aws_lambda_function.this : function.filename == "kumocms-lambda.zip" && function.role == aws_iam_role.function[name].arn])
    error_message = "Every function comes from the one zip and has its own role."
  }

  assert {
    condition     = alltrue([for name, group in aws_cloudwatch_log_group.function : group.name == "/aws/lambda/${aws_lambda_function.this[name].function_name}" && group.retention_in_days == 30])
    error_message = "Every function has its own log group with retention."
  }

  assert {
    condition     = length(aws_lambda_alias.live) == 0 && alltrue([for function in aws_lambda_function.this : !function.publish && length(function.snap_start) == 0])
    error_message = "Without SnapStart nothing is published and there is no alias."
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.tracing_config[0].mode == "PassThrough"])
    error_message = "X-Ray tracing is off by default."
  }

  assert {
    condition = (
      length(data.aws_iam_policy_document.kms_key) == 0 &&
      alltrue([for document in data.aws_iam_policy_document.function : length(document.source_policy_documents) == 1])
    )
    error_message = "Without a key or tracing no role gets KMS or X-Ray actions."
  }

  assert {
    condition     = alltrue([for name, document in data.aws_iam_policy_document.function : document.source_policy_documents == tolist([local.function_policy_documents[name].json])])
    error_message = "Each role's policy is its function's written-out document."
  }

  assert {
    condition = anytrue([
      for statement in local.function_policy_documents["ingest"].statement :
      statement.sid == "EventSourceMapping" && contains(statement.actions, "sqs:ReceiveMessage") && statement.resources == toset([aws_sqs_queue.ingest.arn])
    ])
    error_message = "The ingest role lets its event source mapping read the ingest queue."
  }

  assert {
    condition = alltrue([
      for name, document in local.function_policy_documents : alltrue([
        for statement in document.statement : !contains(statement.resources, "*")
      ])
    ])
    error_message = "No statement grants on every resource."
  }
}

run "users_role_touches_only_idempotency_items_of_the_documents_table" {
  command = plan

  assert {
    condition = anytrue([
      for statement in local.function_policy_documents["users"].statement :
      statement.sid == "IdempotencyRecords" && anytrue([
        for condition in statement.condition :
        condition.variable == "dynamodb:LeadingKeys" && contains(condition.values, "IDEM#*")
      ])
    ])
    error_message = "The users role may write only IDEM# items of the documents table."
  }
}

run "outputs_carry_arns" {
  command = apply

  assert {
    condition = (
      output.bucket_arn == aws_s3_bucket.documents.arn &&
      output.documents_table_arn == aws_dynamodb_table.documents.arn &&
      output.users_table_arn == aws_dynamodb_table.users.arn &&
      output.ingest_queue_arn == aws_sqs_queue.ingest.arn &&
      output.ingest_dlq_arn == aws_sqs_queue.ingest_dlq.arn &&
      output.parking_queue_arn == aws_sqs_queue.parking.arn &&
      output.api_stage_arn == aws_api_gateway_stage.this.arn &&
      output.api_execution_arn == aws_api_gateway_rest_api.this.execution_arn &&
      keys(output.function_arns) == keys(aws_lambda_function.this) &&
      length(output.function_alias_arns) == 0 &&
      output.alarm_topic_arn == aws_sns_topic.alarms[0].arn
    )
    error_message = "Bucket, tables, queues, stage, execution ARN, functions and the alarm topic are outputs."
  }
}
