output "role_arn" {
  description = "ARN of the ETL role."
  value       = aws_iam_role.etl.arn
}

output "role_name" {
  description = "Name of the ETL role."
  value       = aws_iam_role.etl.name
}

output "instance_profile_name" {
  description = "Instance profile wrapping the ETL role."
  value       = aws_iam_instance_profile.etl.name
}

output "policy_arn" {
  description = "ARN of the S3 policy."
  value       = aws_iam_policy.s3.arn
}

output "db_policy_arn" {
  description = "ARN of the database policy (rds-db:connect, secretsmanager:GetSecretValue)."
  value       = aws_iam_policy.db.arn
}
