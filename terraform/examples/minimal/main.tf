# The smallest KumoCMS deployment: the module with nothing but the package, every other input at
# its default. For a shared account whose API Gateway CloudWatch Logs role is already set (the
# module never touches that region-wide setting; see examples/complete for owning it).

provider "aws" {
  region = var.region
}

module "kumocms" {
  source = "../../modules/kumocms"

  lambda_zip      = var.lambda_zip
  lambda_zip_hash = filebase64sha256(var.lambda_zip)
}
