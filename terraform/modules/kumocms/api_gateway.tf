# The REST API: every route of routes.json as a Lambda proxy integration behind the REQUEST
# authorizer, problem+json gateway responses, CORS preflights, access logs and throttling.

locals {
  # Every path prefix of every route ("/documents", "/documents/{id}", ...) is one API resource.
  api_paths = distinct(flatten([
    for route in local.manifest.routes : [
      for depth in range(2, length(split("/", route.path)) + 1) :
      join("/", slice(split("/", route.path), 0, depth))
    ]
  ]))
  api_resources = {
    for path in local.api_paths : path => {
      depth  = length(split("/", path)) - 1
      part   = element(split("/", path), length(split("/", path)) - 1)
      parent = join("/", slice(split("/", path), 0, length(split("/", path)) - 1))
    }
  }
  api_max_depth = 5
  api_resource_ids = merge(
    { for path, resource in aws_api_gateway_resource.level1 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.level2 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.level3 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.level4 : path => resource.id },
    { for path, resource in aws_api_gateway_resource.level5 : path => resource.id },
  )

  # The methods each path serves (its CORS preflight answers with them).
  route_paths = {
    for path in distinct([for route in local.manifest.routes : route.path]) : path => sort(
      [for route in local.manifest.routes : route.method if route.path == path]
    )
  }

  cors_single_origin = local.cors && length(var.cors_allowed_origins) == 1
  cors_any_origin    = contains(var.cors_allowed_origins, "*")
  cors_request_headers = join(",", [
    "Authorization", "Content-Type", "If-Match", "Idempotency-Key",
  ])
  cors_expose_headers = "ETag, Location, Retry-After"

  # The errors API Gateway answers itself, rendered like the functions' problem documents
  # (entrypoints.http.problems.problem_document; tests/infra compares the two, and the local
  # front's answers). A template cannot read the status, so each entry fixes it: every type a
  # client can meet has its own entry, and the DEFAULT_4XX/5XX catch-alls answer 400 and 500.
  gateway_responses = {
    UNAUTHORIZED                   = { status = 401, code = "unauthorized", title = "Unauthorized", detail = "a valid API key is required" }
    ACCESS_DENIED                  = { status = 403, code = "forbidden", title = "Forbidden", detail = "the API key's role cannot do this" }
    WAF_FILTERED                   = { status = 403, code = "forbidden", title = "Forbidden", detail = "the request was refused" }
    MISSING_AUTHENTICATION_TOKEN   = { status = 404, code = "not_found", title = "Not found", detail = "no such route" }
    RESOURCE_NOT_FOUND             = { status = 404, code = "not_found", title = "Not found", detail = "no such route" }
    BAD_REQUEST_BODY               = { status = 400, code = "validation_failed", title = "Invalid request", detail = "the request is malformed" }
    BAD_REQUEST_PARAMETERS         = { status = 400, code = "validation_failed", title = "Invalid request", detail = "the request is malformed" }
    REQUEST_TOO_LARGE              = { status = 413, code = "payload_too_large", title = "Payload too large", detail = "requests carry at most 10 MB; use a presigned upload" }
    UNSUPPORTED_MEDIA_TYPE         = { status = 415, code = "unsupported_media_type", title = "Unsupported media type", detail = "the request body's media type is not supported" }
    THROTTLED                      = { status = 429, code = "too_many_requests", title = "Too many requests", detail = "too many requests; slow down and retry" }
    QUOTA_EXCEEDED                 = { status = 429, code = "too_many_requests", title = "Too many requests", detail = "too many requests; slow down and retry" }
    INTEGRATION_FAILURE            = { status = 502, code = "bad_gateway", title = "Bad gateway", detail = "the function failed" }
    AUTHORIZER_FAILURE             = { status = 503, code = "service_unavailable", title = "Service unavailable", detail = "authorization is unavailable; try again" }
    AUTHORIZER_CONFIGURATION_ERROR = { status = 503, code = "service_unavailable", title = "Service unavailable", detail = "authorization is unavailable; try again" }
    INTEGRATION_TIMEOUT            = { status = 504, code = "gateway_timeout", title = "Gateway timeout", detail = "the function did not answer in time" }
    DEFAULT_4XX                    = { status = 400, code = "bad_request", title = "Invalid request", detail = "the request could not be served" }
    DEFAULT_5XX                    = { status = 500, code = "internal_error", title = "Internal error", detail = "The request could not be completed; it has been logged." }
  }
  # RFC 9110 §11.6.1 / RFC 6750 §3: every 401 names its scheme (the handlers send the same).
  bearer_challenge = "Bearer realm=\"kumocms\""
  gateway_cors_headers = !local.cors ? {} : {
    "gatewayresponse.header.Access-Control-Allow-Origin" = (
      local.cors_any_origin ? "'*'" : (
        local.cors_single_origin ? "'${var.cors_allowed_origins[0]}'" : "method.request.header.Origin"
      )
    )
    "gatewayresponse.header.Access-Control-Expose-Headers" = "'${local.cors_expose_headers}'"
    "gatewayresponse.header.Vary"                          = "'Origin'"
  }
}

resource "aws_api_gateway_rest_api" "this" {
  name        = "${var.name_prefix}-api"
  description = "KumoCMS document API"
  # Only the media types that carry raw bytes (routes.json, from the route table): a body of
  # any other type, JSON included, reaches the function as text. `*/*` would base64-encode JSON
  # uploads too, at 16/9 of the file's size. See
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
  binary_media_types = local.manifest.binary_media_types
  tags               = local.common_tags

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = alltrue([for resource in values(local.api_resources) : resource.depth <= local.api_max_depth])
      error_message = "A route is nested deeper than the module's five resource levels; add aws_api_gateway_resource.level6."
    }
  }
}

resource "aws_api_gateway_resource" "level1" {
  for_each = { for path, resource in local.api_resources : path => resource if resource.depth == 1 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level2" {
  for_each = { for path, resource in local.api_resources : path => resource if resource.depth == 2 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level1[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level3" {
  for_each = { for path, resource in local.api_resources : path => resource if resource.depth == 3 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level2[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level4" {
  for_each = { for path, resource in local.api_resources : path => resource if resource.depth == 4 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level3[each.value.parent].id
  path_part   = each.value.part
}

resource "aws_api_gateway_resource" "level5" {
  for_each = { for path, resource in local.api_resources : path => resource if resource.depth == 5 }

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.level4[each.value.parent].id
  path_part   = each.value.part
}

# ---- the authorizer ---------------------------------------------------------------------------

resource "aws_api_gateway_authorizer" "this" {
  name                             = "${var.name_prefix}-api-key"
  rest_api_id                      = aws_api_gateway_rest_api.this.id
  type                             = "REQUEST"
  authorizer_uri                   = local.function_invoke_arns["authorizer"]
  identity_source                  = "method.request.header.Authorization"
  authorizer_result_ttl_in_seconds = var.authorizer_cache_ttl_seconds
}

resource "aws_lambda_permission" "authorizer" {
  statement_id  = "AllowApiGatewayAuthorizer"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["authorizer"].function_name
  qualifier     = local.function_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this.id}"
}

# ---- routes -----------------------------------------------------------------------------------

resource "aws_api_gateway_method" "route" {
  #checkov:skip=CKV2_AWS_53:Requests are validated by the functions against the same route table the OpenAPI document is built from, with problem+json errors a request validator could not produce.
  for_each = local.routes

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.api_resource_ids[each.value.path]
  http_method   = each.value.method
  authorization = each.value.authorized ? "CUSTOM" : "NONE"
  authorizer_id = each.value.authorized ? aws_api_gateway_authorizer.this.id : null

  request_parameters = {
    for match in regexall("\\{([A-Za-z0-9_]+)\\}", each.value.path) : "method.request.path.${match[0]}" => true
  }
}

resource "aws_api_gateway_integration" "route" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.route[each.key].resource_id
  http_method             = aws_api_gateway_method.route[each.key].http_method
  type                    = "AWS_PROXY"
  integration_http_method = "POST"
  uri                     = local.function_invoke_arns[each.value.function]
  timeout_milliseconds    = 29000
}

resource "aws_lambda_permission" "route" {
  for_each = local.routes

  statement_id  = "AllowApiGateway-${each.value.method}-${trim(replace(each.value.path, "/[^A-Za-z0-9]+/", "-"), "-")}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.value.function].function_name
  qualifier     = local.function_qualifier
  principal     = "apigateway.amazonaws.com"
  source_arn = (
    "${aws_api_gateway_rest_api.this.execution_arn}/*/${each.value.method}${replace(each.value.path, "/\\{[^}]+\\}/", "*")}"
  )
}

# ---- CORS preflight (mock integrations) ---------------------------------------------------------

resource "aws_api_gateway_method" "options" {
  #checkov:skip=CKV2_AWS_53:The mock integration reads no input.
  for_each = local.cors ? local.route_paths : {}

  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = local.api_resource_ids[each.key]
  http_method   = "OPTIONS"
  authorization = "NONE"
}

resource "aws_api_gateway_integration" "options" {
  for_each = aws_api_gateway_method.options

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = each.value.resource_id
  http_method          = each.value.http_method
  type                 = "MOCK"
  passthrough_behavior = "WHEN_NO_MATCH"
  # A preflight that names a binary media type would otherwise skip the mock template.
  content_handling = "CONVERT_TO_TEXT"
  request_templates = {
    "application/json" = jsonencode({ statusCode = 204 })
  }
}

resource "aws_api_gateway_method_response" "options" {
  for_each = aws_api_gateway_method.options

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = each.value.http_method
  status_code = "204"

  response_parameters = {
    "method.response.header.Access-Control-Allow-Origin"  = false
    "method.response.header.Access-Control-Allow-Methods" = true
    "method.response.header.Access-Control-Allow-Headers" = true
    "method.response.header.Access-Control-Max-Age"       = true
    "method.response.header.Vary"                         = true
  }
}

resource "aws_api_gateway_integration_response" "options" {
  for_each = aws_api_gateway_method.options

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = each.value.resource_id
  http_method = each.value.http_method
  status_code = aws_api_gateway_method_response.options[each.key].status_code

  response_parameters = merge(
    {
      "method.response.header.Access-Control-Allow-Methods" = "'${join(",", concat(local.route_paths[each.key], ["OPTIONS"]))}'"
      "method.response.header.Access-Control-Allow-Headers" = "'${local.cors_request_headers}'"
      "method.response.header.Access-Control-Max-Age"       = "'600'"
      "method.response.header.Vary"                         = "'Origin'"
    },
    local.cors_any_origin || local.cors_single_origin ? {
      "method.response.header.Access-Control-Allow-Origin" = "'${local.cors_any_origin ? "*" : var.cors_allowed_origins[0]}'"
    } : {},
  )

  # With several origins the preflight echoes the request's Origin only when it is allowed.
  response_templates = local.cors_any_origin || local.cors_single_origin ? {} : {
    "application/json" = <<-VTL
      #set($origin = $input.params().header.get('Origin'))
      #if("$!origin" == "")#set($origin = $input.params().header.get('origin'))#end
      #if(${jsonencode(var.cors_allowed_origins)}.contains("$!origin"))
      #set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)
      #end
    VTL
  }

  depends_on = [aws_api_gateway_integration.options]
}

# ---- gateway responses: problem+json ------------------------------------------------------------

resource "aws_api_gateway_gateway_response" "problem" {
  for_each = local.gateway_responses

  rest_api_id   = aws_api_gateway_rest_api.this.id
  response_type = each.key
  status_code   = tostring(each.value.status)

  response_templates = {
    for media_type in ["application/json", "application/problem+json"] : media_type => jsonencode({
      type   = "urn:kumocms:problem:${each.value.code}"
      title  = each.value.title
      status = each.value.status
      detail = each.value.detail
      code   = each.value.code
    })
  }

  response_parameters = merge(
    { "gatewayresponse.header.Content-Type" = "'application/problem+json'" },
    each.value.status == 401 ? { "gatewayresponse.header.WWW-Authenticate" = "'${local.bearer_challenge}'" } : {},
    local.gateway_cors_headers,
  )
}

# ---- deployment, stage, access logs ------------------------------------------------------------

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id

  triggers = {
    redeployment = sha1(jsonencode({
      routes       = local.routes
      responses    = local.gateway_responses
      challenge    = local.bearer_challenge
      cors         = var.cors_allowed_origins
      resources    = local.api_resource_ids
      methods      = { for key, method in aws_api_gateway_method.route : key => [method.id, method.authorization, method.authorizer_id] }
      integrations = { for key, integration in aws_api_gateway_integration.route : key => [integration.id, integration.uri] }
      options      = { for key, integration in aws_api_gateway_integration_response.options : key => integration.id }
      gateway      = { for key, response in aws_api_gateway_gateway_response.problem : key => response.id }
      authorizer   = [aws_api_gateway_authorizer.this.id, aws_api_gateway_authorizer.this.authorizer_uri, var.authorizer_cache_ttl_seconds]
    }))
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [
    aws_api_gateway_integration.route,
    aws_api_gateway_integration_response.options,
    aws_api_gateway_gateway_response.problem,
  ]
}

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158:Log groups are encrypted by CloudWatch Logs' own keys; a customer managed key would need a key policy for the logs service principal, which this module does not own.
  #checkov:skip=CKV_AWS_338:Retention is the operator's choice (log_retention_days, 30 days by default); access logs hold no bodies.
  name              = "/aws/apigateway/${var.name_prefix}-access"
  retention_in_days = var.log_retention_days
  tags              = local.common_tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:Responses are per caller (presigned URLs, ETags, role checks); a shared cache would serve one caller's answer to another.
  #checkov:skip=CKV2_AWS_51:Clients authenticate with API keys in the Authorization header; mutual TLS client certificates are not part of the API contract.
  #checkov:skip=CKV_AWS_73:X-Ray tracing is a switch (var.xray_tracing), off by default for cost.
  #checkov:skip=CKV2_AWS_4:Execution logging stays off (method settings): it can record request and response bodies and headers, API keys included; JSON access logs are on instead.
  #checkov:skip=CKV2_AWS_77:A WAF web ACL is optional (var.waf_web_acl_arn) and its rules are the operator's; the service runs no Java, so the Log4j rule set guards nothing here.
  deployment_id        = aws_api_gateway_deployment.this.id
  rest_api_id          = aws_api_gateway_rest_api.this.id
  stage_name           = var.api_stage_name
  xray_tracing_enabled = var.xray_tracing
  tags                 = local.common_tags

  # JSON access logs: who called what, the outcome and latencies; never a body or a header value
  # beyond the user agent (the Authorization header holds the API key).
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      requestTimeEpoch   = "$context.requestTimeEpoch"
      sourceIp           = "$context.identity.sourceIp"
      userAgent          = "$context.identity.userAgent"
      httpMethod         = "$context.httpMethod"
      resourcePath       = "$context.resourcePath"
      path               = "$context.path"
      protocol           = "$context.protocol"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integration.status"
      integrationLatency = "$context.integration.latency"
      principalId        = "$context.authorizer.principalId"
      authorizerStatus   = "$context.authorizer.status"
      authorizerLatency  = "$context.authorizer.latency"
      errorType          = "$context.error.responseType"
      errorMessage       = "$context.error.message"
    })
  }

  depends_on = [terraform_data.api_gateway_account]
}

resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching stays off: responses are per caller (see the stage).
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = "OFF"
    data_trace_enabled     = false
    throttling_burst_limit = var.api_throttling_burst_limit
    throttling_rate_limit  = var.api_throttling_rate_limit
  }
}

# ---- an optional custom domain (regional, with an ACM certificate of the same region) ----------

resource "aws_api_gateway_domain_name" "this" {
  count = var.custom_domain_name == null ? 0 : 1

  domain_name              = var.custom_domain_name
  regional_certificate_arn = var.custom_domain_certificate_arn
  security_policy          = "TLS_1_2"
  tags                     = local.common_tags

  endpoint_configuration {
    types = ["REGIONAL"]
  }

  lifecycle {
    precondition {
      condition     = var.custom_domain_certificate_arn != null
      error_message = "custom_domain_name needs custom_domain_certificate_arn (an ACM certificate in the API's region)."
    }
  }
}

resource "aws_api_gateway_base_path_mapping" "this" {
  count = length(aws_api_gateway_domain_name.this)

  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  domain_name = aws_api_gateway_domain_name.this[0].domain_name
}

resource "aws_wafv2_web_acl_association" "api" {
  count = var.waf_web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.waf_web_acl_arn
}

# ---- the account-wide CloudWatch Logs role -------------------------------------------------------
# Stage access logging needs API Gateway's account setting (one CloudWatch Logs role per account
# and region, shared by every REST API there). A reusable module must not own a region-wide
# setting, so the root does (examples/complete/api_gateway_account.tf) and passes the resource's
# id here: the stage is then created after the setting exists.

resource "terraform_data" "api_gateway_account" {
  input = var.api_gateway_account_id
}
