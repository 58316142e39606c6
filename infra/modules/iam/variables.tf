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
