variable "raw_bucket" {
  description = "Name of the raw (bronze) bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.raw_bucket))
    error_message = "raw_bucket: 3-63 characters of a-z, 0-9, . and -."
  }
}

variable "processed_bucket" {
  description = "Name of the processed (silver) bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.processed_bucket))
    error_message = "processed_bucket: 3-63 characters of a-z, 0-9, . and -."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete non-empty buckets."
  type        = bool
  default     = false
}

variable "sse_algorithm" {
  description = "Server-side encryption: AES256 (SSE-S3) or aws:kms (the AWS-managed key)."
  type        = string
  default     = "AES256"

  validation {
    condition     = contains(["AES256", "aws:kms"], var.sse_algorithm)
    error_message = "sse_algorithm must be AES256 or aws:kms."
  }
}

variable "versioning" {
  description = "Keep object versions (overwritten or deleted objects stay recoverable)."
  type        = bool
  default     = true
}

variable "noncurrent_version_days" {
  description = "Delete non-current object versions after this many days (0 keeps them forever)."
  type        = number
  default     = 30
}

variable "abort_incomplete_upload_days" {
  description = "Abort multipart uploads left incomplete for this many days."
  type        = number
  default     = 7
}
