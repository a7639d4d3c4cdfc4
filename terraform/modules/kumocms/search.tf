# Finding documents (ARCHITECTURE.md §10): operators declare the metadata fields that
# GET /documents can filter on. Every function that writes documents keeps their index
# current (index items in the documents table, written in the document's own transaction);
# a field declared on a table that already holds documents answers 409 until
# `kumocms admin reindex` has indexed them.

variable "indexed_fields" {
  description = "Indexed metadata fields, name => type (string, number, boolean or date), at most 20; names match ^[a-z][a-z0-9_]{0,62}$ (top-level metadata keys). After adding a field to a table with documents, run `kumocms admin reindex`."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.indexed_fields) <= 20
    error_message = "indexed_fields declares at most 20 fields."
  }

  validation {
    condition     = alltrue([for name in keys(var.indexed_fields) : can(regex("^[a-z][a-z0-9_]{0,62}$", name))])
    error_message = "indexed_fields names must match ^[a-z][a-z0-9_]{0,62}$ (top-level metadata keys)."
  }

  validation {
    condition     = alltrue([for kind in values(var.indexed_fields) : contains(["string", "number", "boolean", "date"], kind)])
    error_message = "indexed_fields types are string, number, boolean or date."
  }
}
