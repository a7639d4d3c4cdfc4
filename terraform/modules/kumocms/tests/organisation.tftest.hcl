# Fitting a larger organisation and a shared account: permissions boundaries, role paths, the
# region in global names, code signing, the account-wide API Gateway setting, name lengths.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "no_boundary_by_default_and_region_in_role_names" {
  command = plan

  assert {
    condition     = alltrue([for role in aws_iam_role.function : role.permissions_boundary == null && role.path == "/"])
    error_message = "Without inputs, roles have no boundary and the root path."
  }

  assert {
    condition     = aws_iam_role.function["documents_write"].name == "kumocms-documents-write-eu-west-1"
    error_message = "Role names carry the region (IAM names are account-wide)."
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.code_signing_config_arn == null])
    error_message = "Code signing is off by default."
  }

  assert {
    condition     = terraform_data.api_gateway_account.input == null
    error_message = "The module owns no account-wide API Gateway setting."
  }
}

run "boundary_and_path_on_every_role" {
  command = plan

  variables {
    permissions_boundary = "arn:aws:iam::123456789012:policy/org/workload-boundary"
    iam_role_path        = "/workloads/kumocms/"
  }

  assert {
    condition = alltrue([
      for role in values(aws_iam_role.function) :
      role.permissions_boundary == var.permissions_boundary && role.path == "/workloads/kumocms/"
    ])
    error_message = "Every role the module creates carries the boundary and the path."
  }
}

run "the_stage_waits_for_the_roots_account_setting" {
  command = plan

  variables {
    api_gateway_account_id = "api-gateway-account"
  }

  assert {
    condition     = terraform_data.api_gateway_account.input == "api-gateway-account"
    error_message = "The stage depends on the root's aws_api_gateway_account."
  }
}

run "code_signing_config_on_every_function" {
  command = plan

  variables {
    code_signing_config_arn = "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-0123456789abcdef0"
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.code_signing_config_arn == var.code_signing_config_arn])
    error_message = "Every function enforces the code signing config."
  }
}

run "a_boundary_must_be_a_policy_arn" {
  command = plan

  variables {
    permissions_boundary = "workload-boundary"
  }

  expect_failures = [var.permissions_boundary]
}

run "a_role_path_must_be_slashed" {
  command = plan

  variables {
    iam_role_path = "kumocms"
  }

  expect_failures = [var.iam_role_path]
}

run "a_derived_bucket_name_over_63_characters_fails_the_plan" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }

  variables {
    name_prefix = "a-prefix-of-26-characters1"
  }

  expect_failures = [aws_s3_bucket.documents]
}

run "a_25_character_prefix_fits_the_longest_region_names" {
  command = plan

  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }

  variables {
    name_prefix = "a-prefix-of-25-characters"
  }

  assert {
    condition     = length(aws_s3_bucket.documents.bucket) == 63
    error_message = "A 25-character prefix fits S3's 63 characters with a 14-character region."
  }
}

run "an_explicit_bucket_name_frees_the_prefix" {
  command = plan

  variables {
    name_prefix = "a-prefix-of-thirty-two-characte"
    bucket_name = "my-documents"
  }

  assert {
    condition     = aws_s3_bucket.documents.bucket == "my-documents"
    error_message = "An explicit bucket name is used as given."
  }
}
