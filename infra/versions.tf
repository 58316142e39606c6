# Terraform and provider versions for the salespipe infrastructure (infra/).
# State stays local unless you add a backend block here (an S3 bucket of your
# own, created outside this configuration).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}
