output "api_url" {
  description = "Base URL of the API."
  value       = module.kumocms.api_url
}

output "bucket_name" {
  description = "The documents bucket."
  value       = module.kumocms.bucket_name
}

output "documents_table_name" {
  description = "The documents table."
  value       = module.kumocms.documents_table_name
}

output "users_table_name" {
  description = "The users table (for `kumocms admin bootstrap --users-table`)."
  value       = module.kumocms.users_table_name
}

output "event_bus_name" {
  description = "The domain event bus."
  value       = module.kumocms.event_bus_name
}

output "ingest_dlq_url" {
  description = "The ingest dead-letter queue."
  value       = module.kumocms.ingest_dlq_url
}

output "parking_queue_url" {
  description = "The parking queue for poison events."
  value       = module.kumocms.parking_queue_url
}

output "function_names" {
  description = "Lambda function name per manifest function."
  value       = module.kumocms.function_names
}

output "alarm_topic_arn" {
  description = "The SNS topic every alarm notifies; subscribe the on-call to it."
  value       = module.kumocms.alarm_topic_arn
}

output "dashboard_name" {
  description = "The stack's CloudWatch dashboard."
  value       = module.kumocms.dashboard_name
}

output "bucket_arn" {
  description = "ARN of the documents bucket."
  value       = module.kumocms.bucket_arn
}

output "api_execution_arn" {
  description = "Execution ARN of the API."
  value       = module.kumocms.api_execution_arn
}
