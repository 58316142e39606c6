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
  description = "Kept so the reference's terraform.tfvars and export_tf_vars.sh still apply, but no longer used: RDS generates the master password and keeps it in Secrets Manager (output db_secret_arn; salespipe reads it with RDS_SECRET_ID). When given, it must still follow RDS's rules."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.rds_pass == null || (length(coalesce(var.rds_pass, "12345678")) >= 8 && length(coalesce(var.rds_pass, "12345678")) <= 128 && !can(regex("[/'\"@ ]", coalesce(var.rds_pass, "12345678"))))
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

variable "eks_pod_identity" {
  description = "Let EKS Pod Identity hand the ETL role to pods (trust pods.eks.amazonaws.com)."
  type        = bool
  default     = false
}

variable "eks_oidc_provider_arn" {
  description = "ARN of the EKS cluster's IAM OIDC provider, to give the ETL role to a service account through IRSA (null: none)."
  type        = string
  default     = null
}

variable "eks_service_account" {
  description = "NAMESPACE:NAME of the Kubernetes service account IRSA trusts."
  type        = string
  default     = "default:salespipe"
}
