# database — the warehouse: RDS PostgreSQL 15 in the default VPC's subnets,
# behind the network module's security group, encrypted at rest, TLS required
# (rds.force_ssl), with automated backups. No password passes through
# Terraform: RDS keeps the master password in Secrets Manager
# (manage_master_user_password; salespipe reads it with RDS_SECRET_ID), and
# IAM database authentication is on (RDS_IAM_AUTH=1: a token per connection).

locals {
  major = split(".", var.engine_version)[0]
}

resource "aws_db_subnet_group" "this" {
  name        = "${var.name}-db"
  description = "Subnets of the default VPC for the salespipe warehouse"
  subnet_ids  = var.subnet_ids
}

resource "aws_db_parameter_group" "this" {
  name        = "${var.name}-postgres${local.major}"
  family      = "postgres${local.major}"
  description = "salespipe warehouse: TLS-only connections"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_db_instance" "this" {
  identifier     = "${var.name}-postgres"
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage = var.allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true

  db_name                             = var.db_name
  username                            = var.username
  manage_master_user_password         = true
  iam_database_authentication_enabled = true
  port                                = var.port

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [var.security_group_id]
  publicly_accessible    = var.publicly_accessible
  parameter_group_name   = aws_db_parameter_group.this.name

  backup_retention_period    = var.backup_retention_days
  copy_tags_to_snapshot      = true
  auto_minor_version_upgrade = true
  deletion_protection        = var.deletion_protection
  skip_final_snapshot        = var.skip_final_snapshot
  final_snapshot_identifier  = var.skip_final_snapshot ? null : "${var.name}-postgres-final"
}
