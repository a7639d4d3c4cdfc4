# ---- naming, artifact, runtime --------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name (the custom event bus is named exactly this). Lower-case letters, digits and hyphens, 3-32 characters, starting with a letter. With bucket_name null the derived bucket name (<name_prefix>-documents-<account id>-<region>) must fit S3's 63 characters: at most 25 characters in every region (a plan-time precondition checks the real length)."
  type        = string
  default     = "kumocms"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-32 characters of a-z, 0-9 and '-', start with a letter and not end with '-'."
  }
}

variable "bucket_name" {
  description = "Name of the documents bucket. null derives a globally unique one: <name_prefix>-documents-<account id>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-')."
  }
}

variable "iam_role_path" {
  description = "Path of every IAM role the module creates (organisations often reserve a path for workload roles)."
  type        = string
  default     = "/"

  validation {
    condition     = can(regex("^/([\\x21-\\x7E]{0,510}/)?$", var.iam_role_path))
    error_message = "iam_role_path must start and end with '/' (e.g. /kumocms/), at most 512 characters."
  }
}

variable "permissions_boundary" {
  description = "ARN of a managed policy set as the permissions boundary of every IAM role the module creates (required by many organisations before a role may be created); null sets none."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be the ARN of an IAM managed policy (arn:aws:iam::<account>:policy/<path/name>)."
  }
}

variable "code_signing_config_arn" {
  description = "ARN of an aws_lambda_code_signing_config (AWS Signer profiles) enforced on every function; null deploys the zip unsigned. With one set, lambda_zip must be the signed package Signer produced."
  type        = string
  default     = null

  validation {
    condition     = var.code_signing_config_arn == null || can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:code-signing-config:csc-[a-z0-9]{17}$", var.code_signing_config_arn))
    error_message = "code_signing_config_arn must be a Lambda code signing config ARN (arn:aws:lambda:<region>:<account>:code-signing-config:csc-...)."
  }
}

variable "lambda_zip" {
  description = "Path of the one Lambda deployment package every function is built from (`nox -s package` writes dist/kumocms-lambda.zip)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip, ".zip")
    error_message = "lambda_zip must be the path of a .zip file."
  }
}

variable "lambda_zip_hash" {
  description = "Base64-encoded SHA-256 of lambda_zip (filebase64sha256(path)); a new hash redeploys every function."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+/]{43}=$", var.lambda_zip_hash))
    error_message = "lambda_zip_hash must be a base64-encoded SHA-256 digest, as filebase64sha256() returns it."
  }
}

variable "runtime" {
  description = "Lambda runtime of every function; it must be one of lambda_zip_runtimes (the zip carries bytecode for one Python version only, and on another every cold start compiles every module again: measured 1.40x the cold start, +260 to +300 ms)."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.13 (or python3.12). python3.14 needs AWS provider >= 6.20, and only provider 5.100.0 is tested here (the build machines' offline mirror); raise the provider constraint before using it."
  }
}

variable "lambda_zip_runtimes" {
  description = "The Lambda runtimes lambda_zip was built for. scripts/package_lambda.py builds for python3.13 only; when the package's build manifest (written next to the zip) states another version, pass what it says. A runtime outside this list fails the plan."
  type        = list(string)
  default     = ["python3.13"]

  validation {
    condition     = length(var.lambda_zip_runtimes) > 0 && alltrue([for runtime in var.lambda_zip_runtimes : can(regex("^python3\\.[0-9]+$", runtime))])
    error_message = "lambda_zip_runtimes must name at least one runtime, each like python3.13."
  }
}

variable "architecture" {
  description = "Instruction set of every function. The package holds pure-Python wheels only, so both work; arm64 is cheaper."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

# ---- Lambda sizing --------------------------------------------------------------------------

variable "memory_mb" {
  description = "Memory (MB) per function name (documents_read, documents_write, users, meta, authorizer, ingest, dlq_retry, reconcile); functions not named get default_memory_mb."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for value in values(var.memory_mb) : value >= 128 && value <= 10240])
    error_message = "Every memory_mb value must be from 128 to 10240."
  }
}

variable "default_memory_mb" {
  description = "Memory (MB) of functions not named in memory_mb."
  type        = number
  default     = 512

  validation {
    condition     = var.default_memory_mb >= 128 && var.default_memory_mb <= 10240
    error_message = "default_memory_mb must be from 128 to 10240."
  }
}

variable "timeouts" {
  description = "Timeout (seconds) per function name, merged over the defaults: 15 for documents_read, users and meta, 29 for documents_write (API Gateway's integration limit), 10 for the authorizer, 60 for ingest, 300 for dlq_retry and reconcile."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for value in values(var.timeouts) : value >= 1 && value <= 900])
    error_message = "Every timeout must be from 1 to 900 seconds."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function name (-1 or absent: unreserved, drawing on the account's pool). Reserving caps a function and guarantees it capacity."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for value in values(var.reserved_concurrency) : value >= -1])
    error_message = "reserved_concurrency values must be -1 (unreserved) or more."
  }
}

variable "provisioned_concurrency" {
  description = "Provisioned concurrent executions per function name (e.g. { authorizer = 5, documents_read = 10 }), kept warm on the alias `live`; any entry makes every function publish versions and be invoked through `live`, as SnapStart does. Billed while provisioned."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for value in values(var.provisioned_concurrency) : value >= 1 && floor(value) == value])
    error_message = "provisioned_concurrency values must be whole numbers of at least 1."
  }
}

variable "snap_start" {
  description = "Enable Lambda SnapStart (PublishedVersions): every function publishes versions and an alias `live` is what API Gateway, the authorizer, the event source mapping and the schedules invoke."
  type        = bool
  default     = false
}

variable "xray_tracing" {
  description = "Active X-Ray tracing on the functions and the API stage."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of every log group (functions and API access logs)."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of every function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

# ---- application settings (environment variables) -------------------------------------------

variable "direct_upload_limit" {
  description = "DIRECT_UPLOAD_LIMIT: largest file (bytes) accepted in a request body; null keeps the code's default (4 MiB). At most 4325376 (4.125 MiB): the file's base64 plus a 512 KiB allowance for headers, metadata and the proxy event's own fields must fit Lambda's 6,291,456-byte synchronous payload (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), in both body forms (entrypoints/http/envelope.py)."
  type        = number
  default     = null

  validation {
    condition     = var.direct_upload_limit == null || try(var.direct_upload_limit >= 1 && var.direct_upload_limit <= 4325376 && floor(var.direct_upload_limit) == var.direct_upload_limit, false)
    error_message = "direct_upload_limit must be a whole number from 1 to 4325376 bytes (4.125 MiB): a larger file, base64-encoded inside the API Gateway proxy event, does not fit Lambda's 6 MB synchronous payload; larger files take presigned uploads."
  }
}

variable "multipart_threshold" {
  description = "MULTIPART_THRESHOLD: presigned uploads above this many bytes are multipart; null keeps the code's default (100 MiB)."
  type        = number
  default     = null

  validation {
    condition     = var.multipart_threshold == null || try(var.multipart_threshold >= 5242880 && var.multipart_threshold <= 5368709120, false)
    error_message = "multipart_threshold must be from 5 MiB to 5 GiB (a single presigned PUT carries at most 5 GB)."
  }
}

variable "multipart_part_size" {
  description = "MULTIPART_PART_SIZE: preferred part size in bytes; null keeps the code's default (16 MiB)."
  type        = number
  default     = null

  validation {
    condition     = var.multipart_part_size == null || try(var.multipart_part_size >= 5242880 && var.multipart_part_size <= 5368709120, false)
    error_message = "multipart_part_size must be from 5 MiB to 5 GiB (S3's part size limits)."
  }
}

variable "presign_ttl_seconds" {
  description = "PRESIGN_TTL_SECONDS: lifetime of presigned URLs; null keeps the code's default (3600). URLs signed with a function's temporary credentials never outlive them."
  type        = number
  default     = null

  validation {
    condition     = var.presign_ttl_seconds == null || try(var.presign_ttl_seconds >= 1 && var.presign_ttl_seconds <= 604800, false)
    error_message = "presign_ttl_seconds must be from 1 to 604800 (SigV4's seven-day limit)."
  }
}

variable "pending_upload_ttl_seconds" {
  description = "PENDING_UPLOAD_TTL_SECONDS: a presigned upload that has not arrived by then expires; null keeps the code's default (86400)."
  type        = number
  default     = null

  validation {
    condition     = var.pending_upload_ttl_seconds == null || try(var.pending_upload_ttl_seconds >= 60, false)
    error_message = "pending_upload_ttl_seconds must be at least 60."
  }
}

variable "orphan_grace_seconds" {
  description = "ORPHAN_GRACE_SECONDS: an object whose document record does not exist is retried for this long (the record may still be being written), then deleted; null keeps the code's default (900)."
  type        = number
  default     = null

  validation {
    condition     = var.orphan_grace_seconds == null || try(var.orphan_grace_seconds >= 1, false)
    error_message = "orphan_grace_seconds must be at least 1."
  }
}

variable "restore_poll_seconds" {
  description = "RESTORE_POLL_SECONDS: the Retry-After a running restore answers with; null derives it from the restore tier's documented window (a tenth of it, 1 to 15 minutes)."
  type        = number
  default     = null

  validation {
    condition     = var.restore_poll_seconds == null || try(var.restore_poll_seconds >= 1, false)
    error_message = "restore_poll_seconds must be at least 1."
  }
}

variable "list_shards" {
  description = "LIST_SHARDS: partitions each listing index is spread over (about 1,000 writes per second each). Raising it later is safe; lowering it hides documents in the dropped shards."
  type        = number
  default     = 16

  validation {
    condition     = var.list_shards >= 1 && var.list_shards <= 100 && floor(var.list_shards) == var.list_shards
    error_message = "list_shards must be a whole number from 1 to 100."
  }
}

variable "dlq_max_retries" {
  description = "DLQ_MAX_RETRIES: re-drives of one dead-lettered event before it is moved to the parking queue."
  type        = number
  default     = 5

  validation {
    condition     = var.dlq_max_retries >= 1 && var.dlq_max_retries <= 100
    error_message = "dlq_max_retries must be from 1 to 100."
  }
}

variable "dlq_retry_delay_seconds" {
  description = "DLQ_RETRY_DELAY_SECONDS: base delay of a re-queued dead letter, doubled on every further attempt (capped at SQS's 900 seconds); null keeps the code's default (30)."
  type        = number
  default     = null

  validation {
    condition     = var.dlq_retry_delay_seconds == null || try(var.dlq_retry_delay_seconds >= 0 && var.dlq_retry_delay_seconds <= 900, false)
    error_message = "dlq_retry_delay_seconds must be from 0 to 900."
  }
}

variable "cors_allowed_origins" {
  description = "Browser origins (scheme://host[:port]) allowed to call the API and upload to the bucket with presigned URLs; [\"*\"] allows any; [] disables CORS."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_allowed_origins : origin == "*" || can(regex("^https?://[^/*]+$", origin))])
    error_message = "Each CORS origin must be \"*\" or scheme://host[:port] without a path."
  }
}

# ---- storage ----------------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "Customer managed KMS key for the bucket (SSE-KMS), the three tables and the functions' environment variables; null uses SSE-S3 (AES256) and AWS managed keys. The key policy must let this account's IAM policies grant its use."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.kms_key_arn))
    error_message = "kms_key_arn must be the ARN of a KMS key (arn:aws:kms:<region>:<account>:key/<id>)."
  }
}

variable "noncurrent_version_days" {
  description = "Days after which noncurrent object versions (replaced or deleted content) are purged."
  type        = number
  default     = 7

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "noncurrent_revision_storage_class" {
  description = "Storage class superseded revisions move to (§11; objects tagged kumocms-revision=noncurrent): STANDARD_IA or GLACIER_IR, the instant-retrieval classes, so every revision stays readable. null keeps them in STANDARD."
  type        = string
  default     = null

  validation {
    condition     = var.noncurrent_revision_storage_class == null || contains(["STANDARD_IA", "GLACIER_IR"], coalesce(var.noncurrent_revision_storage_class, "-"))
    error_message = "noncurrent_revision_storage_class must be STANDARD_IA or GLACIER_IR (instant retrieval: revisions stay readable), or null."
  }
}

variable "noncurrent_revision_transition_days" {
  description = "Days after an object's creation at which a superseded revision moves to noncurrent_revision_storage_class (S3 counts from the object's creation, not from the tagging). STANDARD_IA needs at least 30."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_revision_transition_days >= 0 && floor(var.noncurrent_revision_transition_days) == var.noncurrent_revision_transition_days
    error_message = "noncurrent_revision_transition_days must be a whole number of days, 0 or more."
  }

  # The 30 days of STANDARD_IA are checked by a precondition of the bucket's lifecycle
  # configuration (s3.tf): a validation naming another variable needs Terraform 1.9.
}

variable "abort_incomplete_multipart_days" {
  description = "Days after which S3 aborts multipart uploads that were never completed."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_days >= 1
    error_message = "abort_incomplete_multipart_days must be at least 1."
  }
}

variable "documents_table_stream_view_type" {
  description = "Turn on the documents table's DynamoDB stream with this view type (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES) for replicas, an outbox or indexing; null leaves it off. Output documents_table_stream_arn."
  type        = string
  default     = null

  validation {
    condition     = var.documents_table_stream_view_type == null || contains(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"], coalesce(var.documents_table_stream_view_type, "-"))
    error_message = "documents_table_stream_view_type must be KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES."
  }
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on the three tables (documents, users, history). Leave it on outside throwaway environments."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the bucket with every object version in it. Only for throwaway environments."
  type        = bool
  default     = false
}

# ---- HTTP API -----------------------------------------------------------------------------------

variable "api_stage_name" {
  description = "Name of the API Gateway stage (the first path segment of the API URL)."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.api_stage_name))
    error_message = "api_stage_name must be 1-128 characters of letters, digits, '_' and '-'."
  }
}

variable "authorizer_cache_ttl_seconds" {
  description = "How long API Gateway caches an authorizer result per Authorization header (0 disables caching). A rotated or disabled key keeps working for at most this long."
  type        = number
  default     = 300

  validation {
    condition     = var.authorizer_cache_ttl_seconds >= 0 && var.authorizer_cache_ttl_seconds <= 3600
    error_message = "authorizer_cache_ttl_seconds must be from 0 to 3600."
  }
}

variable "api_throttling_burst_limit" {
  description = "Stage-wide API Gateway burst limit (requests)."
  type        = number
  default     = 500

  validation {
    condition     = var.api_throttling_burst_limit >= 0
    error_message = "api_throttling_burst_limit must not be negative."
  }
}

variable "api_throttling_rate_limit" {
  description = "Stage-wide API Gateway steady-state rate limit (requests per second)."
  type        = number
  default     = 1000

  validation {
    condition     = var.api_throttling_rate_limit >= 0
    error_message = "api_throttling_rate_limit must not be negative."
  }
}

variable "api_gateway_account_id" {
  description = "id of the root's aws_api_gateway_account (API Gateway's account-wide CloudWatch Logs role, which stage access logging needs); the stage waits for it. The module never manages that region-wide setting itself: see examples/complete/api_gateway_account.tf, and leave this null where the account already has the setting (aws apigateway get-account shows cloudwatchRoleArn)."
  type        = string
  default     = null
}

variable "custom_domain_name" {
  description = "A custom domain for the API (regional endpoint, TLS 1.2), mapped to the stage at its root; null serves only the execute-api URL. Point DNS at the custom_domain_target output (an alias record)."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.custom_domain_name))
    error_message = "custom_domain_name must be a lower-case DNS name such as api.example.com."
  }
}

variable "custom_domain_certificate_arn" {
  description = "ACM certificate (in the API's region) for custom_domain_name."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/.+$", var.custom_domain_certificate_arn))
    error_message = "custom_domain_certificate_arn must be an ACM certificate ARN."
  }
}

variable "waf_web_acl_arn" {
  description = "A WAFv2 web ACL (REGIONAL scope) to associate with the API stage; null attaches none."
  type        = string
  default     = null

  validation {
    condition     = var.waf_web_acl_arn == null || can(regex("^arn:aws[a-z-]*:wafv2:", var.waf_web_acl_arn))
    error_message = "waf_web_acl_arn must be a WAFv2 web ACL ARN."
  }
}

# ---- events -------------------------------------------------------------------------------------

variable "ingest_batch_size" {
  description = "Messages per ingest invocation."
  type        = number
  default     = 10

  validation {
    condition     = var.ingest_batch_size >= 1 && var.ingest_batch_size <= 10000
    error_message = "ingest_batch_size must be from 1 to 10000."
  }
}

variable "ingest_batching_window_seconds" {
  description = "How long the event source mapping gathers messages before invoking (required above 10 messages per batch)."
  type        = number
  default     = 0

  validation {
    condition     = var.ingest_batching_window_seconds >= 0 && var.ingest_batching_window_seconds <= 300
    error_message = "ingest_batching_window_seconds must be from 0 to 300."
  }
}

variable "ingest_maximum_concurrency" {
  description = "Most concurrent ingest invocations the SQS event source mapping starts (scaling_config.maximum_concurrency); the queue absorbs bursts above it."
  type        = number
  default     = 20

  validation {
    condition     = var.ingest_maximum_concurrency >= 2 && var.ingest_maximum_concurrency <= 1000
    error_message = "ingest_maximum_concurrency must be from 2 to 1000 (the event source mapping's limits)."
  }
}

variable "ingest_queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the ingest queue; null uses 6x the ingest function's timeout plus ingest_batching_window_seconds, the minimum AWS recommends for an event source mapping (and a precondition enforces)."
  type        = number
  default     = null

  validation {
    condition     = var.ingest_queue_visibility_timeout_seconds == null || try(var.ingest_queue_visibility_timeout_seconds >= 0 && var.ingest_queue_visibility_timeout_seconds <= 43200, false)
    error_message = "ingest_queue_visibility_timeout_seconds must be from 0 to 43200."
  }
}

variable "ingest_dlq_visibility_timeout_seconds" {
  description = "Visibility timeout of the ingest DLQ; null uses dlq_retry's timeout (it receives ten messages at once and re-drives them one by one, so a shorter timeout shows messages again mid-run). A precondition refuses less."
  type        = number
  default     = null

  validation {
    condition     = var.ingest_dlq_visibility_timeout_seconds == null || try(var.ingest_dlq_visibility_timeout_seconds >= 0 && var.ingest_dlq_visibility_timeout_seconds <= 43200, false)
    error_message = "ingest_dlq_visibility_timeout_seconds must be from 0 to 43200."
  }
}

variable "ingest_max_receive_count" {
  description = "Deliveries of one ingest message before it moves to the dead-letter queue."
  type        = number
  default     = 5

  validation {
    condition     = var.ingest_max_receive_count >= 1 && var.ingest_max_receive_count <= 1000
    error_message = "ingest_max_receive_count must be from 1 to 1000."
  }
}

variable "dlq_retry_schedule" {
  description = "Schedule expression of the DLQ re-drive function."
  type        = string
  default     = "rate(15 minutes)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.dlq_retry_schedule))
    error_message = "dlq_retry_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "reconcile_schedule" {
  description = "Schedule expression of the reconciliation function."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.reconcile_schedule))
    error_message = "reconcile_schedule must be a rate(...) or cron(...) expression."
  }
}

variable "reconcile_every" {
  description = "Seconds between reconciliation runs (purges, revision pruning, stalled copies): a multiple of 60, at least 60, scheduled as rate(N minutes). null keeps reconcile_schedule."
  type        = number
  default     = null

  validation {
    condition     = var.reconcile_every == null || try(var.reconcile_every >= 60 && var.reconcile_every % 60 == 0, false)
    error_message = "reconcile_every must be at least 60 seconds and a multiple of 60 (EventBridge schedules count in minutes)."
  }
}

# ---- §11 retention: trash, revisions, history ---------------------------------------------------

variable "trash_days" {
  description = "Days a deleted document stays in the trash before reconcile purges it (content, revisions, index entries, record); 0 purges at the next reconcile run."
  type        = number
  default     = 30

  validation {
    condition     = var.trash_days >= 0 && floor(var.trash_days) == var.trash_days
    error_message = "trash_days must be a whole number of days, 0 or more."
  }
}

variable "max_revisions" {
  description = "Revisions of a document kept in any case (the newest ones); older revisions also younger than revision_days are kept too."
  type        = number
  default     = 20

  validation {
    condition     = var.max_revisions >= 1 && floor(var.max_revisions) == var.max_revisions
    error_message = "max_revisions must be a whole number, at least 1 (the current revision)."
  }
}

variable "revision_days" {
  description = "Days a superseded revision is kept in any case; reconcile deletes revisions both older than this and beyond the newest max_revisions."
  type        = number
  default     = 90

  validation {
    condition     = var.revision_days >= 0 && floor(var.revision_days) == var.revision_days
    error_message = "revision_days must be a whole number of days, 0 or more."
  }
}

variable "history_retention_days" {
  description = "Days a document's history entries are kept after its purge (or the expiry or abort of its upload); the history table's TTL removes them."
  type        = number
  default     = 400

  validation {
    condition     = var.history_retention_days >= 1 && floor(var.history_retention_days) == var.history_retention_days
    error_message = "history_retention_days must be a whole number of days, at least 1."
  }
}

# ---- alarms and dashboard -------------------------------------------------------------------------

variable "create_alarms" {
  description = "Create the CloudWatch alarms (queue depth and age, function error rates and throttles, the authorizer's real failures and rejected keys, lost domain events, DynamoDB throttles, the API's 5XX rate)."
  type        = bool
  default     = true
}

variable "create_alarm_topic" {
  description = "Create the SNS topic every alarm notifies (output alarm_topic_arn; subscribe the on-call to it). alarm_actions are notified as well."
  type        = bool
  default     = true
}

variable "alarm_topic_kms_key_arn" {
  description = "Customer managed KMS key for the alarm topic; its key policy must let cloudwatch.amazonaws.com use it (kms:Decrypt, kms:GenerateDataKey*), or CloudWatch cannot publish. null leaves the topic unencrypted (it carries alarm names and states only)."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.alarm_topic_kms_key_arn))
    error_message = "alarm_topic_kms_key_arn must be the ARN of a KMS key."
  }
}

variable "alarm_actions" {
  description = "More SNS topic ARNs notified when an alarm fires and when it recovers (besides the module's own topic)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", arn))])
    error_message = "alarm_actions must be SNS topic ARNs."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard for the stack, named <name_prefix>-<region> (dashboard names are account-wide)."
  type        = bool
  default     = true
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the functions' own metrics (METRICS_NAMESPACE: rejected keys, lost domain events, event counts); null uses KumoCMS/<name_prefix>, so two stacks in one account and region never mix their metrics."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || try(can(regex("^[A-Za-z0-9._/#: -]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/"), false)
    error_message = "metrics_namespace must be 1-255 characters of letters, digits and . _ / # : - or space, and must not start with AWS/."
  }
}

variable "alarm_window_seconds" {
  description = "Window (one alarm period) over which the rate and count alarms are evaluated: the API's 5XX rate, function error rates (scheduled functions: one hour), throttles, rejected keys, lost events."
  type        = number
  default     = 900

  validation {
    condition     = var.alarm_window_seconds >= 60 && var.alarm_window_seconds <= 86400 && var.alarm_window_seconds % 60 == 0
    error_message = "alarm_window_seconds must be a multiple of 60 from 60 to 86400."
  }
}

variable "api_5xx_rate_threshold_percent" {
  description = "Alarm when more than this share (%) of the API's requests in the window answered 5XX."
  type        = number
  default     = 5

  validation {
    condition     = var.api_5xx_rate_threshold_percent >= 0 && var.api_5xx_rate_threshold_percent < 100
    error_message = "api_5xx_rate_threshold_percent must be from 0 to below 100."
  }
}

variable "api_5xx_min_requests" {
  description = "Below this many requests in the window the 5XX rate alarm stays quiet (one 503 of three requests is not an outage)."
  type        = number
  default     = 20

  validation {
    condition     = var.api_5xx_min_requests >= 1
    error_message = "api_5xx_min_requests must be at least 1."
  }
}

variable "function_error_rate_threshold_percent" {
  description = "Alarm when more than this share (%) of an HTTP, authorizer or ingest function's invocations in the window failed (for the authorizer, rejected keys do not count)."
  type        = number
  default     = 5

  validation {
    condition     = var.function_error_rate_threshold_percent >= 0 && var.function_error_rate_threshold_percent < 100
    error_message = "function_error_rate_threshold_percent must be from 0 to below 100."
  }
}

variable "function_error_min_invocations" {
  description = "Below this many invocations in the window a function's error rate alarm stays quiet."
  type        = number
  default     = 10

  validation {
    condition     = var.function_error_min_invocations >= 1
    error_message = "function_error_min_invocations must be at least 1."
  }
}

variable "scheduled_error_rate_threshold_percent" {
  description = "Alarm when more than this share (%) of dlq_retry's or reconcile's invocations in an hour failed. Lambda retries a failed scheduled run twice, so above 50 % means runs fail even after their retries."
  type        = number
  default     = 50

  validation {
    condition     = var.scheduled_error_rate_threshold_percent >= 0 && var.scheduled_error_rate_threshold_percent < 100
    error_message = "scheduled_error_rate_threshold_percent must be from 0 to below 100."
  }
}

variable "function_throttle_threshold" {
  description = "Alarm when more than this many invocations of one function were throttled in the window."
  type        = number
  default     = 0

  validation {
    condition     = var.function_throttle_threshold >= 0
    error_message = "function_throttle_threshold must not be negative."
  }
}

variable "authorizer_rejection_threshold" {
  description = "Alarm when more than this many requests in the window carried a missing, unknown, disabled or revoked key (key guessing, or a client on a rotated key). Single typos and scanners stay below it."
  type        = number
  default     = 500

  validation {
    condition     = var.authorizer_rejection_threshold >= 0
    error_message = "authorizer_rejection_threshold must not be negative."
  }
}

variable "events_not_published_threshold" {
  description = "Alarm when more than this many domain events were lost (EventsNotPublished) in the window; 0: any lost event."
  type        = number
  default     = 0

  validation {
    condition     = var.events_not_published_threshold >= 0
    error_message = "events_not_published_threshold must not be negative."
  }
}

variable "dynamodb_throttle_threshold" {
  description = "Alarm when a table and its indexes saw more than this many read or write throttle events in the window (botocore retries them; a steady stream means a hot partition)."
  type        = number
  default     = 0

  validation {
    condition     = var.dynamodb_throttle_threshold >= 0
    error_message = "dynamodb_throttle_threshold must not be negative."
  }
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message of the ingest queue, its DLQ or the parking queue is older than this."
  type        = number
  default     = 3600

  validation {
    condition     = var.queue_age_alarm_seconds >= 60
    error_message = "queue_age_alarm_seconds must be at least 60."
  }
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}
