# The transfer worker (ARCHITECTURE.md §9): copies larger than sync_copy_limit leave the request
# path as jobs on their own queue.
#   documents_write / ingest / dlq_retry / reconcile -> transfer queue -> transfer function
#   transfer function -> (hand-over before its deadline, retries with a delay) -> transfer queue
#   failures the function cannot report -> redrive -> transfer DLQ (alarm); reconcile rolls back
#   the copies it finds there, and any copy without progress for copy_stall_seconds (alarm
#   copies_failed on DocumentCopyFailed).
# One copy fills an invocation (batch size 1). The visibility timeout is at least 6x the
# function's timeout, as AWS advises for SQS event sources, so a running copy is never
# delivered twice.

variable "sync_copy_limit" {
  description = "Largest object (bytes) archived or made permanent within the request; larger ones go to the transfer worker. Null keeps the code's default (256 MiB)."
  type        = number
  default     = null

  validation {
    condition     = var.sync_copy_limit == null || try(var.sync_copy_limit >= 1 && var.sync_copy_limit <= 5368709120, false)
    error_message = "sync_copy_limit must be from 1 byte to 5 GiB (the largest CopyObject)."
  }
}

variable "copy_part_size" {
  description = "Preferred UploadPartCopy part size in bytes (grown to keep 10,000 parts); null keeps 512 MiB."
  type        = number
  default     = null

  validation {
    condition     = var.copy_part_size == null || try(var.copy_part_size >= 5242880 && var.copy_part_size <= 5368709120, false)
    error_message = "copy_part_size must be from 5 MiB to 5 GiB (S3's part limits)."
  }
}

variable "copy_concurrency" {
  description = "UploadPartCopy requests one transfer invocation runs at once; null keeps 8."
  type        = number
  default     = null
}

variable "copy_stall_seconds" {
  description = "A copy without progress for this long is rolled back by reconcile; null keeps 900."
  type        = number
  default     = null
}

variable "copy_max_attempts" {
  description = "Failed transfer runs of one copy before it is rolled back; null keeps 5."
  type        = number
  default     = null
}

variable "transfer_max_receive_count" {
  description = "Deliveries of a transfer order that failed unreported before it moves to the transfer DLQ."
  type        = number
  default     = 3
}

variable "transfer_maximum_concurrency" {
  description = "Most transfer invocations running at once (event source mapping maximum concurrency, 2-1000)."
  type        = number
  default     = 10

  validation {
    condition     = var.transfer_maximum_concurrency >= 2 && var.transfer_maximum_concurrency <= 1000
    error_message = "transfer_maximum_concurrency must be from 2 to 1000."
  }
}

locals {
  transfer_visibility_timeout = 6 * local.timeouts["transfer"]
}

resource "aws_sqs_queue" "transfer_dlq" {
  name                      = "${var.name_prefix}-transfer-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
  tags                      = local.common_tags
}

resource "aws_sqs_queue" "transfer" {
  name                       = "${var.name_prefix}-transfer"
  visibility_timeout_seconds = local.transfer_visibility_timeout
  message_retention_seconds  = 1209600
  sqs_managed_sse_enabled    = true
  tags                       = local.common_tags

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.transfer_dlq.arn
    maxReceiveCount     = var.transfer_max_receive_count
  })

  lifecycle {
    precondition {
      condition     = local.transfer_visibility_timeout <= 43200
      error_message = "The transfer queue's visibility timeout (6x the transfer function's timeout) exceeds SQS's 12 hours."
    }
  }
}

resource "aws_lambda_event_source_mapping" "transfer" {
  event_source_arn        = aws_sqs_queue.transfer.arn
  function_name           = local.function_target_arns["transfer"]
  batch_size              = 1
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.transfer_maximum_concurrency
  }

  depends_on = [aws_iam_role_policy.function]
}

# Its DLQ's depth and its backlog are alarmed with the other queues (alarms.tf).
