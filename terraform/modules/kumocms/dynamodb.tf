# The three tables exactly as adapters/dynamodb.py documents them (documents_table_spec,
# users_table_spec and history_table_spec are the same CreateTable parameters; tests/infra
# compares them).

resource "aws_dynamodb_table" "documents" {
  name                        = "${var.name_prefix}-documents"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "list_pk"
    type = "S"
  }
  attribute {
    name = "state_pk"
    type = "S"
  }
  attribute {
    name = "pending_pk"
    type = "S"
  }
  attribute {
    name = "pending_sk"
    type = "S"
  }
  attribute {
    name = "fv_pk"
    type = "S"
  }
  attribute {
    name = "fr_pk"
    type = "S"
  }
  attribute {
    name = "fr_sk"
    type = "S"
  }
  attribute {
    name = "trash_pk"
    type = "S"
  }
  attribute {
    name = "trash_sk"
    type = "S"
  }
  attribute {
    name = "prune_pk"
    type = "S"
  }
  attribute {
    name = "prune_sk"
    type = "S"
  }

  global_secondary_index {
    name            = "by_created"
    hash_key        = "list_pk"
    range_key       = "sk"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "by_state"
    hash_key        = "state_pk"
    range_key       = "sk"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "by_pending_deadline"
    hash_key        = "pending_pk"
    range_key       = "pending_sk"
    projection_type = "ALL"
  }
  # §10's metadata index (search.tf): sparse, one entry item per document and indexed field;
  # a hit is re-read from its document, so the keys are all an entry projects.
  global_secondary_index {
    name            = "by_field_value"
    hash_key        = "fv_pk"
    range_key       = "sk"
    projection_type = "KEYS_ONLY"
  }
  global_secondary_index {
    name            = "by_field_range"
    hash_key        = "fr_pk"
    range_key       = "fr_sk"
    projection_type = "KEYS_ONLY"
  }
  # §11, both sparse: the trash newest deletion first (GET /trash reads whole documents), and
  # the revisions due for pruning (reconcile re-reads each hit, so keys are enough).
  global_secondary_index {
    name            = "by_trash"
    hash_key        = "trash_pk"
    range_key       = "trash_sk"
    projection_type = "ALL"
  }
  global_secondary_index {
    name            = "by_prune"
    hash_key        = "prune_pk"
    range_key       = "prune_sk"
    projection_type = "KEYS_ONLY"
  }

  # A stream (off by default) is where replicas, an outbox or search indexing attach.
  stream_enabled   = var.documents_table_stream_view_type != null
  stream_view_type = var.documents_table_stream_view_type

  # Pending documents (a backstop behind reconciliation) and idempotency records expire.
  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.common_tags
}

resource "aws_dynamodb_table" "users" {
  name                        = "${var.name_prefix}-users"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "kind"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }

  global_secondary_index {
    name            = "by_kind"
    hash_key        = "kind"
    range_key       = "sk"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.common_tags
}

# §11's audit trail: one item per entry, pk = the document's id, sk = `<at>#<version>#<n>` (one
# Query reads a document's history newest first). Entries outlive the document they describe
# and expire history_retention_days after its purge (the code sets expires_at).
resource "aws_dynamodb_table" "history" {
  name                        = "${var.name_prefix}-history"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  tags = local.common_tags
}
