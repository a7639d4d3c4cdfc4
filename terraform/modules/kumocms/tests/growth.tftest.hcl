# Growth path switches, all off by default: provisioned concurrency, a custom domain, the
# documents table's stream.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "everything_is_off_by_default" {
  command = plan

  assert {
    condition = (
      length(aws_lambda_provisioned_concurrency_config.live) == 0 && length(aws_lambda_alias.live) == 0 &&
      length(aws_api_gateway_domain_name.this) == 0 && length(aws_api_gateway_base_path_mapping.this) == 0 &&
      !aws_dynamodb_table.documents.stream_enabled && output.documents_table_stream_arn == null
    )
    error_message = "No provisioned concurrency, alias, custom domain or stream unless asked for."
  }
}

run "provisioned_concurrency_on_the_live_alias_without_snap_start" {
  command = apply

  variables {
    provisioned_concurrency = { authorizer = 5, documents_read = 10 }
  }

  assert {
    condition = (
      aws_lambda_provisioned_concurrency_config.live["authorizer"].provisioned_concurrent_executions == 5 &&
      aws_lambda_provisioned_concurrency_config.live["documents_read"].qualifier == "live" &&
      length(aws_lambda_provisioned_concurrency_config.live) == 2
    )
    error_message = "Provisioned concurrency is configured on the alias live."
  }

  assert {
    condition = (
      length(aws_lambda_alias.live) == length(aws_lambda_function.this) &&
      alltrue([for function in aws_lambda_function.this : function.publish && length(function.snap_start) == 0]) &&
      aws_api_gateway_authorizer.this.authorizer_uri == aws_lambda_alias.live["authorizer"].invoke_arn &&
      alltrue([for key, integration in aws_api_gateway_integration.route : integration.uri == aws_lambda_alias.live[local.routes[key].function].invoke_arn]) &&
      length(output.function_alias_arns) == length(aws_lambda_function.this)
    )
    error_message = "With provisioned concurrency alone, versions are published and everything invokes live."
  }
}

run "provisioned_concurrency_within_reserved_concurrency" {
  command = plan

  variables {
    provisioned_concurrency = { authorizer = 20 }
    reserved_concurrency    = { authorizer = 10 }
  }

  expect_failures = [aws_lambda_provisioned_concurrency_config.live["authorizer"]]
}

run "custom_domain" {
  command = apply

  variables {
    custom_domain_name            = "api.example.com"
    custom_domain_certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition = (
      aws_api_gateway_domain_name.this[0].regional_certificate_arn == var.custom_domain_certificate_arn &&
      aws_api_gateway_domain_name.this[0].security_policy == "TLS_1_2" &&
      aws_api_gateway_domain_name.this[0].endpoint_configuration[0].types == tolist(["REGIONAL"]) &&
      aws_api_gateway_base_path_mapping.this[0].stage_name == aws_api_gateway_stage.this.stage_name &&
      output.custom_domain_target.domain_name == aws_api_gateway_domain_name.this[0].regional_domain_name
    )
    error_message = "The custom domain is regional, TLS 1.2, mapped to the stage, with its DNS target as an output."
  }
}

run "a_custom_domain_needs_a_certificate" {
  command = plan

  variables {
    custom_domain_name = "api.example.com"
  }

  expect_failures = [aws_api_gateway_domain_name.this[0]]
}

run "documents_table_stream" {
  command = apply

  variables {
    documents_table_stream_view_type = "NEW_AND_OLD_IMAGES"
  }

  assert {
    condition     = aws_dynamodb_table.documents.stream_enabled && aws_dynamodb_table.documents.stream_view_type == "NEW_AND_OLD_IMAGES" && output.documents_table_stream_arn == aws_dynamodb_table.documents.stream_arn
    error_message = "The stream is switchable and its ARN an output."
  }
}
