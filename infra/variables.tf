# Inputs of the root module. Their names mirror the reference system's .env
# (PROJECT_NAME -> project_name, …) so that `. ./export_tf_vars.sh` turns
# .env into TF_VAR_* values; see .env.example for what each one means.

variable "aws_region" {
  description = "AWS region for every resource (AWS_REGION, or AWS_DEFAULT_REGION through export_tf_vars.sh)."
  type        = string
  default     = "us-east-1"
}

variable "project_name" {
  description = "Prefix of resource names and the Project tag."
  type        = string
  default     = "salespipe"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project_name))
    error_message = "project_name: 2-31 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, staging, prod); part of resource names and the Environment tag."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment: 1-16 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "allowed_cidr" {
  description = "The one CIDR range admitted to PostgreSQL (5432), e.g. your public IP as a.b.c.d/32."
  type        = string

  validation {
    condition     = can(cidrhost(var.allowed_cidr, 0))
    error_message = "allowed_cidr must be an IPv4 CIDR such as 203.0.113.10/32."
  }
}

variable "s3_bucket" {
  description = "Name of the raw (bronze) bucket; globally unique."
  type        = string
}

variable "processed_bucket" {
  description = "Name of the processed (silver) bucket; globally unique."
  type        = string
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the buckets with their objects (the reference's demo setting). Keep false for data you care about."
  type        = bool
  default     = false
}

variable "rds_db" {
  description = "Name of the warehouse database created on the instance."
  type        = string
  default     = "sales"
}

variable "rds_user" {
  description = "Master user name of the RDS instance."
  type        = string
  default     = "salesuser"
}

variable "rds_pass" {
  description = "Master password of the RDS instance (8-128 characters; not /, ', \", @ or space)."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.rds_pass) >= 8 && length(var.rds_pass) <= 128 && !can(regex("[/'\"@ ]", var.rds_pass))
    error_message = "rds_pass: 8-128 characters, without /, ', \", @ or space (RDS rules)."
  }
}

variable "rds_port" {
  description = "Port PostgreSQL listens on."
  type        = number
  default     = 5432
}

variable "db_instance_class" {
  description = "RDS instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "db_allocated_storage" {
  description = "Allocated storage in GiB."
  type        = number
  default     = 20
}

variable "db_engine_version" {
  description = "PostgreSQL engine version: a major version (15) or major.minor (15.8)."
  type        = string
  default     = "15"
}

variable "db_backup_retention_days" {
  description = "Days of automated backups (0 disables them)."
  type        = number
  default     = 7
}

variable "publicly_accessible" {
  description = "Give the instance a public address (needed to reach it from outside the VPC, as the reference did from a laptop)."
  type        = bool
  default     = false
}
