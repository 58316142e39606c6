# iam — the role salespipe runs as on AWS (EC2 instance profile or ECS task
# role) and its one policy: exactly the S3 calls salespipe makes on the two
# buckets. ListObjectsV2 and HeadBucket need s3:ListBucket; GET and HEAD of an
# object s3:GetObject; PUT and every multipart step but the abort
# s3:PutObject; DELETE s3:DeleteObject; aborting and resuming multipart
# uploads s3:AbortMultipartUpload and s3:ListMultipartUploadParts. For the
# warehouse: rds-db:connect as the one database user (RDS IAM authentication)
# and secretsmanager:GetSecretValue on the one secret RDS keeps its master
# password in. Nothing else: no bucket creation, no ACLs, no other bucket or
# secret, no RDS management API. Trusted by EC2 and ECS tasks, and optionally
# by EKS (Pod Identity, or IRSA through the cluster's OIDC provider).

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = var.trusted_services
    }
  }

  # EKS Pod Identity: the pod's credentials come from the container endpoint.
  dynamic "statement" {
    for_each = var.eks_pod_identity ? [1] : []
    content {
      actions = ["sts:AssumeRole", "sts:TagSession"]

      principals {
        type        = "Service"
        identifiers = ["pods.eks.amazonaws.com"]
      }
    }
  }

  # EKS IRSA: the service account's token, through AssumeRoleWithWebIdentity.
  dynamic "statement" {
    for_each = var.eks_oidc_provider_arn == null ? [] : [1]
    content {
      actions = ["sts:AssumeRoleWithWebIdentity"]

      principals {
        type        = "Federated"
        identifiers = [var.eks_oidc_provider_arn]
      }

      condition {
        test     = "StringEquals"
        variable = "${replace(coalesce(var.eks_oidc_provider_arn, "x/x"), "/^[^/]*//", "")}:sub"
        values   = ["system:serviceaccount:${var.eks_service_account}"]
      }
    }
  }
}

resource "aws_iam_role" "etl" {
  name               = "${var.name}-etl"
  description        = "salespipe ETL: read and write the lake buckets"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "s3" {
  statement {
    sid       = "ListLakeBuckets"
    actions   = ["s3:ListBucket"]
    resources = var.bucket_arns
  }

  statement {
    sid = "ReadWriteLakeObjects"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = [for arn in var.bucket_arns : "${arn}/*"]
  }
}

resource "aws_iam_policy" "s3" {
  name        = "${var.name}-etl-s3"
  description = "salespipe: the S3 actions it uses, on its two buckets only"
  policy      = data.aws_iam_policy_document.s3.json
}

resource "aws_iam_role_policy_attachment" "s3" {
  role       = aws_iam_role.etl.name
  policy_arn = aws_iam_policy.s3.arn
}

data "aws_iam_policy_document" "db" {
  statement {
    sid       = "ConnectAsTheWarehouseUser"
    actions   = ["rds-db:connect"]
    resources = [var.db_user_arn]
  }

  statement {
    sid       = "ReadTheMasterUserSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_secret_arn]
  }
}

resource "aws_iam_policy" "db" {
  name        = "${var.name}-etl-db"
  description = "salespipe: connect to the warehouse as its user (IAM auth) and read its secret"
  policy      = data.aws_iam_policy_document.db.json
}

resource "aws_iam_role_policy_attachment" "db" {
  role       = aws_iam_role.etl.name
  policy_arn = aws_iam_policy.db.arn
}

resource "aws_iam_instance_profile" "etl" {
  name = "${var.name}-etl"
  role = aws_iam_role.etl.name
}
