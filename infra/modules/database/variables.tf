variable "name" {
  description = "Prefix of resource names (project-environment)."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets of the DB subnet group (at least two availability zones)."
  type        = list(string)
}

variable "security_group_id" {
  description = "Security group of the instance (from the network module)."
  type        = string
}

variable "db_name" {
  description = "Database created on the instance."
  type        = string
}

variable "username" {
  description = "Master user name."
  type        = string
}

variable "port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432
}

variable "engine_version" {
  description = "PostgreSQL version: 15 or 15.x."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^15(\\.[0-9]+)?$", var.engine_version))
    error_message = "engine_version: salespipe's warehouse is PostgreSQL 15 (15 or 15.x)."
  }
}

variable "instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "allocated_storage" {
  description = "Allocated storage in GiB (gp3: at least 20)."
  type        = number
  default     = 20
}

variable "backup_retention_days" {
  description = "Days of automated backups (0-35)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_days >= 0 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 0 and 35."
  }
}

variable "publicly_accessible" {
  description = "Give the instance a public address."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Refuse to delete the instance until this is turned off."
  type        = bool
  default     = false
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot."
  type        = bool
  default     = true
}
