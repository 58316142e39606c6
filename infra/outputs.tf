# What the pipeline needs after `terraform apply`: RDS_HOST is db_endpoint;
# the bucket names go to S3_BUCKET / PROCESSED_BUCKET; the role or instance
# profile is what salespipe runs as on AWS.

output "db_endpoint" {
  description = "Host name of the RDS instance: the value of RDS_HOST."
  value       = module.database.address
}

output "db_port" {
  description = "Port of the RDS instance: the value of RDS_PORT."
  value       = module.database.port
}

output "db_name" {
  description = "Warehouse database name: the value of RDS_DB."
  value       = module.database.db_name
}

output "database_url" {
  description = "DATABASE_URL without a password: use it with RDS_IAM_AUTH=1 (a token per connection) or RDS_SECRET_ID=db_secret_arn."
  value       = "postgresql://${var.rds_user}@${module.database.address}:${module.database.port}/${module.database.db_name}?sslmode=verify-full"
}

output "raw_bucket" {
  description = "Raw (bronze) bucket name: S3_BUCKET."
  value       = module.storage.raw_bucket_name
}

output "processed_bucket" {
  description = "Processed (silver) bucket name: PROCESSED_BUCKET."
  value       = module.storage.processed_bucket_name
}

output "db_security_group_id" {
  description = "Security group admitting ALLOWED_CIDR to PostgreSQL."
  value       = module.network.db_security_group_id
}

output "etl_role_arn" {
  description = "IAM role salespipe runs as (EC2 instance profile or ECS task role)."
  value       = module.iam.role_arn
}

output "etl_instance_profile" {
  description = "Instance profile of the ETL role, for an EC2 host running salespipe."
  value       = module.iam.instance_profile_name
}

output "etl_policy_arn" {
  description = "The least-privilege S3 policy; attach it to a user or another role if needed."
  value       = module.iam.policy_arn
}

output "db_secret_arn" {
  description = "Secrets Manager secret RDS keeps the master user's name and password in: the value of RDS_SECRET_ID."
  value       = module.database.master_user_secret_arn
}

output "db_iam_user_arn" {
  description = "The rds-db:connect resource the ETL role may use (RDS_IAM_AUTH=1 as RDS_USER; GRANT rds_iam TO that user first)."
  value       = "arn:aws:rds-db:${var.aws_region}:${data.aws_caller_identity.current.account_id}:dbuser:${module.database.resource_id}/${var.rds_user}"
}
