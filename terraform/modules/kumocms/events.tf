# Event delivery (ARCHITECTURE.md §5):
#   S3 -> default bus -> rule -> ingest queue -> ingest function  (failures: redrive -> ingest DLQ)
#                              \-> target DLQ (the ingest DLQ)       DLQ -> dlq_retry -> parking queue
#   use cases -> custom bus "<name_prefix>" (domain events for subscribers)
# Queues use SSE-SQS: EventBridge can deliver to them without a KMS key policy grant.

resource "aws_cloudwatch_event_bus" "domain" {
  name = var.name_prefix
  tags = local.common_tags
}

resource "aws_sqs_queue" "ingest_dlq" {
  name                       = "${var.name_prefix}-ingest-dlq"
  visibility_timeout_seconds = local.ingest_dlq_visibility_timeout
  message_retention_seconds  = 1209600
  sqs_managed_sse_enabled    = true
  tags                       = local.common_tags

  lifecycle {
    precondition {
      condition     = local.ingest_dlq_visibility_timeout >= local.timeouts["dlq_retry"]
      error_message = "The ingest DLQ's visibility timeout must be at least dlq_retry's timeout: it works through each batch of ten one message at a time, and a message that reappears mid-run is re-driven twice."
    }
  }
}

resource "aws_sqs_queue" "parking" {
  name                      = "${var.name_prefix}-parking"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.common_tags
}

resource "aws_sqs_queue" "ingest" {
  name                       = "${var.name_prefix}-ingest"
  visibility_timeout_seconds = local.ingest_visibility_timeout
  message_retention_seconds  = 345600
  sqs_managed_sse_enabled    = true
  tags                       = local.common_tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.ingest_dlq.arn
    maxReceiveCount     = var.ingest_max_receive_count
  })

  lifecycle {
    precondition {
      condition     = local.ingest_visibility_timeout >= local.ingest_minimum_visibility
      error_message = "The ingest queue's visibility timeout must be at least 6x the ingest function's timeout plus ingest_batching_window_seconds, or messages are redelivered while a batch is still gathering or being processed."
    }
  }
}

# ---- S3 events on the default bus -> ingest queue ---------------------------------------------

resource "aws_cloudwatch_event_rule" "s3_events" {
  name           = "${var.name_prefix}-s3-events"
  description    = "This bucket's object and restore events, for the ingest function."
  event_bus_name = "default"
  tags           = local.common_tags

  event_pattern = jsonencode({
    source = ["aws.s3"]
    detail-type = [
      "Object Created",
      "Object Restore Initiated",
      "Object Restore Completed",
      "Object Restore Expired",
    ]
    detail = {
      bucket = { name = [aws_s3_bucket.documents.id] }
    }
  })
}

resource "aws_cloudwatch_event_target" "s3_events" {
  rule           = aws_cloudwatch_event_rule.s3_events.name
  event_bus_name = "default"
  target_id      = "ingest-queue"
  arn            = aws_sqs_queue.ingest.arn

  # Events EventBridge cannot deliver land in the ingest DLQ, which dlq_retry re-drives.
  dead_letter_config {
    arn = aws_sqs_queue.ingest_dlq.arn
  }

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }
}

# The two queue policies below are written out rather than made with for_each: checkov does not
# evaluate policy documents that for_each makes (11 of its checks went unrun when they were).
data "aws_iam_policy_document" "ingest_queue" {
  statement {
    sid       = "EventBridgeDelivers"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.s3_events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ingest" {
  queue_url = aws_sqs_queue.ingest.id
  policy    = data.aws_iam_policy_document.ingest_queue.json
}

data "aws_iam_policy_document" "ingest_dlq" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest_dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.s3_events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "ingest_dlq" {
  queue_url = aws_sqs_queue.ingest_dlq.id
  policy    = data.aws_iam_policy_document.ingest_dlq.json
}
