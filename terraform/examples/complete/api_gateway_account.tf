# API Gateway's account setting: the CloudWatch Logs role every REST API of this account and
# region uses for access logs. It is region-wide, so a root owns it, never the reusable module, and
# only one root per account and region may: a second one would overwrite the first's role.
#
# reset_on_delete clears the setting when this root is destroyed rather than leaving the ARN of a
# deleted role behind; either way every other REST API of the region loses access logging until
# another root sets it again. Where the account already has the setting (`aws apigateway
# get-account` shows a cloudwatchRoleArn), set manage_api_gateway_account = false.
#
# reset_on_delete exists only in provider 5.x (6.0 removed it and always resets on delete): this
# root is pinned below 6.0 for it (versions.tf); on 6.x delete the argument.

data "aws_region" "current" {}

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name                 = "${var.name_prefix}-apigateway-logs-${data.aws_region.current.name}"
  path                 = var.iam_role_path
  permissions_boundary = var.permissions_boundary
  description          = "Lets API Gateway write access logs to CloudWatch Logs (account-wide setting)."
  assume_role_policy   = data.aws_iam_policy_document.api_gateway_assume.json
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn
  reset_on_delete     = var.api_gateway_account_reset_on_delete

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}
