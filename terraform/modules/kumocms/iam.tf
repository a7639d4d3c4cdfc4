# One role per function. Its actions come from permissions.json (symbolic resource names resolved
# by local.iam_resources); tests/infra/test_permissions.py records the AWS operations each function
# really performs and fails when the two differ.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name                 = local.role_names[each.key]
  path                 = var.iam_role_path
  permissions_boundary = var.permissions_boundary
  description          = "Least-privilege role of the ${each.key} function."
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  tags                 = local.common_tags

  lifecycle {
    precondition {
      condition     = length(local.role_names[each.key]) <= 64
      error_message = "The role name ${local.role_names[each.key]} is longer than IAM's 64 characters; shorten name_prefix."
    }
  }
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  # What the function's code calls (and, for ingest, what its event source mapping needs).
  dynamic "statement" {
    for_each = local.permissions.functions[each.key]
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = [for name in statement.value.resources : local.iam_resources[name]]

      dynamic "condition" {
        for_each = lookup(statement.value, "conditions", [])
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }

  # The Lambda runtime writes the function's logs to its own log group only.
  statement {
    sid       = "OwnLogGroup"
    actions   = local.permissions.every_function.logs
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = var.xray_tracing ? [true] : []
    content {
      sid       = "XRayTracing"
      actions   = local.permissions.every_function.xray_tracing
      resources = ["*"]
    }
  }

  # S3 (SSE-KMS objects), DynamoDB (tables under the customer managed key) and Lambda (the
  # encrypted environment, decrypted with the execution role at start) use the key on the
  # function's behalf; the condition keeps the grant to those three services.
  dynamic "statement" {
    for_each = local.kms_enabled ? [true] : []
    content {
      sid       = "KmsThroughStorage"
      actions   = local.permissions.every_function.kms_key
      resources = [var.kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values = [
          "s3.${data.aws_region.current.name}.amazonaws.com",
          "dynamodb.${data.aws_region.current.name}.amazonaws.com",
          "lambda.${data.aws_region.current.name}.amazonaws.com",
        ]
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "${local.function_names[each.key]}-policy"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}
