# The smallest KumoCMS deployment: the module with nothing but the package, every other input at
# its default. For a shared account whose API Gateway CloudWatch Logs role is already set (the
# module never touches that region-wide setting; see examples/complete for owning it).

locals {
  # `nox -s package` writes beside the zip what it was built for; its runtime, when the file is
  # there, is the one runtime the module may deploy (a mismatch then fails the plan).
  package_runtime = lookup(try(jsondecode(file("${trimsuffix(var.lambda_zip, ".zip")}.json")), {}), "runtime", null)
  zip_runtimes    = local.package_runtime == null ? ["python3.13"] : [local.package_runtime]
}

provider "aws" {
  region = var.region
}

module "kumocms" {
  source = "../../modules/kumocms"

  lambda_zip          = var.lambda_zip
  lambda_zip_hash     = filebase64sha256(var.lambda_zip)
  lambda_zip_runtimes = local.zip_runtimes
}
