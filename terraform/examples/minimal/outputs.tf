output "api_url" {
  description = "Base URL of the API."
  value       = module.kumocms.api_url
}

output "users_table_name" {
  description = "The users table (for `kumocms admin bootstrap --users-table`)."
  value       = module.kumocms.users_table_name
}

output "alarm_topic_arn" {
  description = "Subscribe the on-call to this topic."
  value       = module.kumocms.alarm_topic_arn
}
