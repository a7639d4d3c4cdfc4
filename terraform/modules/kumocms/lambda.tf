# One function per entry of routes.json, all from the one zip; each with its own role and log group.

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs' own keys; a customer managed key would need a key policy for the logs service principal, which this module does not own.
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (log_retention_days, 30 days by default); the logs hold no documents.
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
  tags              = local.common_tags
}

# The zip holds bytecode compiled for one Python version: deploying it to another runtime works but
# recompiles every module at every cold start. The plan fails instead.
resource "terraform_data" "lambda_package" {
  input = {
    runtime = var.runtime
    built   = var.lambda_zip_runtimes
  }

  lifecycle {
    precondition {
      condition     = contains(var.lambda_zip_runtimes, var.runtime)
      error_message = "runtime ${var.runtime} is not a runtime the zip was built for (${join(", ", var.lambda_zip_runtimes)}): build the package for it, or deploy one of those."
    }
  }
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Only dlq_retry and reconcile are invoked asynchronously (by schedules); a lost run is repeated by the next tick, and every other function is invoked synchronously or by an event source mapping, where a function DLQ does not apply.
  #checkov:skip=CKV_AWS_117:The functions reach only AWS APIs (S3, DynamoDB, EventBridge, SQS); a VPC would add NAT or endpoints and cold-start latency without isolating anything.
  #checkov:skip=CKV_AWS_272:Code signing is the code_signing_config_arn input (off by default: it needs an AWS Signer profile and a signed zip); the unsigned zip is built reproducibly by `nox -s package` and attached to the release.
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = each.value.description
  role             = aws_iam_role.function[each.key].arn
  handler          = each.value.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  filename         = var.lambda_zip
  source_code_hash = var.lambda_zip_hash
  memory_size      = local.memory[each.key]
  timeout          = local.timeouts[each.key]
  publish          = local.use_alias
  kms_key_arn      = var.kms_key_arn

  code_signing_config_arn = var.code_signing_config_arn

  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = local.function_environment[each.key]
  }

  tracing_config {
    mode = var.xray_tracing ? "Active" : "PassThrough"
  }

  dynamic "snap_start" {
    for_each = var.snap_start ? [true] : []
    content {
      apply_on = "PublishedVersions"
    }
  }

  tags = local.common_tags

  lifecycle {
    precondition {
      condition     = !contains(local.http_functions, each.key) || local.timeouts[each.key] <= 29
      error_message = "HTTP functions must time out within 29 seconds, API Gateway's integration timeout."
    }
  }

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.function,
    terraform_data.lambda_package,
  ]
}

resource "aws_lambda_alias" "live" {
  for_each = local.use_alias ? local.functions : {}

  name             = "live"
  description      = "The published version everything invokes (SnapStart restores it; provisioned concurrency keeps it warm)."
  function_name    = aws_lambda_function.this[each.key].function_name
  function_version = aws_lambda_function.this[each.key].version
}

# ---- provisioned concurrency (on the alias `live`) ----------------------------------------------

resource "aws_lambda_provisioned_concurrency_config" "live" {
  for_each = var.provisioned_concurrency

  function_name                     = aws_lambda_function.this[each.key].function_name
  qualifier                         = aws_lambda_alias.live[each.key].name
  provisioned_concurrent_executions = each.value

  lifecycle {
    precondition {
      condition     = lookup(var.reserved_concurrency, each.key, -1) == -1 || each.value <= lookup(var.reserved_concurrency, each.key, -1)
      error_message = "Provisioned concurrency of ${each.key} cannot exceed its reserved concurrency."
    }
  }
}

# ---- the ingest queue drives the ingest function ------------------------------------------------

resource "aws_lambda_event_source_mapping" "ingest" {
  event_source_arn                   = aws_sqs_queue.ingest.arn
  function_name                      = local.function_target_arns["ingest"]
  batch_size                         = var.ingest_batch_size
  maximum_batching_window_in_seconds = var.ingest_batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.ingest_maximum_concurrency
  }

  depends_on = [aws_iam_role_policy.function]
}

# ---- schedules ------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = {
    dlq_retry = var.dlq_retry_schedule
    reconcile = local.reconcile_schedule
  }

  name                = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  description         = "Runs the ${each.key} function."
  schedule_expression = each.value
  tags                = local.common_tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = aws_cloudwatch_event_rule.schedule

  rule = each.value.name
  arn  = local.function_target_arns[each.key]
}

resource "aws_lambda_permission" "schedule" {
  for_each = aws_cloudwatch_event_rule.schedule

  statement_id  = "AllowSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  qualifier     = local.function_qualifier
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}
