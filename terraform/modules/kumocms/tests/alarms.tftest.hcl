# The alarms: rates over a window instead of single events, the authorizer's real failures, lost
# domain events, DynamoDB throttles, one topic, one dashboard, a metrics namespace per stack.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "queues_alarm_when_anything_waits" {
  command = apply

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.queue_depth["ingest_dlq"].metric_name == "ApproximateNumberOfMessagesVisible" &&
      aws_cloudwatch_metric_alarm.queue_depth["parking"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.queue_depth["parking"].comparison_operator == "GreaterThanThreshold" &&
      aws_cloudwatch_metric_alarm.queue_depth["transfer_dlq"].threshold == 0 &&
      aws_cloudwatch_metric_alarm.queue_age["transfer"].metric_name == "ApproximateAgeOfOldestMessage"
    )
    error_message = "The DLQs and the parking queue alarm as soon as they hold a message."
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.queue_age) == 5 && aws_cloudwatch_metric_alarm.queue_age["parking"].metric_name == "ApproximateAgeOfOldestMessage"
    error_message = "Old messages in the ingest and transfer queues, their DLQs and the parking queue alarm."
  }
}

run "the_api_alarms_on_its_5xx_rate_not_on_one_503" {
  command = apply

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.api_5xx[0].threshold == 5 &&
      [for query in aws_cloudwatch_metric_alarm.api_5xx[0].metric_query : query.expression if query.return_data == true][0] == "IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)" &&
      toset([for query in aws_cloudwatch_metric_alarm.api_5xx[0].metric_query : one(query.metric).metric_name if length(query.metric) > 0]) == toset(["Count", "5XXError"]) &&
      alltrue([for query in aws_cloudwatch_metric_alarm.api_5xx[0].metric_query : one(query.metric).period == 900 if length(query.metric) > 0])
    )
    error_message = "The 5XX alarm is the share of 5XX answers over 15 minutes, above 5 %, with at least 20 requests."
  }
}

run "function_errors_are_rates_and_rejected_keys_are_not_failures" {
  command = apply

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.function_errors) == length(aws_lambda_function.this) && length(aws_cloudwatch_metric_alarm.function_throttles) == length(aws_lambda_function.this)
    error_message = "Every function has an error rate and a throttles alarm."
  }

  assert {
    condition = (
      [for query in aws_cloudwatch_metric_alarm.function_errors["documents_read"].metric_query : query.expression if query.return_data == true][0] == "IF(invocations >= 10, 100 * FILL(errors, 0) / invocations, 0)" &&
      aws_cloudwatch_metric_alarm.function_errors["documents_read"].threshold == 5
    )
    error_message = "An HTTP function alarms on more than 5 % failed invocations, with at least 10."
  }

  assert {
    condition = (
      strcontains([for query in aws_cloudwatch_metric_alarm.function_errors["authorizer"].metric_query : query.expression if query.return_data == true][0], "FILL(errors, 0) - FILL(rejected, 0)") &&
      [
        for query in aws_cloudwatch_metric_alarm.function_errors["authorizer"].metric_query :
        [one(query.metric).metric_name, one(query.metric).namespace, one(query.metric).dimensions] if query.id == "rejected"
      ] == [["AuthFailures", "KumoCMS/kumocms", tomap({ function = "authorizer" })]]
    )
    error_message = "The authorizer's failures are its Errors minus the keys it rejected (the AuthFailures metric in the stack's namespace)."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.function_errors["reconcile"].threshold == 50 &&
      alltrue([for query in aws_cloudwatch_metric_alarm.function_errors["reconcile"].metric_query : one(query.metric).period == 3600 if length(query.metric) > 0]) &&
      strcontains([for query in aws_cloudwatch_metric_alarm.function_errors["dlq_retry"].metric_query : query.expression if query.return_data == true][0], "invocations >= 1,")
    )
    error_message = "Scheduled functions alarm when more than half their attempts in an hour failed."
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.authorizer_rejections[0].metric_name == "AuthFailures" &&
      aws_cloudwatch_metric_alarm.authorizer_rejections[0].namespace == "KumoCMS/kumocms" &&
      aws_cloudwatch_metric_alarm.authorizer_rejections[0].threshold == 500
    )
    error_message = "A flood of rejected keys alarms on its own, well above a typo."
  }
}

run "lost_events_and_table_throttles_alarm" {
  command = apply

  assert {
    condition = (
      toset([for query in aws_cloudwatch_metric_alarm.events_not_published[0].metric_query : query.id if length(query.metric) > 0]) == toset(["documents_write", "users", "ingest", "dlq_retry", "reconcile", "transfer"]) &&
      alltrue([for query in aws_cloudwatch_metric_alarm.events_not_published[0].metric_query : one(query.metric).metric_name == "EventsNotPublished" && one(query.metric).namespace == "KumoCMS/kumocms" if length(query.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.events_not_published[0].threshold == 0
    )
    error_message = "Any lost domain event of any publishing function alarms."
  }

  assert {
    condition = (
      toset([for query in aws_cloudwatch_metric_alarm.copies_failed[0].metric_query : query.id if length(query.metric) > 0]) == toset(["reconcile", "transfer"]) &&
      alltrue([for query in aws_cloudwatch_metric_alarm.copies_failed[0].metric_query : one(query.metric).metric_name == "DocumentCopyFailed" if length(query.metric) > 0]) &&
      aws_cloudwatch_metric_alarm.copies_failed[0].threshold == 0
    )
    error_message = "Any copy rolled back alarms."
  }

  assert {
    condition = (
      length(aws_cloudwatch_metric_alarm.dynamodb_throttles) == 6 &&
      length([for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["documents-read"].metric_query : query if length(query.metric) > 0]) == 8 &&
      length([for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["documents-write"].metric_query : query if length(query.metric) > 0]) == 8 &&
      length([for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["users-read"].metric_query : query if length(query.metric) > 0]) == 2 &&
      length([for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["history-write"].metric_query : query if length(query.metric) > 0]) == 1 &&
      [for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["documents-write"].metric_query : one(query.metric).dimensions if query.id == "w_by_created"] == [tomap({ TableName = aws_dynamodb_table.documents.name, GlobalSecondaryIndexName = "by_created" })] &&
      toset([for query in aws_cloudwatch_metric_alarm.dynamodb_throttles["documents-read"].metric_query : one(query.metric).metric_name if length(query.metric) > 0]) == toset(["ReadThrottleEvents"])
    )
    error_message = "Read and write throttle events of each table (documents, users, history) and each of its indexes alarm, one alarm per table and direction."
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.dynamodb_throttles : length([for query in alarm.metric_query : query if length(query.metric) > 0]) <= 10])
    error_message = "PutMetricAlarm takes at most 10 metrics per alarm."
  }
}

run "one_topic_for_every_alarm" {
  command = apply

  variables {
    alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:pager"]
  }

  assert {
    condition = alltrue(flatten([
      for alarms in [aws_cloudwatch_metric_alarm.queue_depth, aws_cloudwatch_metric_alarm.queue_age, aws_cloudwatch_metric_alarm.function_errors, aws_cloudwatch_metric_alarm.function_throttles, aws_cloudwatch_metric_alarm.api_5xx, aws_cloudwatch_metric_alarm.authorizer_rejections, aws_cloudwatch_metric_alarm.events_not_published, aws_cloudwatch_metric_alarm.copies_failed, aws_cloudwatch_metric_alarm.dynamodb_throttles] : [
        for alarm in alarms : alarm.alarm_actions == toset([aws_sns_topic.alarms[0].arn, "arn:aws:sns:eu-west-1:123456789012:pager"]) && alarm.ok_actions == alarm.alarm_actions
      ]
    ]))
    error_message = "Every alarm notifies the module's topic and the extra actions, on alarm and on recovery."
  }

  assert {
    condition     = output.alarm_topic_arn == aws_sns_topic.alarms[0].arn && aws_sns_topic_policy.alarms[0].arn == aws_sns_topic.alarms[0].arn
    error_message = "The topic is an output and lets CloudWatch publish."
  }
}

run "metrics_namespace_per_stack" {
  command = apply

  variables {
    name_prefix = "kumo-staging"
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.environment[0].variables["METRICS_NAMESPACE"] == "KumoCMS/kumo-staging"])
    error_message = "Every function writes its metrics to the stack's namespace."
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "kumo-staging-eu-west-1" && strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "KumoCMS/kumo-staging")
    error_message = "The dashboard is named after the stack and its region and shows the stack's metrics."
  }
}

run "alarms_and_dashboard_can_be_left_out" {
  command = plan

  variables {
    create_alarms     = false
    create_dashboard  = false
    metrics_namespace = "Shared/KumoCMS"
  }

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.function_errors) == 0 && length(aws_sns_topic.alarms) == 0 && length(aws_cloudwatch_dashboard.this) == 0 && output.alarm_topic_arn == null
    error_message = "Without alarms there is no topic, and the dashboard is optional."
  }

  assert {
    condition     = aws_lambda_function.this["authorizer"].environment[0].variables["METRICS_NAMESPACE"] == "Shared/KumoCMS"
    error_message = "An explicit namespace is used as given."
  }
}

run "aws_namespaces_are_refused" {
  command = plan

  variables {
    metrics_namespace = "AWS/Lambda"
  }

  expect_failures = [var.metrics_namespace]
}
