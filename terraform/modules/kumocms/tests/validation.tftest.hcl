# Inputs the module refuses, planned against a mocked AWS provider.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  lambda_zip      = "kumocms-lambda.zip"
  lambda_zip_hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
}

run "runtime_python314_needs_a_newer_provider" {
  command = plan

  variables {
    runtime = "python3.14"
  }

  expect_failures = [var.runtime]
}

run "a_runtime_the_zip_was_not_built_for_fails_the_plan" {
  command = plan

  variables {
    runtime = "python3.12"
  }

  expect_failures = [terraform_data.lambda_package]
}

run "a_zip_built_for_python312_deploys_on_python312" {
  command = plan

  variables {
    runtime             = "python3.12"
    lambda_zip_runtimes = ["python3.12"]
  }

  assert {
    condition     = alltrue([for function in aws_lambda_function.this : function.runtime == "python3.12"])
    error_message = "A runtime the zip was built for deploys."
  }
}

run "ingest_visibility_timeout_below_six_times_the_timeout" {
  command = plan

  variables {
    timeouts                                = { ingest = 120 }
    ingest_queue_visibility_timeout_seconds = 600
  }

  expect_failures = [aws_sqs_queue.ingest]
}

run "visibility_timeout_follows_the_ingest_timeout" {
  command = plan

  variables {
    timeouts = { ingest = 120 }
  }

  assert {
    condition     = aws_sqs_queue.ingest.visibility_timeout_seconds == 720
    error_message = "By default the visibility timeout is 6x the ingest timeout."
  }
}

run "ingest_visibility_counts_the_batching_window" {
  command = plan

  variables {
    ingest_batching_window_seconds = 30
  }

  assert {
    condition     = aws_sqs_queue.ingest.visibility_timeout_seconds == 390
    error_message = "By default the visibility timeout is 6x the ingest timeout plus the batching window."
  }
}

run "ingest_visibility_below_six_timeouts_plus_the_window" {
  command = plan

  variables {
    ingest_batching_window_seconds          = 30
    ingest_queue_visibility_timeout_seconds = 360
  }

  expect_failures = [aws_sqs_queue.ingest]
}

run "dlq_visibility_covers_a_dlq_retry_run" {
  command = plan

  variables {
    timeouts = { dlq_retry = 600 }
  }

  assert {
    condition     = aws_sqs_queue.ingest_dlq.visibility_timeout_seconds == 600
    error_message = "The DLQ hides a received message for as long as a dlq_retry run may last."
  }
}

run "dlq_visibility_shorter_than_a_dlq_retry_run" {
  command = plan

  variables {
    ingest_dlq_visibility_timeout_seconds = 30
  }

  expect_failures = [aws_sqs_queue.ingest_dlq]
}

run "http_functions_answer_within_api_gateway_limit" {
  command = plan

  variables {
    timeouts = { documents_write = 60 }
  }

  expect_failures = [aws_lambda_function.this["documents_write"]]
}

run "direct_upload_limit_fits_a_lambda_event" {
  command = plan

  variables {
    direct_upload_limit = 10485760
  }

  expect_failures = [var.direct_upload_limit]
}

run "event_source_mapping_concurrency_limits" {
  command = plan

  variables {
    ingest_maximum_concurrency = 1
  }

  expect_failures = [var.ingest_maximum_concurrency]
}

run "list_shards_within_two_digits" {
  command = plan

  variables {
    list_shards = 101
  }

  expect_failures = [var.list_shards]
}

run "a_direct_upload_limit_above_what_fits_the_lambda_event_fails_the_plan" {
  command = plan

  variables {
    direct_upload_limit = 4325377
  }

  expect_failures = [var.direct_upload_limit]
}

run "the_largest_direct_upload_limit_that_fits_the_lambda_event_plans" {
  command = plan

  variables {
    direct_upload_limit = 4325376
  }

  assert {
    condition     = aws_lambda_function.this["documents_write"].environment[0].variables["DIRECT_UPLOAD_LIMIT"] == "4325376"
    error_message = "The largest limit that fits reaches the write function."
  }
}

run "indexed_field_names_must_be_top_level_metadata_keys" {
  command = plan

  variables {
    indexed_fields = { "Team" = "string" }
  }

  expect_failures = [var.indexed_fields]
}

run "indexed_field_types_are_the_four_of_the_contract" {
  command = plan

  variables {
    indexed_fields = { team = "text" }
  }

  expect_failures = [var.indexed_fields]
}
