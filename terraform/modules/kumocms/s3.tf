# The documents bucket: content revisions and metadata sidecars (keys from kumocms.keys only).

resource "aws_s3_bucket" "documents" {
  #checkov:skip=CKV_AWS_18:Server access logs need a second bucket per stack; the audit trail is CloudTrail S3 data events, which terraform/README.md ("Audit trail") shows how to enable for this bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the operator (a second region's bucket and role); versioning and DynamoDB PITR cover the module's recovery story.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = local.common_tags

  lifecycle {
    precondition {
      condition     = length(local.bucket_name) <= 63
      error_message = "The derived bucket name ${local.bucket_name} is longer than S3's 63 characters: shorten name_prefix (at most 25 characters fits every region) or set bucket_name."
    }
  }
}

resource "aws_s3_bucket_ownership_controls" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "documents" {
  bucket                  = aws_s3_bucket.documents.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "documents" {
  bucket = aws_s3_bucket.documents.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.kms_enabled ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.kms_enabled
  }
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.documents.arn, "${aws_s3_bucket.documents.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "documents" {
  bucket = aws_s3_bucket.documents.id
  policy = data.aws_iam_policy_document.bucket.json

  # A bucket policy written while the public access block is being created can be refused.
  depends_on = [aws_s3_bucket_public_access_block.documents]
}

resource "aws_s3_bucket_cors_configuration" "documents" {
  count  = local.cors ? 1 : 0
  bucket = aws_s3_bucket.documents.id

  # Browsers upload with presigned PUT (Content-Type and, when declared, the checksum header are
  # signed), presigned POST (a form) and multipart part PUTs, whose ETag they must read back.
  cors_rule {
    allowed_methods = ["PUT", "POST", "GET"]
    allowed_origins = var.cors_allowed_origins
    allowed_headers = ["content-type", "x-amz-checksum-sha256", "*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "documents" {
  bucket = aws_s3_bucket.documents.id

  rule {
    id     = "purge-noncurrent-and-abandoned"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    # Once the noncurrent versions behind a delete marker are gone, drop the marker too.
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.documents]
}

resource "aws_s3_bucket_notification" "documents" {
  bucket      = aws_s3_bucket.documents.id
  eventbridge = true
}
