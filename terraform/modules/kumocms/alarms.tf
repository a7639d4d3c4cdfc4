# CloudWatch alarms, one SNS topic for all of them, and a dashboard.
#
# An alarm pages someone, so each one watches a loss or a failure rate, never a single event a
# client caused: the API's 5XX share and each function's error share over a window (with a floor of
# traffic below which a rate means nothing), the authorizer's real failures (its Errors minus the
# keys it rejected: a rejection must fail the invocation to answer 401), floods of rejected keys,
# lost domain events, DynamoDB throttling, anything in the DLQ or the parking queue, backlogs
# growing old, and throttled functions.

locals {
  alarm_queues = {
    ingest_dlq   = aws_sqs_queue.ingest_dlq.name
    parking      = aws_sqs_queue.parking.name
    transfer_dlq = aws_sqs_queue.transfer_dlq.name
  }
  age_alarm_queues = merge(local.alarm_queues, { ingest = aws_sqs_queue.ingest.name, transfer = aws_sqs_queue.transfer.name })

  metrics_namespace = coalesce(var.metrics_namespace, "KumoCMS/${var.name_prefix}")

  # Scheduled functions run a few times an hour and Lambda retries a failed asynchronous run
  # twice, so their error share is taken over an hour: above 50 % means runs fail after retries.
  scheduled_functions  = toset([for name, function in local.functions : name if function.trigger == "schedule"])
  event_functions      = toset([for name, function in local.functions : name if contains(function.required_variables, "EVENT_BUS_NAME")])
  error_window_seconds = { for name in keys(local.functions) : name => contains(local.scheduled_functions, name) ? 3600 : var.alarm_window_seconds }
  error_threshold      = { for name in keys(local.functions) : name => contains(local.scheduled_functions, name) ? var.scheduled_error_rate_threshold_percent : var.function_error_rate_threshold_percent }
  error_min_calls      = { for name in keys(local.functions) : name => contains(local.scheduled_functions, name) ? 1 : var.function_error_min_invocations }

  # errors - rejections for the authorizer (never below zero), errors for every other function.
  failures_expression = {
    for name in keys(local.functions) : name => (
      name == "authorizer" ? "IF(FILL(errors, 0) - FILL(rejected, 0) > 0, FILL(errors, 0) - FILL(rejected, 0), 0)" : "FILL(errors, 0)"
    )
  }

  dynamodb_tables = {
    documents = aws_dynamodb_table.documents
    users     = aws_dynamodb_table.users
    history   = aws_dynamodb_table.history
  }

  # Table-level and index-level throttle events (an index's write throttles throttle the table).
  dynamodb_throttle_metrics = {
    for pair in flatten([
      for table, resource in local.dynamodb_tables : [
        for scope in concat([null], [for index in resource.global_secondary_index : index.name]) : [
          for metric in ["ReadThrottleEvents", "WriteThrottleEvents"] : {
            table     = table
            direction = metric == "ReadThrottleEvents" ? "read" : "write"
            id        = lower("${metric == "ReadThrottleEvents" ? "r" : "w"}_${scope == null ? "table" : scope}")
            metric    = metric
            dimensions = merge(
              { TableName = resource.name },
              scope == null ? {} : { GlobalSecondaryIndexName = scope },
            )
          }
        ]
      ]
    ]) : "${pair.table}.${pair.id}" => pair
  }

  alarm_actions = concat(aws_sns_topic.alarms[*].arn, var.alarm_actions)

  # The functions that roll copies back (and publish DocumentCopyFailed): the transfer worker
  # when its retries run out, reconcile for stalled or dead-lettered copies.
  copy_rollback_functions = toset(["reconcile", "transfer"])
}

# ---- the topic every alarm notifies -------------------------------------------------------------

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch can publish to an encrypted topic only with a customer managed key whose key policy admits cloudwatch.amazonaws.com (AWS managed keys cannot); alarm_topic_kms_key_arn takes one, and without it the topic carries alarm names and states only, never documents.
  count = var.create_alarms && var.create_alarm_topic ? 1 : 0

  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.alarm_topic_kms_key_arn
  tags              = local.common_tags
}

data "aws_iam_policy_document" "alarm_topic" {
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["sns:Publish"]
    resources = ["arn:${data.aws_partition.current.partition}:sns:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.name_prefix}-alarms"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  count = length(aws_sns_topic.alarms)

  arn    = aws_sns_topic.alarms[0].arn
  policy = data.aws_iam_policy_document.alarm_topic.json
}

# ---- queues -------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "queue_depth" {
  for_each = var.create_alarms ? local.alarm_queues : {}

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}-not-empty"
  alarm_description   = "Messages wait in ${each.value}: events that could not be applied."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = var.create_alarms ? local.age_alarm_queues : {}

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}-oldest-message"
  alarm_description   = "The oldest message in ${each.value} is older than ${var.queue_age_alarm_seconds} seconds."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

# ---- functions ----------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = var.create_alarms ? local.functions : {}

  alarm_name = "${local.function_names[each.key]}-error-rate"
  alarm_description = (
    each.key == "authorizer" ?
    "More than ${local.error_threshold[each.key]} % of authorizer invocations failed for another reason than a rejected key (over ${local.error_window_seconds[each.key]} s, at least ${local.error_min_calls[each.key]} invocations)." :
    "More than ${local.error_threshold[each.key]} % of ${each.key} invocations failed (over ${local.error_window_seconds[each.key]} s, at least ${local.error_min_calls[each.key]} invocations)."
  )
  comparison_operator = "GreaterThanThreshold"
  threshold           = local.error_threshold[each.key]
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags

  metric_query {
    id          = "rate"
    label       = "Failed invocations (%)"
    expression  = "IF(invocations >= ${local.error_min_calls[each.key]}, 100 * ${local.failures_expression[each.key]} / invocations, 0)"
    return_data = true
  }

  metric_query {
    id = "invocations"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      dimensions  = { FunctionName = aws_lambda_function.this[each.key].function_name }
      period      = local.error_window_seconds[each.key]
      stat        = "Sum"
    }
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Errors"
      dimensions  = { FunctionName = aws_lambda_function.this[each.key].function_name }
      period      = local.error_window_seconds[each.key]
      stat        = "Sum"
    }
  }

  dynamic "metric_query" {
    for_each = each.key == "authorizer" ? [true] : []
    content {
      id = "rejected"
      metric {
        namespace   = local.metrics_namespace
        metric_name = "AuthFailures"
        dimensions  = { function = "authorizer" }
        period      = local.error_window_seconds[each.key]
        stat        = "Sum"
      }
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = var.create_alarms ? local.functions : {}

  alarm_name          = "${local.function_names[each.key]}-throttles"
  alarm_description   = "More than ${var.function_throttle_threshold} invocations of ${each.key} were throttled in ${var.alarm_window_seconds} s (reserved or account concurrency exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = var.alarm_window_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.function_throttle_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "authorizer_rejections" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name_prefix}-authorizer-rejections"
  alarm_description   = "More than ${var.authorizer_rejection_threshold} requests with a missing, unknown, disabled or revoked key in ${var.alarm_window_seconds} s: key guessing, or a client still using a rotated key."
  namespace           = local.metrics_namespace
  metric_name         = "AuthFailures"
  dimensions          = { function = "authorizer" }
  statistic           = "Sum"
  period              = var.alarm_window_seconds
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.authorizer_rejection_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "events_not_published" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name_prefix}-events-not-published"
  alarm_description   = "Domain events were lost after EventBridge retries (the change stands; subscribers missed it). See the function logs for domain_events_not_published."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.events_not_published_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags

  metric_query {
    id          = "lost"
    label       = "Domain events not published"
    expression  = join(" + ", [for name in sort(local.event_functions) : "FILL(${name}, 0)"])
    return_data = true
  }

  dynamic "metric_query" {
    for_each = sort(local.event_functions)
    content {
      id = metric_query.value
      metric {
        namespace   = local.metrics_namespace
        metric_name = "EventsNotPublished"
        dimensions  = { function = metric_query.value }
        period      = var.alarm_window_seconds
        stat        = "Sum"
      }
    }
  }
}

# A copy the transfer worker gave up on (its retries ran out in the worker, or its order reached
# the transfer DLQ, or it stalled): the document went back to its previous state, which the
# client that asked for the archive or permanent restore will not see without looking again.
resource "aws_cloudwatch_metric_alarm" "copies_failed" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name_prefix}-copies-failed"
  alarm_description   = "A large copy (archive or permanent restore) was rolled back: the document is back in its previous state (DocumentCopyFailed). See the transfer and reconcile logs for the reason."
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags

  metric_query {
    id          = "failed"
    label       = "Copies rolled back"
    expression  = join(" + ", [for name in sort(local.copy_rollback_functions) : "FILL(${name}, 0)"])
    return_data = true
  }

  dynamic "metric_query" {
    for_each = sort(local.copy_rollback_functions)
    content {
      id = metric_query.value
      metric {
        namespace   = local.metrics_namespace
        metric_name = "DocumentCopyFailed"
        dimensions  = { function = metric_query.value }
        period      = var.alarm_window_seconds
        stat        = "Sum"
      }
    }
  }
}

# ---- the API --------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name_prefix}-api-5xx-rate"
  alarm_description   = "More than ${var.api_5xx_rate_threshold_percent} % of API requests answered 5XX over ${var.alarm_window_seconds} s (with at least ${var.api_5xx_min_requests} requests): functions failing or timing out, or a dependency down."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_rate_threshold_percent
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags

  metric_query {
    id          = "rate"
    label       = "5XX responses (%)"
    expression  = "IF(requests >= ${var.api_5xx_min_requests}, 100 * FILL(errors, 0) / requests, 0)"
    return_data = true
  }

  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "Count"
      dimensions  = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
      period      = var.alarm_window_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApiGateway"
      metric_name = "5XXError"
      dimensions  = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
      period      = var.alarm_window_seconds
      stat        = "Sum"
    }
  }
}

# ---- DynamoDB -------------------------------------------------------------------------------------

# One alarm per table and direction: PutMetricAlarm takes at most 10 metrics (MetricStat entries)
# per alarm, and the documents table's reads alone are the table and its seven indexes.
resource "aws_cloudwatch_metric_alarm" "dynamodb_throttles" {
  for_each = var.create_alarms ? {
    for pair in setproduct(keys(local.dynamodb_tables), ["read", "write"]) : "${pair[0]}-${pair[1]}" => {
      table     = pair[0]
      direction = pair[1]
      name      = local.dynamodb_tables[pair[0]].name
    }
  } : {}

  alarm_name          = "${var.name_prefix}-${each.value.table}-table-${each.value.direction}-throttles"
  alarm_description   = "More than ${var.dynamodb_throttle_threshold} ${each.value.direction} throttle events on ${each.value.name} or its indexes in ${var.alarm_window_seconds} s: a hot partition (see list_shards) or a burst above twice the previous peak."
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dynamodb_throttle_threshold
  evaluation_periods  = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags

  metric_query {
    id          = "throttled"
    label       = "Throttle events (${each.value.direction})"
    expression  = join(" + ", [for key, metric in local.dynamodb_throttle_metrics : "FILL(${metric.id}, 0)" if metric.table == each.value.table && metric.direction == each.value.direction])
    return_data = true
  }

  dynamic "metric_query" {
    for_each = { for key, metric in local.dynamodb_throttle_metrics : key => metric if metric.table == each.value.table && metric.direction == each.value.direction }
    content {
      id = metric_query.value.id
      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = metric_query.value.metric
        dimensions  = metric_query.value.dimensions
        period      = var.alarm_window_seconds
        stat        = "Sum"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length([for metric in values(local.dynamodb_throttle_metrics) : metric if metric.table == each.value.table && metric.direction == each.value.direction]) <= 10
      error_message = "CloudWatch takes at most 10 metrics per alarm: the ${each.value.table} table has too many indexes for one ${each.value.direction} throttle alarm."
    }
  }
}
