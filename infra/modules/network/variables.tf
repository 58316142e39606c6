variable "name" {
  description = "Prefix of resource names (project-environment)."
  type        = string
}

variable "allowed_cidr" {
  description = "The CIDR range admitted to PostgreSQL."
  type        = string
}

variable "db_port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432
}
