# A complete KumoCMS deployment: the module with its defaults, plus the provider setup that also
# lets `nox -s terraform_moto` apply it to a moto server on loopback.

locals {
  emulated = var.aws_endpoint_url != null
  # `nox -s package` writes beside the zip what it was built for; its runtime, when the file is
  # there, is the one runtime the module may deploy (a mismatch then fails the plan).
  package_runtime = lookup(try(jsondecode(file("${trimsuffix(var.lambda_zip, ".zip")}.json")), {}), "runtime", null)
  zip_runtimes    = local.package_runtime == null ? var.lambda_zip_runtimes : [local.package_runtime]
}

provider "aws" {
  region = var.region

  # Against an emulator: fake credentials, no account or metadata lookups beyond its STS, paths
  # instead of bucket subdomains.
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated
  s3_use_path_style           = local.emulated

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []
    content {
      apigateway = endpoints.value
      cloudwatch = endpoints.value
      dynamodb   = endpoints.value
      events     = endpoints.value
      iam        = endpoints.value
      kms        = endpoints.value
      lambda     = endpoints.value
      logs       = endpoints.value
      s3         = endpoints.value
      sns        = endpoints.value
      sqs        = endpoints.value
      sts        = endpoints.value
      wafv2      = endpoints.value
    }
  }
}

module "kumocms" {
  source = "../../modules/kumocms"

  name_prefix                  = var.name_prefix
  lambda_zip                   = var.lambda_zip
  lambda_zip_hash              = filebase64sha256(var.lambda_zip)
  lambda_zip_runtimes          = local.zip_runtimes
  cors_allowed_origins         = var.cors_allowed_origins
  kms_key_arn                  = var.kms_key_arn
  alarm_actions                = var.alarm_actions
  create_alarms                = var.create_alarms
  snap_start                   = var.snap_start
  xray_tracing                 = var.xray_tracing
  reserved_concurrency         = var.reserved_concurrency
  authorizer_cache_ttl_seconds = var.authorizer_cache_ttl_seconds
  api_gateway_account_id       = one(aws_api_gateway_account.this[*].id)
  permissions_boundary         = var.permissions_boundary
  iam_role_path                = var.iam_role_path
  deletion_protection          = var.deletion_protection
  force_destroy                = var.force_destroy
  tags                         = var.tags
}
