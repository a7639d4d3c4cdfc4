output "api_url" {
  description = "Base URL of the API (the stage's invoke URL), e.g. https://<id>.execute-api.<region>.amazonaws.com/v1."
  value       = aws_api_gateway_stage.this.invoke_url
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "bucket_name" {
  description = "The documents bucket."
  value       = aws_s3_bucket.documents.id
}

output "documents_table_name" {
  description = "The documents table (documents and idempotency records)."
  value       = aws_dynamodb_table.documents.name
}

output "users_table_name" {
  description = "The users table (what `kumocms admin bootstrap --users-table` takes)."
  value       = aws_dynamodb_table.users.name
}

output "history_table_name" {
  description = "The history table (every document's audit trail, kept history_retention_days past its purge)."
  value       = aws_dynamodb_table.history.name
}

output "event_bus_name" {
  description = "The custom EventBridge bus the use cases publish domain events to."
  value       = aws_cloudwatch_event_bus.domain.name
}

output "event_bus_arn" {
  description = "ARN of the domain event bus (for subscribers' rules)."
  value       = aws_cloudwatch_event_bus.domain.arn
}

output "ingest_queue_url" {
  description = "The queue S3 events wait in for the ingest function."
  value       = aws_sqs_queue.ingest.url
}

output "ingest_dlq_url" {
  description = "The ingest dead-letter queue (re-driven by dlq_retry)."
  value       = aws_sqs_queue.ingest_dlq.url
}

output "parking_queue_url" {
  description = "Where poison events end after dlq_max_retries re-drives."
  value       = aws_sqs_queue.parking.url
}

output "function_names" {
  description = "Lambda function name per manifest function."
  value       = { for name, function in aws_lambda_function.this : name => function.function_name }
}

output "function_role_arns" {
  description = "Execution role ARN per manifest function."
  value       = { for name, role in aws_iam_role.function : name => role.arn }
}

output "log_group_names" {
  description = "Log group per function, plus `api_access` for the API access logs."
  value = merge(
    { for name, group in aws_cloudwatch_log_group.function : name => group.name },
    { api_access = aws_cloudwatch_log_group.api_access.name },
  )
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm notifies (null when create_alarms or create_alarm_topic is false)."
  value       = one(aws_sns_topic.alarms[*].arn)
}

output "dashboard_name" {
  description = "The stack's CloudWatch dashboard (null when create_dashboard is false)."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the functions' own metrics (AuthFailures, EventsNotPublished, event counts)."
  value       = local.metrics_namespace
}

output "bucket_arn" {
  description = "ARN of the documents bucket."
  value       = aws_s3_bucket.documents.arn
}

output "documents_table_arn" {
  description = "ARN of the documents table."
  value       = aws_dynamodb_table.documents.arn
}

output "users_table_arn" {
  description = "ARN of the users table."
  value       = aws_dynamodb_table.users.arn
}

output "history_table_arn" {
  description = "ARN of the history table."
  value       = aws_dynamodb_table.history.arn
}

output "ingest_queue_arn" {
  description = "ARN of the ingest queue."
  value       = aws_sqs_queue.ingest.arn
}

output "ingest_dlq_arn" {
  description = "ARN of the ingest dead-letter queue."
  value       = aws_sqs_queue.ingest_dlq.arn
}

output "parking_queue_arn" {
  description = "ARN of the parking queue."
  value       = aws_sqs_queue.parking.arn
}

output "api_stage_arn" {
  description = "ARN of the API stage (for WAF associations and tagging policies)."
  value       = aws_api_gateway_stage.this.arn
}

output "api_execution_arn" {
  description = "Execution ARN of the API (the prefix of lambda:InvokeFunction source ARNs and execute-api IAM resources)."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "function_arns" {
  description = "Unqualified ARN per manifest function."
  value       = { for name, function in aws_lambda_function.this : name => function.arn }
}

output "function_alias_arns" {
  description = "ARN of the alias `live` per function: what API Gateway, the event source mapping and the schedules invoke when SnapStart or provisioned concurrency is on; empty otherwise (they invoke $LATEST)."
  value       = { for name, alias in aws_lambda_alias.live : name => alias.arn }
}

output "documents_table_stream_arn" {
  description = "ARN of the documents table's stream (null while documents_table_stream_view_type is null)."
  value       = var.documents_table_stream_view_type == null ? null : aws_dynamodb_table.documents.stream_arn
}

output "custom_domain_target" {
  description = "Where DNS for custom_domain_name must point (an alias record to this regional name and zone); null without a custom domain."
  value = one([
    for domain in aws_api_gateway_domain_name.this : {
      domain_name = domain.regional_domain_name
      zone_id     = domain.regional_zone_id
    }
  ])
}
