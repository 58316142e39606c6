variable "name" {
  description = "Prefix of resource names (project-environment)."
  type        = string
}

variable "bucket_arns" {
  description = "ARNs of the raw and processed buckets."
  type        = list(string)
}

variable "trusted_services" {
  description = "AWS services allowed to assume the ETL role."
  type        = list(string)
  default     = ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]
}

variable "db_user_arn" {
  description = "rds-db:connect resource of the warehouse user: arn:aws:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER."
  type        = string
}

variable "db_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the warehouse credentials (RDS's managed master secret)."
  type        = string
}

variable "eks_pod_identity" {
  description = "Also trust EKS Pod Identity (pods.eks.amazonaws.com)."
  type        = bool
  default     = false
}

variable "eks_oidc_provider_arn" {
  description = "ARN of an EKS cluster's IAM OIDC provider, to trust its service account through IRSA (null: no IRSA)."
  type        = string
  default     = null
}

variable "eks_service_account" {
  description = "The Kubernetes service account (NAMESPACE:NAME) IRSA trusts."
  type        = string
  default     = "default:salespipe"
}
