# The documents bucket: content revisions and metadata sidecars (keys from kumocms.keys only).

resource "aws_s3_bucket" "documents" {
  #checkov:skip=CKV_AWS_18:Server access logs need a second bucket per stack; the audit trail is CloudTrail S3 data events, which terraform/README.md ("Audit trail") shows how to enable for this bucket.
  #checkov:skip=CKV_AWS_144:Cross-region replication is a disaster-recovery choice of the operator (a second region's bucket and role); versioning and DynamoDB PITR cover the module's recovery story.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = local.common_tags

  # §11's legal holds need Object Lock. A new bucket is created with it; for a bucket created
  # before (object_lock_enabled = false in its state) a change of this argument would replace
  # the bucket, so it is ignored and aws_s3_bucket_object_lock_configuration below enables
  # Object Lock in place (PutObjectLockConfiguration on a versioned bucket, which S3 supports
  # since November 2023:
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html).
  object_lock_enabled = true

  lifecycle {
    ignore_changes = [object_lock_enabled]

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

# Object Lock without a default retention: KumoCMS places legal holds itself, version by
# version. A default retention rule would also make S3 require Content-MD5 (or another checksum)
# on every PUT, which presigned browser uploads do not send.
resource "aws_s3_bucket_object_lock_configuration" "documents" {
  bucket              = aws_s3_bucket.documents.id
  object_lock_enabled = "Enabled"

  # Object Lock can be enabled on an existing bucket only once versioning is on.
  depends_on = [aws_s3_bucket_versioning.documents]
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
  #checkov:skip=CKV_AWS_300:The first rule aborts incomplete multipart uploads for the whole bucket (abort_incomplete_multipart_days); the optional revision-transition rule filters by tag, and S3 refuses AbortIncompleteMultipartUpload in a rule with a tag filter.
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

  # §11: superseded revisions are kept as current object versions that the code tags
  # kumocms-revision=noncurrent; they may move to an instant-retrieval class (STANDARD_IA,
  # GLACIER_IR) so that they stay readable without a restore.
  dynamic "rule" {
    for_each = var.noncurrent_revision_storage_class == null ? [] : [var.noncurrent_revision_storage_class]
    content {
      id     = "transition-noncurrent-revisions"
      status = "Enabled"

      filter {
        tag {
          key   = local.revision_tag.key
          value = local.revision_tag.value
        }
      }

      transition {
        days          = var.noncurrent_revision_transition_days
        storage_class = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.documents]

  lifecycle {
    # S3 refuses a lifecycle transition to STANDARD_IA before an object is 30 days old.
    precondition {
      condition     = var.noncurrent_revision_storage_class != "STANDARD_IA" || var.noncurrent_revision_transition_days >= 30
      error_message = "noncurrent_revision_transition_days must be at least 30 for STANDARD_IA (S3 moves objects to STANDARD_IA only once they are 30 days old)."
    }
  }
}

locals {
  # The tag the code puts on the object of every revision that is no longer the current one.
  revision_tag = { key = "kumocms-revision", value = "noncurrent" }
}

resource "aws_s3_bucket_notification" "documents" {
  bucket      = aws_s3_bucket.documents.id
  eventbridge = true
}
