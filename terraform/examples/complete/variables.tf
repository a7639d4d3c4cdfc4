variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name (and the name of the domain event bus)."
  type        = string
  default     = "kumocms"
}

variable "lambda_zip" {
  description = "The deployment package `nox -s package` builds."
  type        = string
  default     = "../../../dist/kumocms-lambda.zip"
}

variable "lambda_zip_runtimes" {
  description = "The runtimes the package was built for (what its build manifest states); the module refuses any other."
  type        = list(string)
  default     = ["python3.13"]
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API and upload to the bucket."
  type        = list(string)
  default     = []
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for the bucket, the tables and the functions' environments; null uses AWS managed encryption."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify."
  type        = list(string)
  default     = []
}

variable "create_alarms" {
  description = "Create the CloudWatch alarms."
  type        = bool
  default     = true
}

variable "snap_start" {
  description = "Lambda SnapStart (functions are invoked through their alias `live`)."
  type        = bool
  default     = false
}

variable "xray_tracing" {
  description = "Active X-Ray tracing on the functions and the API stage."
  type        = bool
  default     = false
}

variable "reserved_concurrency" {
  description = "Reserved concurrency per function name (-1: unreserved)."
  type        = map(number)
  default     = {}
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches an authorizer result per key."
  type        = number
  default     = 300
}

variable "manage_api_gateway_account" {
  description = "Own API Gateway's account-wide CloudWatch Logs role setting (one per account and region, shared by every REST API there; stage access logging needs it). Destroying this root then clears it for the whole region (reset_on_delete). Set false where another stack or the account baseline already owns it."
  type        = bool
  default     = true
}

variable "api_gateway_account_reset_on_delete" {
  description = "Clear the account setting when this root is destroyed (rather than leaving the ARN of a deleted role). Keep it true; terraform_moto sets false because moto's UpdateAccount fails on the reset."
  type        = bool
  default     = true
}

variable "permissions_boundary" {
  description = "Managed policy ARN set as the permissions boundary of every role (the module's and the API Gateway logging role)."
  type        = string
  default     = null
}

variable "iam_role_path" {
  description = "Path of every IAM role."
  type        = string
  default     = "/"
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete a bucket that still holds objects (throwaway environments only)."
  type        = bool
  default     = false
}

variable "aws_endpoint_url" {
  description = "Send every AWS API call to this URL (an emulator such as moto server on loopback); null talks to AWS."
  type        = string
  default     = null

  validation {
    condition     = var.aws_endpoint_url == null || can(regex("^https?://", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be an http(s) URL."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
