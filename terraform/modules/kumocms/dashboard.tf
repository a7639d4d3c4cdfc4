# One CloudWatch dashboard per stack: traffic and errors of the API, the functions, the queues, the
# tables and the stack's own metrics (rejected keys, lost domain events).

locals {
  dashboard_region = data.aws_region.current.name
  api_dimensions   = ["ApiName", aws_api_gateway_rest_api.this.name, "Stage", aws_api_gateway_stage.this.stage_name]
  function_list    = sort(keys(local.functions))

  dashboard_widgets = [
    {
      title   = "API requests and errors"
      metrics = [for metric in ["Count", "4XXError", "5XXError"] : concat(["AWS/ApiGateway", metric], local.api_dimensions, [{ stat = "Sum" }])]
    },
    {
      title   = "API latency (p50, p99)"
      metrics = [for stat in ["p50", "p99"] : concat(["AWS/ApiGateway", "Latency"], local.api_dimensions, [{ stat = stat }])]
    },
    {
      title   = "Function errors"
      metrics = [for name in local.function_list : ["AWS/Lambda", "Errors", "FunctionName", local.function_names[name], { stat = "Sum" }]]
    },
    {
      title   = "Function invocations"
      metrics = [for name in local.function_list : ["AWS/Lambda", "Invocations", "FunctionName", local.function_names[name], { stat = "Sum" }]]
    },
    {
      title   = "Function duration (p99)"
      metrics = [for name in local.function_list : ["AWS/Lambda", "Duration", "FunctionName", local.function_names[name], { stat = "p99" }]]
    },
    {
      title   = "Function throttles"
      metrics = [for name in local.function_list : ["AWS/Lambda", "Throttles", "FunctionName", local.function_names[name], { stat = "Sum" }]]
    },
    {
      title = "Queues: visible messages"
      metrics = [
        for queue in [aws_sqs_queue.ingest.name, aws_sqs_queue.ingest_dlq.name, aws_sqs_queue.parking.name, aws_sqs_queue.transfer.name, aws_sqs_queue.transfer_dlq.name] :
        ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue, { stat = "Maximum" }]
      ]
    },
    {
      title = "Queues: oldest message (s)"
      metrics = [
        for queue in [aws_sqs_queue.ingest.name, aws_sqs_queue.ingest_dlq.name, aws_sqs_queue.parking.name, aws_sqs_queue.transfer.name, aws_sqs_queue.transfer_dlq.name] :
        ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue, { stat = "Maximum" }]
      ]
    },
    {
      title = "DynamoDB throttle events"
      metrics = [
        for metric in values(local.dynamodb_throttle_metrics) :
        concat(["AWS/DynamoDB", metric.metric], flatten([for name, value in metric.dimensions : [name, value]]), [{ stat = "Sum" }])
      ]
    },
    {
      title = "DynamoDB consumed capacity"
      metrics = [
        for pair in setproduct([for table in values(local.dynamodb_tables) : table.name], ["ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"]) :
        ["AWS/DynamoDB", pair[1], "TableName", pair[0], { stat = "Sum" }]
      ]
    },
    {
      title   = "Rejected API keys"
      metrics = [[local.metrics_namespace, "AuthFailures", "function", "authorizer", { stat = "Sum" }]]
    },
    {
      title   = "Domain events not published"
      metrics = [for name in sort(local.event_functions) : [local.metrics_namespace, "EventsNotPublished", "function", name, { stat = "Sum" }]]
    },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = "${var.name_prefix}-${local.dashboard_region}"
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.dashboard_region
          view    = "timeSeries"
          stacked = false
          period  = 300
          metrics = widget.metrics
        }
      }
    ]
  })
}
