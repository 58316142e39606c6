output "vpc_id" {
  description = "The default VPC."
  value       = data.aws_vpc.default.id
}

output "subnet_ids" {
  description = "Subnets of the default VPC, for the DB subnet group."
  value       = data.aws_subnets.default.ids
}

output "db_security_group_id" {
  description = "Security group admitting allowed_cidr on the PostgreSQL port."
  value       = aws_security_group.db.id
}
