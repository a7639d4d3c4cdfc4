# CloudWatch alarms: anything waiting in the DLQ or the parking queue, a backlog growing old, a
# function failing or being throttled, and the API answering 5XX.

locals {
  alarm_queues = {
    ingest_dlq = aws_sqs_queue.ingest_dlq.name
    parking    = aws_sqs_queue.parking.name
  }
  age_alarm_queues = merge(local.alarm_queues, { ingest = aws_sqs_queue.ingest.name })
  function_metrics = {
    for pair in setproduct(keys(local.functions), ["Errors", "Throttles"]) : "${pair[0]}-${pair[1]}" => {
      function = pair[0]
      metric   = pair[1]
    }
  }
}

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
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
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
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "function" {
  for_each = var.create_alarms ? local.function_metrics : {}

  alarm_name          = "${local.function_names[each.value.function]}-${lower(each.value.metric)}"
  alarm_description   = "${each.value.metric} of the ${each.value.function} function."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this[each.value.function].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = var.create_alarms ? 1 : 0

  alarm_name          = "${var.name_prefix}-api-5xx"
  alarm_description   = "The API answered 5XX (a function failed, timed out or a dependency is down)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = aws_api_gateway_rest_api.this.name, Stage = aws_api_gateway_stage.this.stage_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = local.common_tags
}
