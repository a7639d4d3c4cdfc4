variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "lambda_zip" {
  description = "The deployment package `nox -s package` builds."
  type        = string
  default     = "../../../dist/kumocms-lambda.zip"
}
