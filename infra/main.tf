# salespipe on AWS: the two lake buckets (storage), the PostgreSQL warehouse
# on RDS (database) reachable from ALLOWED_CIDR only (network), with its
# master password managed by RDS in Secrets Manager and IAM database
# authentication on, and the role the pipeline runs as (iam): exactly the S3
# calls salespipe makes, rds-db:connect as the warehouse user and
# GetSecretValue on that one secret. No key and no password in a .env.

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project     = var.project_name
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name = "${var.project_name}-${var.environment}"
}

module "network" {
  source       = "./modules/network"
  name         = local.name
  allowed_cidr = var.allowed_cidr
  db_port      = var.rds_port
}

module "storage" {
  source           = "./modules/storage"
  raw_bucket       = var.s3_bucket
  processed_bucket = var.processed_bucket
  force_destroy    = var.force_destroy
}

module "database" {
  source                = "./modules/database"
  name                  = local.name
  subnet_ids            = module.network.subnet_ids
  security_group_id     = module.network.db_security_group_id
  db_name               = var.rds_db
  username              = var.rds_user
  port                  = var.rds_port
  engine_version        = var.db_engine_version
  instance_class        = var.db_instance_class
  allocated_storage     = var.db_allocated_storage
  backup_retention_days = var.db_backup_retention_days
  publicly_accessible   = var.publicly_accessible
  skip_final_snapshot   = var.environment != "prod"
}

data "aws_caller_identity" "current" {}

module "iam" {
  source      = "./modules/iam"
  name        = local.name
  bucket_arns = [module.storage.raw_bucket_arn, module.storage.processed_bucket_arn]
  # rds-db:connect names the instance by its resource id and the user by name.
  db_user_arn           = "arn:aws:rds-db:${var.aws_region}:${data.aws_caller_identity.current.account_id}:dbuser:${module.database.resource_id}/${var.rds_user}"
  db_secret_arn         = module.database.master_user_secret_arn
  eks_pod_identity      = var.eks_pod_identity
  eks_oidc_provider_arn = var.eks_oidc_provider_arn
  eks_service_account   = var.eks_service_account
}
